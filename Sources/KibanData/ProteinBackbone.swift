import Foundation

/// The backbone of a protein structure read from a PDB file: the N, Cα and C atoms of each residue.
///
/// Only `ATOM` records are read, by the fixed columns of the PDB format (1-based, inclusive):
///
/// | columns | field          | columns | field          |
/// |---------|----------------|---------|----------------|
/// | 1–6     | record name    | 22      | chain          |
/// | 13–16   | atom name      | 23–26   | residue number |
/// | 17      | alternate location | 27  | insertion code |
/// | 18–20   | residue name   | 31–54   | x, y, z (8 columns each) |
///
/// Consecutive records with the same chain, residue number and insertion code form one residue.
/// Of each of N, CA and C the record with a blank alternate location or `A` is kept, otherwise the
/// first one; other atoms are skipped, but their coordinates must still be numbers. Reading stops at
/// the first `ENDMDL`, so a multi-model file (NMR) gives its first model. `HETATM` records are not
/// read, so a modified residue such as selenomethionine (`MSE`) leaves a gap in the chain.
///
/// Residues are grouped by chain, chains in order of first appearance, residues in file order within
/// a chain. A residue that lacks any of N, CA and C is dropped and counted in ``droppedResidueCount``.
///
/// Errors (``DataError``, naming the file and line): a coordinate or residue number that is not a
/// number, an `ATOM` record too short to hold coordinates, and a file with no `ATOM` record at all.
///
/// ```swift
/// let backbone = try ProteinBackbone.read(path: "1crn.pdb")
/// print(backbone.sequence(chain: "A"))  // TTCCPSIVARSNFNVCRLPGTPEAICATYTGCIIIPGATCPGDYAN
/// ```
public struct ProteinBackbone: Sendable {
    /// One residue with all three backbone atoms; coordinates in ångströms.
    public struct Residue: Equatable, Sendable {
        /// The chain identifier (column 22); a space when the file leaves it blank.
        public let chain: Character
        /// The residue sequence number (columns 23–26).
        public let number: Int
        /// The insertion code (column 27), or `nil` when blank.
        public let insertionCode: Character?
        /// The three-letter residue name (`THR`), taken from the kept Cα record.
        public let name: String
        /// The one-letter code of ``name``: one of the 20 standard amino acids, otherwise `X`.
        public let oneLetter: Character
        /// The amide nitrogen N.
        public let n: SIMD3<Double>
        /// The alpha carbon Cα.
        public let ca: SIMD3<Double>
        /// The carbonyl carbon C.
        public let c: SIMD3<Double>
    }

    /// The file the structure came from, as given (or the name passed to ``init(parsing:file:)``).
    public let file: String
    /// Every complete residue, grouped by chain (see the type's documentation for the order).
    public let residues: [Residue]
    /// The number of residues dropped because they lack N, CA or C.
    public let droppedResidueCount: Int

    /// The chain identifiers, in order of first appearance.
    public var chains: [Character] {
        var chains: [Character] = []
        for residue in residues where chains.last != residue.chain { chains.append(residue.chain) }
        return chains
    }

    /// The residues of `chain`, in file order.
    public func residues(chain: Character) -> [Residue] {
        residues.filter { $0.chain == chain }
    }

    /// The one-letter sequence of `chain` (`X` for non-standard residues); empty for an unknown chain.
    public func sequence(chain: Character) -> String {
        String(residues(chain: chain).map(\.oneLetter))
    }

    /// Reads the PDB file at `path`.
    public static func read(path: String) throws -> ProteinBackbone {
        try ProteinBackbone(parsing: readText(path: path), file: path)
    }

    /// Parses PDB text already in memory; `file` names it in errors.
    public init(parsing text: String, file: String = "<pdb>") throws {
        var builder = BackboneBuilder()
        var sawAtom = false
        for (index, line) in byteLines(text).enumerated() {
            let record = PDBLine(bytes: line, file: file, number: index + 1)
            let recordName = record.text(1...6)
            if recordName == "ENDMDL" { break }
            guard recordName == "ATOM" else { continue }
            sawAtom = true
            try builder.add(record)
        }
        guard sawAtom else { throw DataError(file: file, message: "no ATOM records") }
        builder.finishResidue()
        self.file = file
        self.residues = builder.chainOrder.flatMap { builder.residuesByChain[$0] ?? [] }
        self.droppedResidueCount = builder.droppedResidueCount
    }
}

/// The one-letter codes of the 20 standard amino acids, by three-letter name.
private let oneLetterCodes: [String: Character] = [
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
]

