import Foundation
import KibanData
import KibanTestSupport
import Testing

// Tests of the BERT WordPiece tokenizer: its rules on a hand-made vocabulary, its errors, and
// exact agreement with Hugging Face's token ids for all-MiniLM-L6-v2 on the inputs of
// `Tests/Fixtures/minilm_reference.json` (written by `Tests/Fixtures/make_minilm_reference.py`).

/// A tiny vocabulary; a token's id is its position.
private let tinyVocabulary = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  // 0–4
    "un", "##aff", "##able", "##a", "##af",  // 5–9
    "run", "##ning", "##n", "hello", "world",  // 10–14
    ",", "!", "$", "—", "¿",  // 15–19
    "中", "文", "a", "b", "cafe",  // 20–24
    "naive", "café", "is", ".",  // 25–28
]

private let tiny = WordPieceTokenizer(vocabulary: tinyVocabulary)

/// Writes `text` to a new temporary file named `name` and returns its URL.
private func temporaryFile(_ text: String, name: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url
}

/// The error `body` throws, or nil (with a recorded issue) when it throws none or another type.
private func tokenizerError(_ body: () throws -> Void) -> TokenizerError? {
    do {
        try body()
        Issue.record("expected a TokenizerError")
    } catch let error as TokenizerError {
        return error
    } catch {
        Issue.record("expected a TokenizerError, got \(error)")
    }
    return nil
}

@Suite("WordPiece rules on a tiny vocabulary")
struct WordPieceRuleTests {
    @Test func longestMatchFirst() {
        // "##a" and "##af" also match after "un"; the longest, "##aff", wins.
        #expect(tiny.tokenize("unaffable") == ["un", "##aff", "##able"])
    }

    @Test func continuationPiecesUseTheSubwordPrefix() {
        #expect(tiny.tokenize("running") == ["run", "##ning"])
        #expect(tiny.encode("running") == [2, 10, 11, 3])
    }

    @Test func aWordWithAnUnmatchedPartIsUnknownAsAWhole() {
        #expect(tiny.tokenize("unx") == ["[UNK]"])
        #expect(tiny.tokenize("hello xyz world") == ["hello", "[UNK]", "world"])
    }

    @Test func wordsOverOneHundredScalarsAreUnknown() {
        let hundred = tiny.tokenize(String(repeating: "a", count: 100))
        #expect(hundred == ["a"] + Array(repeating: "##a", count: 99))
        #expect(tiny.tokenize(String(repeating: "a", count: 101)) == ["[UNK]"])
    }

    @Test func punctuationIsSplitOff() {
        #expect(tiny.tokenize("hello,world!") == ["hello", ",", "world", "!"])
        #expect(tiny.tokenize("$hello") == ["$", "hello"])  // ASCII symbols count as punctuation
        #expect(tiny.tokenize("¿hello—world") == ["¿", "hello", "—", "world"])
    }

    @Test func chineseCharactersAreSeparateWords() {
        #expect(tiny.tokenize("中文") == ["中", "文"])
        #expect(tiny.tokenize("a中b") == ["a", "中", "b"])
    }

    @Test func accentsAreStrippedAndCaseFolded() {
        #expect(tiny.tokenize("Café NAÏVE") == ["cafe", "naive"])
        #expect(tiny.tokenize("Cafe\u{301}") == ["cafe"])  // already decomposed
    }

    @Test func keepingAccentsComparesCodePoints() {
        let accented = WordPieceTokenizer(vocabulary: tinyVocabulary, lowercase: true, stripAccents: false)
        #expect(accented.tokenize("Café") == ["café"])
        // "e" + U+0301 is canonically equivalent to "é", but BERT compares code points.
        #expect(accented.tokenize("Cafe\u{301}") == ["[UNK]"])
        #expect(accented.id(of: "café") == 26)
        #expect(accented.id(of: "cafe\u{301}") == nil)
    }

    @Test func controlCharactersAreDroppedAndWhitespaceSplits() {
        #expect(tiny.tokenize("hel\u{200B}l\u{0}o\tworld\u{00A0}!\r\n") == ["hello", "world", "!"])
        #expect(tiny.tokenize(" \t\n ").isEmpty)
    }

    @Test func specialTokensInTheTextStayWhole() {
        #expect(tiny.tokenize("hello [MASK].") == ["hello", "[MASK]", "."])
        #expect(tiny.encode("is[MASK]") == [2, 27, 4, 3])
    }

    @Test func truncationKeepsClassifierAndSeparator() {
        #expect(tiny.encode("hello world hello world", maxLength: 4) == [2, 13, 14, 3])
        #expect(tiny.encode("hello world", maxLength: 2) == [2, 3])
        #expect(tiny.encode("") == [2, 3])
        #expect(tiny.encode("hello world", maxLength: 10) == [2, 13, 14, 3])
    }

