import Foundation

/// A periodic crystal structure: a lattice and the atoms of one unit cell.
///
/// Read from a VASP 5 POSCAR file with ``readPOSCAR(path:)`` or from a minimal CIF file with
/// ``readCIF(path:)``; see ``init(poscar:file:)`` and ``init(cif:file:)`` for what each accepts.
/// Every error is a ``DataError`` naming the file and the line of the problem.
///
/// ```swift
/// let silicon = try Crystal.readCIF(path: "silicon.cif")
/// print(silicon.formula, silicon.volume)  // Si 160.19...
/// let bonds = silicon.distances(cutoff: 2.5)  // 4 per atom, 2.352 Å
/// ```
public struct Crystal: Equatable, Sendable {
    /// The three lattice vectors a, b, c as rows, in ångströms.
    public let lattice: [SIMD3<Double>]
    /// The element of each atom.
    public let species: [Element]
    /// The position of each atom in units of the lattice vectors: atom `i` is at
    /// `f.x * a + f.y * b + f.z * c` with `f = fractionalCoordinates[i]`. Kept as read, not wrapped into [0, 1).
    public let fractionalCoordinates: [SIMD3<Double>]

    /// The cell volume in Å³.
    public var volume: Double { abs(determinant(lattice)) }

    /// The position of each atom in ångströms.
    public var cartesianCoordinates: [SIMD3<Double>] { fractionalCoordinates.map(cartesian) }

    /// The reduced composition, elements in order of first appearance, a count of 1 not written:
    /// `NaCl` for Na4Cl4, `Si` for Si8, `Fe2O3` for Fe4O6.
    public var formula: String {
        var elements: [Element] = []
        var counts: [Element: Int] = [:]
        for element in species {
            if counts[element] == nil { elements.append(element) }
            counts[element, default: 0] += 1
        }
        let divisor = counts.values.reduce(0, greatestCommonDivisor)
        return elements.map { element in
            let count = counts[element, default: 0] / divisor
            return count == 1 ? element.symbol : "\(element.symbol)\(count)"
        }.joined()
    }

    /// Every pair of atoms closer than `cutoff` ångströms under periodic boundary conditions.
    ///
    /// Pairs are directed, so each appears as `(i, j)` and `(j, i)`; an atom is paired with every
    /// periodic image of a neighbour within the cutoff, its own images included (never with itself
    /// in the same cell). The order is by `i`, then `j`, then image. Images are searched
    /// ⌈cutoff / width⌉ cells each way along each lattice vector, where the width is the distance
    /// between the cell's opposite faces: the 27 neighbouring cells whenever every width is at
    /// least the cutoff, more for a cell much smaller than the cutoff, which stays exact but costs
    /// (2n + 1)³ images. The search is O(atoms²) per image. A cutoff that is not positive and finite
    /// gives no pairs.
    public func distances(cutoff: Double) -> [(i: Int, j: Int, distance: Double)] {
        guard cutoff > 0, cutoff.isFinite else { return [] }
        let reach = (0..<3).map { axis in
            let faceArea = length(cross(lattice[(axis + 1) % 3], lattice[(axis + 2) % 3]))
            return Int((cutoff * faceArea / volume).rounded(.up))
        }
        var images: [SIMD3<Double>] = []
        for a in -reach[0]...reach[0] {
            for b in -reach[1]...reach[1] {
                for c in -reach[2]...reach[2] { images.append(SIMD3(Double(a), Double(b), Double(c))) }
            }
        }
        var pairs: [(i: Int, j: Int, distance: Double)] = []
        for i in species.indices {
            for j in species.indices {
                var offset = fractionalCoordinates[j] - fractionalCoordinates[i]
                // The nearest image first: each component in [-0.5, 0.5].
                offset -= offset.rounded(.toNearestOrAwayFromZero)
                for image in images where i != j || image != .zero {
                    let distance = length(cartesian(offset + image))
                    if distance <= cutoff { pairs.append((i, j, distance)) }
                }
            }
        }
        return pairs
    }

    /// Reads the VASP 5 POSCAR file at `path`.
    public static func readPOSCAR(path: String) throws -> Crystal {
        try Crystal(poscar: readText(path: path), file: path)
    }

