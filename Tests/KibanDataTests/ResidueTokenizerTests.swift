import Foundation
import KibanData
import KibanTestSupport
import Testing

// ProtBERT-style tokenizers (one vocabulary token per residue) against transformers' BertTokenizer:
// `Tests/Fixtures/protbert_tokenizer.json`, `protbert_tokenizer/` and `protbert_tokenizer_saved/`
// from `Tests/Fixtures/make_inference_fixtures.py`.

/// The parts of `protbert_tokenizer.json` the tests read.
private struct ProtBertReference: Decodable {
    struct Case: Decodable {
        let sequence: String
        let do_lower_case_false: [Int]
        let do_lower_case_true: [Int]
        let do_lower_case_absent: [Int]
        let do_lower_case_false_max_length: [Int]
    }

    let max_length: Int
    let cases: [Case]

    static func load() throws -> ProtBertReference {
        let url = fixtures.appendingPathComponent("protbert_tokenizer.json")
        return try JSONDecoder().decode(ProtBertReference.self, from: Data(contentsOf: url))
    }
}

private let fixtures = TestData.repository.appendingPathComponent("Tests/Fixtures")

/// A new temporary folder holding `files` (name → contents).
private func temporaryFolder(_ files: [String: String]) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, text) in files { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
    return folder
}

private func vocabularyText() throws -> String {
    try String(contentsOf: fixtures.appendingPathComponent("protbert_tokenizer/vocab.txt"), encoding: .utf8)
}