    @Test func idsAndVocabularySize() {
        #expect(tiny.vocabularySize == tinyVocabulary.count)
        #expect(tiny.id(of: "##aff") == 6)
        #expect(tiny.id(of: "[SEP]") == 3)
        #expect(tiny.id(of: "zzz") == nil)
    }
}

@Suite("WordPiece files and errors")
struct WordPieceFileTests {
    @Test func vocabularyFileWithWindowsLineEnds() throws {
        let file = try temporaryFile(tinyVocabulary.joined(separator: "\r\n") + "\r\n", name: "vocab.txt")
        let loaded = try WordPieceTokenizer.load(vocabularyFile: file)
        #expect(loaded.vocabularySize == tinyVocabulary.count)
        #expect(loaded.encode("Unaffable, running!") == tiny.encode("Unaffable, running!"))
    }

    @Test func vocabularyFileWithoutClassifierToken() throws {
        let file = try temporaryFile("[PAD]\n[UNK]\n[SEP]\nhello\n", name: "vocab.txt")
        let error = tokenizerError { _ = try WordPieceTokenizer.load(vocabularyFile: file) }
        #expect(error?.file == file.path)
        #expect(error?.description.contains("[CLS]") == true)
    }

    @Test func malformedTokenizerJSON() throws {
        let file = try temporaryFile("{\"model\": {\"vocab\": [1, 2", name: "tokenizer.json")
        let error = tokenizerError { _ = try WordPieceTokenizer(tokenizerJSON: file) }
        #expect(error?.description.hasPrefix(file.path) == true)
        #expect(error?.message.contains("malformed") == true)
    }

    @Test func tokenizerJSONWithoutVocabulary() throws {
        let json = #"{"model": {"type": "WordPiece"}, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#
        let file = try temporaryFile(json, name: "tokenizer.json")
        let error = tokenizerError { _ = try WordPieceTokenizer(tokenizerJSON: file) }
        #expect(error?.message.contains("missing vocabulary") == true)
    }

    @Test func tokenizerJSONWithoutSeparator() throws {
        let json = """
            {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "hello": 2}},
             "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"}}
            """
        let file = try temporaryFile(json, name: "tokenizer.json")
        let error = tokenizerError { _ = try WordPieceTokenizer(tokenizerJSON: file) }
        #expect(error?.file == file.path)
        #expect(error?.message.contains("[SEP]") == true)
    }

    @Test func missingFileIsATokenizerError() {
        let file = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        let error = tokenizerError { _ = try WordPieceTokenizer(tokenizerJSON: file) }
        #expect(error?.file == file.path)
    }
}

/// The parts of `minilm_reference.json` that the tokenizer test reads.
private struct MiniLMReference: Decodable {
    struct Input: Decodable {
        let text: String
        let inputIDs: [Int]

        enum CodingKeys: String, CodingKey {
            case text
            case inputIDs = "input_ids"
        }
    }

    let inputs: [Input]
}

@Suite("WordPiece against Hugging Face (all-MiniLM-L6-v2)")
struct WordPieceReferenceTests {
    private let reference: MiniLMReference

    init() throws {
        let file = TestData.repository.appendingPathComponent("Tests/Fixtures/minilm_reference.json")
        reference = try JSONDecoder().decode(MiniLMReference.self, from: Data(contentsOf: file))
    }

    /// The model's `file`; fails the test (never skips it) when the model has not been fetched.
    func modelFile(_ name: String) throws -> URL { try TestData.miniLMFile(name) }

    @Test func tokenizerJSONGivesTheReferenceIDs() throws {
        let tokenizer = try WordPieceTokenizer(tokenizerJSON: modelFile("tokenizer.json"))
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.id(of: "[CLS]") == 101 && tokenizer.id(of: "[SEP]") == 102)
        #expect(reference.inputs.count >= 30)
        for (index, input) in reference.inputs.enumerated() {
            #expect(tokenizer.encode(input.text) == input.inputIDs, "input \(index): \(input.text.debugDescription)")
        }
        #expect(reference.inputs.contains { $0.inputIDs.count == 512 }, "one input must be truncated to 512")
    }

    @Test func vocabularyFileGivesTheReferenceIDs() throws {
        let tokenizer = try WordPieceTokenizer.load(vocabularyFile: modelFile("vocab.txt"))
        for (index, input) in reference.inputs.enumerated() {
            #expect(tokenizer.encode(input.text) == input.inputIDs, "input \(index): \(input.text.debugDescription)")
        }
    }
}