    /// Reads the CIF file at `path`.
    public static func readCIF(path: String) throws -> Crystal {
        try Crystal(cif: readText(path: path), file: path)
    }

    /// Creates a crystal from parts the readers have already checked.
    init(lattice: [SIMD3<Double>], species: [Element], fractionalCoordinates: [SIMD3<Double>]) {
        self.lattice = lattice
        self.species = species
        self.fractionalCoordinates = fractionalCoordinates
    }

    /// The position in ångströms of the fractional position `fractional`.
    private func cartesian(_ fractional: SIMD3<Double>) -> SIMD3<Double> {
        fractional.x * lattice[0] + fractional.y * lattice[1] + fractional.z * lattice[2]
    }
}

// MARK: - POSCAR

extension Crystal {
    /// Parses VASP 5 POSCAR text; `file` names it in errors.
    ///
    /// The lines are: a comment; the scale factor (a negative value is the target cell volume in Å³);
    /// three lattice vectors; the element symbols (a POTCAR suffix such as `Fe_pv` is dropped); the
    /// number of atoms of each element; optionally `Selective dynamics`; `Direct` or `Cartesian`
    /// (only the first letter counts, `K` also means Cartesian); then one position per atom. Only the
    /// first three numbers of a lattice or position line are read (selective-dynamics flags and
    /// comments may follow), and anything after the positions (velocities) is ignored. Cartesian
    /// positions are scaled like the lattice and converted to fractional ones.
    ///
    /// Errors: a value that is not a number, fewer than three numbers on a lattice or position line,
    /// an unknown element, counts that do not match the symbols or add up to more atoms than the
    /// file has lines, an unknown coordinate mode, a
    /// degenerate lattice, and a file that ends early. VASP 4 files (no symbols line) are rejected.
    public init(poscar text: String, file: String = "<poscar>") throws {
        var lines = POSCARLines(lines: byteLines(text).map { String(decoding: $0, as: UTF8.self) }, file: file)
        _ = try lines.next("the comment line")
        let scaleLine = try lines.next("the scale factor")
        let scale = try lines.numbers(scaleLine, count: 1, what: "the scale factor")[0]
        guard scale != 0 else { throw DataError(file: file, line: scaleLine.number, message: "the scale factor is 0") }
        var lattice: [SIMD3<Double>] = []
        for index in 1...3 {
            let line = try lines.next("lattice vector \(index)")
            lattice.append(try lines.vector(line, what: "lattice vector \(index)"))
        }
        let factor = scale > 0 ? scale : cbrt(-scale / abs(determinant(lattice)))
        lattice = lattice.map { $0 * factor }
        try checkLattice(lattice, file: file, line: scaleLine.number + 1)

        let symbolLine = try lines.next("the element symbols")
        let elements = try symbolLine.tokens.map { token in
            if Double(token) != nil {
                throw DataError(
                    file: file, line: symbolLine.number,
                    message: "expected element symbols (VASP 5 POSCAR), found numbers; VASP 4 files are not supported")
            }
            let symbol = String(token.prefix { $0 != "_" && $0 != "/" })
            guard let element = Element(symbol: symbol) else {
                throw DataError(file: file, line: symbolLine.number, message: "unknown element '\(token)'")
            }
            return element
        }
        guard !elements.isEmpty else {
            throw DataError(file: file, line: symbolLine.number, message: "expected element symbols, found none")
        }
        let countLine = try lines.next("the atom counts")
        guard countLine.tokens.count == elements.count else {
            throw DataError(
                file: file, line: countLine.number,
                message: "\(countLine.tokens.count) atom counts for \(elements.count) element symbols")
        }
        let counts = try countLine.tokens.map { token in
            guard let count = Int(token), count > 0 else {
                throw DataError(
                    file: file, line: countLine.number, message: "atom count '\(token)' is not a positive integer")
            }
            return count
        }
        guard counts.allSatisfy({ $0 <= lines.remaining }), counts.reduce(0, +) <= lines.remaining else {
            throw DataError(
                file: file, line: countLine.number,
                message: "the atom counts add up to more atoms than the \(lines.remaining) lines that follow")
        }
        let species = zip(elements, counts).flatMap { Array(repeating: $0, count: $1) }

        var modeLine = try lines.next("the coordinate mode")
        if modeLine.tokens.first?.first.map({ "Ss".contains($0) }) == true {
            modeLine = try lines.next("the coordinate mode")
        }
        let mode = modeLine.tokens.first?.first ?? " "
        guard "DdCcKk".contains(mode) else {
            throw DataError(
                file: file, line: modeLine.number,
                message: "expected 'Direct' or 'Cartesian', found '\(modeLine.tokens.joined(separator: " "))'")
        }
        var positions: [SIMD3<Double>] = []
        for index in 1...species.count {
            let what = "the position of atom \(index) of \(species.count)"
            positions.append(try lines.vector(try lines.next(what), what: what))
        }
        if "Dd".contains(mode) {
            self.init(lattice: lattice, species: species, fractionalCoordinates: positions)
        } else {
            let inverse = inverseColumns(lattice)
            self.init(
                lattice: lattice, species: species,
                fractionalCoordinates: positions.map { position in
                    let scaled = position * factor
                    return SIMD3(dot(scaled, inverse[0]), dot(scaled, inverse[1]), dot(scaled, inverse[2]))
                })
        }
    }
}