@Suite("ProtBERT-style per-residue tokenizers")
struct ResidueTokenizerTests {
    @Test func matchesBertTokenizerWithoutLowercasing() throws {
        let reference = try ProtBertReference.load()
        #expect(reference.cases.count == 7)
        for folder in ["protbert_tokenizer", "protbert_tokenizer_saved"] {
            let tokenizer = try SequenceTokenizer.load(folder: fixtures.appendingPathComponent(folder))
            guard case .residueWordPiece = tokenizer else {
                Issue.record("\(folder): loaded as \(tokenizer), not residueWordPiece")
                continue
            }
            for item in reference.cases {
                #expect(tokenizer.encode(item.sequence, maxLength: 1000, truncate: false) == item.do_lower_case_false,
                        "\(folder): \(item.sequence)")
                #expect(tokenizer.encode(item.sequence, maxLength: reference.max_length, truncate: true)
                        == item.do_lower_case_false_max_length, "\(folder): \(item.sequence) at max length \(reference.max_length)")
            }
        }
    }

    /// With `do_lower_case` true, or no `tokenizer_config.json` (BertTokenizer's default is true),
    /// the uppercase residues are lowercased into words the vocabulary lacks: `[UNK]`, as in
    /// transformers. `[MASK]` is matched before lower-casing and survives.
    @Test func lowercasingTurnsResiduesIntoUnknownTokensAsTransformersDoes() throws {
        let reference = try ProtBertReference.load()
        let vocabulary = try vocabularyText()
        let lowercasing = try SequenceTokenizer.load(folder: try temporaryFolder([
            "vocab.txt": vocabulary, "tokenizer_config.json": #"{"do_lower_case": true, "model_max_length": 1000000000000000019884624838656}"#,
        ]))
        let absent = try SequenceTokenizer.load(folder: try temporaryFolder(["vocab.txt": vocabulary]))
        for item in reference.cases {
            #expect(lowercasing.encode(item.sequence, maxLength: 1000, truncate: false) == item.do_lower_case_true, "\(item.sequence)")
            #expect(absent.encode(item.sequence, maxLength: 1000, truncate: false) == item.do_lower_case_absent, "\(item.sequence)")
        }
        #expect(reference.cases[0].do_lower_case_true.dropFirst().dropLast().allSatisfy { $0 == 1 })
    }

    @Test func detectsPerResidueVocabularies() throws {
        let protBert = try vocabularyText().split(separator: "\n").map(String.init)
        #expect(SequenceTokenizer.isPerResidue(vocabulary: protBert))
        #expect(SequenceTokenizer.isPerResidue(vocabulary: protBert.map { $0.hasPrefix("[") ? $0 : $0.lowercased() }))
        #expect(!SequenceTokenizer.isPerResidue(vocabulary: protBert.filter { $0 != "W" }))
        #expect(!SequenceTokenizer.isPerResidue(vocabulary: protBert + ["##A"]))
        #expect(!SequenceTokenizer.isPerResidue(vocabulary: protBert + ["the"]))
        #expect(!SequenceTokenizer.isPerResidue(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    }

    @Test func loadsEsmAndOrdinaryBertFolders() throws {
        let esm = try SequenceTokenizer.load(folder: try temporaryFolder([
            "vocab.txt": ProteinAlphabet.tokens.joined(separator: "\n") + "\n",
            "tokenizer_config.json": #"{"tokenizer_class": "EsmTokenizer"}"#,
        ]))
        guard case .protein = esm else {
            Issue.record("ESM-2 vocabulary loaded as \(esm)")
            return
        }
        let words = try SequenceTokenizer.load(folder: try temporaryFolder([
            "vocab.txt": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"].joined(separator: "\n"),
        ]))
        guard case .wordPiece(let tokenizer) = words else {
            Issue.record("word vocabulary loaded as \(words)")
            return
        }
        #expect(words.encode("Hello WORLD", maxLength: 16, truncate: true) == [2, 5, 6, 3])
        #expect(words.wordPieceTokenizer?.id(of: "[MASK]") == tokenizer.id(of: "[MASK]"))
        #expect(SequenceTokenizer.protein.wordPieceTokenizer == nil)
    }

    @Test func keepsBracketedSpecialTokensWhole() throws {
        let tokenizer = try SequenceTokenizer.load(folder: fixtures.appendingPathComponent("protbert_tokenizer"))
        #expect(tokenizer.encode("MK[MASK]T", maxLength: 100, truncate: false) == [2, 21, 12, 4, 15, 3])
        #expect(tokenizer.encode("M K\t[MASK]\nT", maxLength: 100, truncate: false) == [2, 21, 12, 4, 15, 3])
        // "[MAS" is no token, so its characters are separate words, brackets [UNK].
        #expect(tokenizer.encode("M[MAS]", maxLength: 100, truncate: false) == [2, 21, 1, 21, 6, 10, 1, 3])
    }

    @Test func namesTheProblemWithAFolder() throws {
        let empty = try temporaryFolder([:])
        #expect(throws: TokenizerError(file: empty.path, message: "the folder has neither tokenizer.json nor vocab.txt")) {
            try SequenceTokenizer.load(folder: empty)
        }
        let noSeparator = try temporaryFolder(["vocab.txt": "[PAD]\n[UNK]\n[CLS]\nA\n"])
        #expect(throws: TokenizerError(file: noSeparator.appendingPathComponent("vocab.txt").path, message: "the vocabulary lacks [SEP]")) {
            try SequenceTokenizer.load(folder: noSeparator)
        }
        let otherEsm = try temporaryFolder(["vocab.txt": "<cls>\n<pad>\nA\n", "tokenizer_config.json": #"{"tokenizer_class": "EsmTokenizer"}"#])
        #expect(throws: TokenizerError(
            file: otherEsm.appendingPathComponent("vocab.txt").path,
            message: "an EsmTokenizer vocabulary other than ESM-2's 33-token alphabet")) {
            try SequenceTokenizer.load(folder: otherEsm)
        }
        let badConfig = try temporaryFolder(["vocab.txt": try vocabularyText(), "tokenizer_config.json": #"{"do_lower_case": "no"}"#])
        let error = #expect(throws: TokenizerError.self) { try SequenceTokenizer.load(folder: badConfig) }
        #expect(error?.file == badConfig.appendingPathComponent("tokenizer_config.json").path)
    }
}
