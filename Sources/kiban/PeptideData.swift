import Foundation
import KibanTensor

/// One labelled peptide of the demo's CSV.
struct Peptide {
    enum Split: String { case train, val, test }
    let sequence: String
    let label: Int
    let split: Split
}

/// Reads `sequence,label[,split]` CSV files. Without a split column the split is fixed by a hash
/// of the sequence (about 80/10/10), and repeated sequences keep their first row only.
enum PeptideTable {
    struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    static func read(path: String) throws -> [Peptide] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReadError(description: "\(path): cannot read the file")
        }
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { throw ReadError(description: "\(path): empty file") }
        let header = lines.removeFirst().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let sequenceColumn = header.firstIndex(of: "sequence"), let labelColumn = header.firstIndex(of: "label") else {
            throw ReadError(description: "\(path): line 1: the header must name 'sequence' and 'label' columns")
        }
        let splitColumn = header.firstIndex(of: "split")
        var seen = Set<String>()
        var peptides: [Peptide] = []
        for (index, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let lineNumber = index + 2
            guard fields.count == header.count, let label = Int(fields[labelColumn]), label == 0 || label == 1 else {
                throw ReadError(description: "\(path): line \(lineNumber): expected \(header.count) fields with a 0/1 label")
            }
            let sequence = fields[sequenceColumn].uppercased()
            guard !sequence.isEmpty, sequence.allSatisfy({ PeptideFeatures.alphabetIndex[$0] != nil }) else {
                throw ReadError(description: "\(path): line \(lineNumber): '\(sequence)' is not a sequence of the 20 standard amino acids")
            }
            guard seen.insert(sequence).inserted else { continue }
            let split: Peptide.Split
            if let splitColumn {
                guard let named = Peptide.Split(rawValue: fields[splitColumn]) else {
                    throw ReadError(description: "\(path): line \(lineNumber): split '\(fields[splitColumn])' is not train, val or test")
                }
                split = named
            } else {
                split = hashSplit(sequence)
            }
            peptides.append(Peptide(sequence: sequence, label: label, split: split))
        }
        return peptides
    }

    /// FNV-1a of the sequence, bucketed: 0 → test, 1 → val, 2–9 → train.
    static func hashSplit(_ sequence: String) -> Peptide.Split {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sequence.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        switch hash % 10 {
        case 0: return .test
        case 1: return .val
        default: return .train
        }
    }
}

/// Amino-acid (20) and dipeptide (400) composition features of a peptide.
enum PeptideFeatures {
    static let alphabet = Array("ACDEFGHIKLMNPQRSTVWY")
    static let alphabetIndex = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, $0) })
    static let width = 20 + 400

    /// features: (N, 420); labels: (N).
    static func batch(_ peptides: [Peptide]) -> (features: Tensor, labels: IndexTensor) {
        let features = Tensor.zeros([peptides.count, width])
        for (row, peptide) in peptides.enumerated() {
            let residues = peptide.sequence.map { alphabetIndex[$0]! }
            let out = features.pointer + row * width
            for residue in residues { out[residue] += 1 / Float(residues.count) }
            for (first, second) in zip(residues, residues.dropFirst()) {
                out[20 + 20 * first + second] += 1 / Float(max(residues.count - 1, 1))
            }
        }
        return (features, IndexTensor(peptides.map(\.label)))
    }
}