/// The lines of a POSCAR file, taken one at a time.
private struct POSCARLines {
    let lines: [String]
    let file: String
    var index = 0

    /// The number of lines not yet taken.
    var remaining: Int { lines.count - index }

    /// The next line's whitespace-separated tokens and 1-based number; `what` names it if the file ends.
    mutating func next(_ what: String) throws -> (tokens: [String], number: Int) {
        guard index < lines.count else {
            throw DataError(file: file, line: index + 1, message: "the file ends before \(what)")
        }
        index += 1
        let tokens = lines[index - 1].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        return (tokens, index)
    }

    /// The first `count` tokens of `line` as finite numbers.
    func numbers(_ line: (tokens: [String], number: Int), count: Int, what: String) throws -> [Double] {
        guard line.tokens.count >= count else {
            throw DataError(
                file: file, line: line.number,
                message: "\(what): expected \(count) numbers, found \(line.tokens.count)")
        }
        return try line.tokens.prefix(count).map { token in
            guard let value = Double(token), value.isFinite else {
                throw DataError(file: file, line: line.number, message: "\(what): '\(token)' is not a number")
            }
            return value
        }
    }

    /// The first three tokens of `line` as a vector.
    func vector(_ line: (tokens: [String], number: Int), what: String) throws -> SIMD3<Double> {
        let values = try numbers(line, count: 3, what: what)
        return SIMD3(values[0], values[1], values[2])
    }
}

// MARK: - CIF