/// One line of a PDB file, read by fixed columns.
private struct PDBLine {
    let bytes: ArraySlice<UInt8>
    let file: String
    /// The 1-based line number.
    let number: Int

    /// The bytes of 1-based inclusive `columns`, cut short where the line ends.
    func bytes(_ columns: ClosedRange<Int>) -> ArraySlice<UInt8> {
        let start = min(bytes.startIndex + columns.lowerBound - 1, bytes.endIndex)
        let end = min(bytes.startIndex + columns.upperBound, bytes.endIndex)
        return bytes[start..<end]
    }

    /// The text of `columns` without surrounding spaces.
    func text(_ columns: ClosedRange<Int>) -> String {
        String(decoding: bytes(columns), as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The single character in `column`, or `nil` if it is blank or past the end of the line.
    func character(_ column: Int) -> Character? {
        text(column...column).first
    }

    /// The finite number in `columns`, or a ``DataError`` naming `field`.
    func coordinate(_ columns: ClosedRange<Int>, field: String) throws -> Double {
        let text = text(columns)
        guard let value = Double(text), value.isFinite else {
            throw DataError(
                file: file, line: number,
                message: "ATOM record: \(field) '\(text)' (columns \(columns.lowerBound)–\(columns.upperBound)) "
                    + "is not a number")
        }
        return value
    }
}

/// Collects ATOM records into residues and residues into chains.
private struct BackboneBuilder {
    /// The residue being read: its key and the kept record of each backbone atom.
    struct OpenResidue {
        let chain: Character
        let number: Int
        let insertionCode: Character?
        var atoms: [String: (position: SIMD3<Double>, residueName: String, preferred: Bool)] = [:]
    }

    var open: OpenResidue?
    var residuesByChain: [Character: [ProteinBackbone.Residue]] = [:]
    var chainOrder: [Character] = []
    var droppedResidueCount = 0

    mutating func add(_ record: PDBLine) throws {
        guard record.bytes.count >= 54 else {
            throw DataError(
                file: record.file, line: record.number,
                message: "ATOM record has \(record.bytes.count) characters; coordinates need columns 31–54")
        }
        let numberText = record.text(23...26)
        guard let number = Int(numberText) else {
            throw DataError(
                file: record.file, line: record.number,
                message: "ATOM record: residue number '\(numberText)' (columns 23–26) is not an integer")
        }
        let position = SIMD3(
            try record.coordinate(31...38, field: "x"), try record.coordinate(39...46, field: "y"),
            try record.coordinate(47...54, field: "z"))
        let chain = record.bytes(22...22).first.map { Character(Unicode.Scalar($0)) } ?? " "
        let insertionCode = record.character(27)
        if let open, open.chain != chain || open.number != number || open.insertionCode != insertionCode {
            finishResidue()
        }
        var residue = open ?? OpenResidue(chain: chain, number: number, insertionCode: insertionCode)
        defer { open = residue }

        let atomName = record.text(13...16)
        guard ["N", "CA", "C"].contains(atomName) else { return }
        let altLoc = record.character(17)
        let preferred = altLoc == nil || altLoc == "A"
        if let kept = residue.atoms[atomName], kept.preferred || !preferred { return }
        residue.atoms[atomName] = (position, record.text(18...20), preferred)
    }

    /// Closes the open residue: keeps it if it has N, CA and C, counts it as dropped otherwise.
    mutating func finishResidue() {
        guard let residue = open else { return }
        open = nil
        guard let n = residue.atoms["N"], let ca = residue.atoms["CA"], let c = residue.atoms["C"] else {
            droppedResidueCount += 1
            return
        }
        if residuesByChain[residue.chain] == nil { chainOrder.append(residue.chain) }
        residuesByChain[residue.chain, default: []].append(
            ProteinBackbone.Residue(
                chain: residue.chain, number: residue.number, insertionCode: residue.insertionCode,
                name: ca.residueName, oneLetter: oneLetterCodes[ca.residueName] ?? "X",
                n: n.position, ca: ca.position, c: c.position))
    }
}

/// The text of the file at `path` (invalid UTF-8 replaced), or a ``DataError`` if it cannot be read.
func readText(path: String) throws -> String {
    do {
        return String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    } catch {
        throw DataError(file: path, message: "cannot read the file (\(error.localizedDescription))")
    }
}

/// The lines of `text` as UTF-8 bytes, split at `\n` with a `\r` before it dropped; no empty line is
/// added after a final line break. Line `k` (1-based) is element `k - 1`.
func byteLines(_ text: String) -> [ArraySlice<UInt8>] {
    let bytes = Array(text.utf8)
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if bytes.last == UInt8(ascii: "\n") { lines.removeLast() }
    return lines.map { $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0 }
}