extension Crystal {
    /// Parses minimal CIF text; `file` names it in errors.
    ///
    /// Read from the first data block: the cell parameters `_cell_length_a`, `_b`, `_c` (Å) and
    /// `_cell_angle_alpha`, `_beta`, `_gamma` (degrees), each possibly with an uncertainty
    /// (`5.431(2)`), and the `_atom_site_` loop with `_atom_site_fract_x`, `_y`, `_z` and either
    /// `_atom_site_type_symbol` (`Si`, `O2-`) or `_atom_site_label` (`Si1`, `Ow3`), from which the
    /// element is the leading one or two letters (`Ow` is not an element, so it reads as O). The
    /// mmCIF spelling with a dot (`_cell.length_a`) is read too. Occupancies are ignored. The
    /// lattice has a along x and b in the xy plane.
    ///
    /// Symmetry operations are not applied: the loop must list every atom of the cell, as in space
    /// group P1. A `_symmetry_equiv_pos_as_xyz` or `_space_group_symop_operation_xyz` entry other
    /// than the identity `x,y,z` is an error.
    ///
    /// Errors: a missing cell parameter (named by the data block's line), a value that is not a
    /// number, an unknown element, a loop whose value count is not a multiple of its tag count, an
    /// atom-site loop without fractional coordinates or element column, a symmetry operation other
    /// than the identity, an unterminated quote or text field, and a degenerate lattice.
    public init(cif text: String, file: String = "<cif>") throws {
        let block = try CIFBlock(tokens: try cifTokens(text, file: file), file: file)
        let cell = try [
            "_cell_length_a", "_cell_length_b", "_cell_length_c",
            "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma",
        ].map { tag in
            guard let token = block.values[tag] else {
                throw DataError(file: file, line: block.line, message: "missing \(tag)")
            }
            let limit = tag.hasPrefix("_cell_angle") ? 180.0 : .infinity
            guard let value = cifNumber(token.text), value > 0, value < limit else {
                throw DataError(file: file, line: token.line, message: "\(tag) '\(token.text)' is not a valid value")
            }
            return (value: value, line: token.line)
        }
        let lattice = try latticeFromCell(cell.map(\.value), file: file, line: cell[3].line)
        try block.checkOnlyIdentitySymmetry()

        guard let sites = block.loops.first(where: { $0.tags.contains("_atom_site_fract_x") }) else {
            throw DataError(file: file, line: block.line, message: "no _atom_site_ loop with _atom_site_fract_x")
        }
        let coordinateColumns = try ["_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"].map { tag in
            guard let column = sites.tags.firstIndex(of: tag) else {
                throw DataError(file: file, line: sites.line, message: "the _atom_site_ loop has no \(tag)")
            }
            return column
        }
        guard let symbolColumn = sites.tags.firstIndex(of: "_atom_site_type_symbol")
            ?? sites.tags.firstIndex(of: "_atom_site_label")
        else {
            throw DataError(
                file: file, line: sites.line,
                message: "the _atom_site_ loop has neither _atom_site_type_symbol nor _atom_site_label")
        }
        guard !sites.rows.isEmpty else {
            throw DataError(file: file, line: sites.line, message: "the _atom_site_ loop lists no atoms")
        }
        var species: [Element] = []
        var positions: [SIMD3<Double>] = []
        for row in sites.rows {
            let symbol = row[symbolColumn]
            guard let element = elementFromLabel(symbol.text) else {
                throw DataError(file: file, line: symbol.line, message: "unknown element '\(symbol.text)'")
            }
            let coordinates = try coordinateColumns.map { column in
                guard let value = cifNumber(row[column].text) else {
                    throw DataError(
                        file: file, line: row[column].line,
                        message: "\(sites.tags[column]) '\(row[column].text)' is not a number")
                }
                return value
            }
            species.append(element)
            positions.append(SIMD3(coordinates[0], coordinates[1], coordinates[2]))
        }
        self.init(lattice: lattice, species: species, fractionalCoordinates: positions)
    }
}

/// One value of a CIF file with the line it is on.
private struct CIFToken {
    let text: String
    let line: Int
    /// Whether the value was quoted or a text field, so that it cannot be a tag or keyword.
    let isQuoted: Bool

    /// Whether this token is an unquoted tag (`_cell_length_a`) or keyword (`loop_`, `data_x`).
    var isTagOrKeyword: Bool {
        guard !isQuoted else { return false }
        let lower = text.lowercased()
        return lower.hasPrefix("_") || lower == "loop_" || lower.hasPrefix("data_") || lower.hasPrefix("save_")
            || lower == "global_" || lower == "stop_"
    }
}

/// The values of `text`, a CIF file: comments dropped, quotes and `;` text fields resolved.
private func cifTokens(_ text: String, file: String) throws -> [CIFToken] {
    let lines = byteLines(text).map { Array(String(decoding: $0, as: UTF8.self).unicodeScalars) }
    var tokens: [CIFToken] = []
    var lineIndex = 0
    while lineIndex < lines.count {
        let line = lines[lineIndex]
        let number = lineIndex + 1
        lineIndex += 1
        if line.first == ";" {  // a text field runs to the next line that starts with ';'
            var field = [String(String.UnicodeScalarView(line.dropFirst()))]
            while lineIndex < lines.count, lines[lineIndex].first != ";" {
                field.append(String(String.UnicodeScalarView(lines[lineIndex])))
                lineIndex += 1
            }
            guard lineIndex < lines.count else {
                throw DataError(file: file, line: number, message: "text field starting with ';' is not closed")
            }
            lineIndex += 1
            tokens.append(CIFToken(text: field.joined(separator: "\n"), line: number, isQuoted: true))
            continue
        }
        var start = 0
        while start < line.count {
            let character = line[start]
            if character == " " || character == "\t" {
                start += 1
            } else if character == "#" {
                break
            } else if character == "'" || character == "\"" {  // closed by the quote before a blank or the end
                var end = start + 1
                while end < line.count, !(line[end] == character && (end + 1 == line.count || line[end + 1] == " "
                    || line[end + 1] == "\t")) { end += 1 }
                guard end < line.count else {
                    throw DataError(file: file, line: number, message: "quoted value is not closed")
                }
                let value = String(String.UnicodeScalarView(line[(start + 1)..<end]))
                tokens.append(CIFToken(text: value, line: number, isQuoted: true))
                start = end + 1
            } else {
                var end = start
                while end < line.count, line[end] != " ", line[end] != "\t" { end += 1 }
                let value = String(String.UnicodeScalarView(line[start..<end]))
                tokens.append(CIFToken(text: value, line: number, isQuoted: false))
                start = end
            }
        }
    }
    return tokens
}

/// A `loop_` of a CIF file: its tags (lower case, dots as underscores) and its rows of values.
private struct CIFLoop {
    let tags: [String]
    let rows: [[CIFToken]]
    /// The line of the `loop_` keyword.
    let line: Int
}

/// The tags and loops of the first data block of a CIF file.
private struct CIFBlock {
    let file: String
    /// The line of the `data_` header, or 1 if there is none.
    private(set) var line = 1
    /// Each single tag's value, by tag in lower case with dots as underscores (`_cell_length_a`).
    private(set) var values: [String: CIFToken] = [:]
    private(set) var loops: [CIFLoop] = []

    init(tokens: [CIFToken], file: String) throws {
        self.file = file
        var index = 0
        var sawBlock = false
        while index < tokens.count {
            let token = tokens[index]
            let lower = token.text.lowercased()
            index += 1
            if !token.isQuoted, lower.hasPrefix("data_") {
                if sawBlock { break }
                sawBlock = true
                line = token.line
            } else if !token.isQuoted, lower == "loop_" {
                var tags: [String] = []
                while index < tokens.count, !tokens[index].isQuoted, tokens[index].text.hasPrefix("_") {
                    tags.append(Self.tagName(tokens[index].text))
                    index += 1
                }
                var loopValues: [CIFToken] = []
                while index < tokens.count, !tokens[index].isTagOrKeyword {
                    loopValues.append(tokens[index])
                    index += 1
                }
                guard !tags.isEmpty, loopValues.count % tags.count == 0 else {
                    throw DataError(
                        file: file, line: token.line,
                        message: "loop_ with \(tags.count) tags has \(loopValues.count) values, not a multiple")
                }
                let rows = stride(from: 0, to: loopValues.count, by: tags.count).map {
                    Array(loopValues[$0..<($0 + tags.count)])
                }
                loops.append(CIFLoop(tags: tags, rows: rows, line: token.line))
            } else if token.isTagOrKeyword, lower.hasPrefix("_") {
                guard index < tokens.count, !tokens[index].isTagOrKeyword else {
                    throw DataError(file: file, line: token.line, message: "\(token.text) has no value")
                }
                values[Self.tagName(token.text)] = tokens[index]
                index += 1
            } else {
                throw DataError(file: file, line: token.line, message: "unexpected '\(token.text)' outside a loop")
            }
        }
    }

    /// Throws if a symmetry operation (single or in a loop) is anything but `x,y,z`.
    func checkOnlyIdentitySymmetry() throws {
        let tags = ["_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz"]
        let operations = tags.compactMap { values[$0] } + loops.flatMap { loop in
            tags.compactMap { loop.tags.firstIndex(of: $0) }.flatMap { column in loop.rows.map { $0[column] } }
        }
        for operation in operations {
            let parts = operation.text.lowercased().filter { !$0.isWhitespace }.split(separator: ",")
            guard parts.map({ $0.hasPrefix("+") ? $0.dropFirst() : $0 }) != ["x", "y", "z"] else { continue }
            throw DataError(
                file: file, line: operation.line,
                message: "symmetry operation '\(operation.text)' is not the identity; symmetry is not applied, "
                    + "so list every atom of the cell (P1)")
        }
    }

    private static func tagName(_ text: String) -> String {
        text.lowercased().replacingOccurrences(of: ".", with: "_")
    }
}

/// A CIF number without its uncertainty (`5.431(2)` → 5.431); `nil` for `?`, `.` or anything else.
private func cifNumber(_ text: String) -> Double? {
    let digits = text.firstIndex(of: "(").map { text[..<$0] } ?? Substring(text)
    guard let value = Double(digits), value.isFinite else { return nil }
    return value
}

/// The element named by the leading letters of a CIF symbol or label: two letters if they form a
/// symbol (`Si1`, `SI`, `Fe3+`), else the first (`Ow1` → O); `nil` if neither is an element.
private func elementFromLabel(_ label: String) -> Element? {
    let letters = label.prefix { $0.isASCII && $0.isLetter }.prefix(2)
    guard let first = letters.first else { return nil }
    if letters.count == 2, let element = Element(symbol: first.uppercased() + letters.dropFirst().lowercased()) {
        return element
    }
    return Element(symbol: first.uppercased())
}

/// The lattice of cell parameters (a, b, c in Å, then α, β, γ in degrees): a along x, b in the xy plane.
private func latticeFromCell(_ cell: [Double], file: String, line: Int) throws -> [SIMD3<Double>] {
    let (a, b, c) = (cell[0], cell[1], cell[2])
    let (cosAlpha, cosBeta, cosGamma) = (cosine(degrees: cell[3]), cosine(degrees: cell[4]), cosine(degrees: cell[5]))
    let sinGamma = sin(cell[5] * .pi / 180)
    let cy = (cosAlpha - cosBeta * cosGamma) / sinGamma
    let czSquared = 1 - cosBeta * cosBeta - cy * cy
    guard czSquared > 0 else {
        throw DataError(file: file, line: line, message: "the cell angles do not form a cell (degenerate lattice)")
    }
    let lattice = [
        SIMD3(a, 0, 0),
        SIMD3(b * cosGamma, b * sinGamma, 0),
        SIMD3(c * cosBeta, c * cy, c * czSquared.squareRoot()),
    ]
    try checkLattice(lattice, file: file, line: line)
    return lattice
}

/// The cosine of an angle in degrees, exactly 0 at 90° so that right angles give exact zeros.
private func cosine(degrees: Double) -> Double {
    degrees == 90 ? 0 : cos(degrees * .pi / 180)
}

// MARK: - Vector helpers

/// Throws if `lattice` spans (almost) no volume: |a·(b×c)| ≤ 1e-6 |a||b||c|, or a non-finite value.
private func checkLattice(_ lattice: [SIMD3<Double>], file: String, line: Int) throws {
    let volume = abs(determinant(lattice))
    let scale = length(lattice[0]) * length(lattice[1]) * length(lattice[2])
    guard volume.isFinite, scale.isFinite, volume > 1e-6 * scale else {
        throw DataError(
            file: file, line: line,
            message: "degenerate lattice: the vectors span a volume of \(volume) Å³")
    }
}

/// The columns of the inverse of the matrix whose rows are `lattice`, such that fractional
/// coordinate `k` of a Cartesian position `r` is `dot(r, columns[k])`.
private func inverseColumns(_ lattice: [SIMD3<Double>]) -> [SIMD3<Double>] {
    let det = determinant(lattice)
    return [
        cross(lattice[1], lattice[2]) / det, cross(lattice[2], lattice[0]) / det, cross(lattice[0], lattice[1]) / det,
    ]
}

/// The signed volume a·(b×c) of three row vectors.
private func determinant(_ rows: [SIMD3<Double>]) -> Double {
    dot(rows[0], cross(rows[1], rows[2]))
}

private func dot(_ u: SIMD3<Double>, _ v: SIMD3<Double>) -> Double { (u * v).sum() }

private func length(_ v: SIMD3<Double>) -> Double { dot(v, v).squareRoot() }

private func cross(_ u: SIMD3<Double>, _ v: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(u.y * v.z - u.z * v.y, u.z * v.x - u.x * v.z, u.x * v.y - u.y * v.x)
}

private func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
    b == 0 ? a : greatestCommonDivisor(b, a % b)
}
