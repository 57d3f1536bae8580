import Foundation

extension SequenceTokenizer {
    /// The tokenizer of a Hugging Face model folder, as `transformers` would build it.
    ///
    /// - `tokenizer.json` (a WordPiece `tokenizers` file) wins when present; its normaliser decides
    ///   lower-casing.
    /// - Otherwise `vocab.txt`: ESM-2's 33-token alphabet gives ``protein``; any other vocabulary
    ///   is BERT's, with `do_lower_case` and `strip_accents` from `tokenizer_config.json`. As in
    ///   `BertTokenizer`, `do_lower_case` is **true** when the file or the key is absent.
    ///
    /// A per-residue vocabulary (``isPerResidue(vocabulary:)``, Rostlab/prot_bert) gives
    /// ``residueWordPiece(_:)``, so plain sequences get one token per residue. Lower-casing applies
    /// to it exactly as in `transformers`: prot_bert's `tokenizer_config.json` says
    /// `"do_lower_case": false`; with lower-casing (that key true, or no config file) its uppercase
    /// residues become lowercase words that are not in the vocabulary, and every one encodes as
    /// `[UNK]`, as `transformers` encodes them too. So copy `tokenizer_config.json` with `vocab.txt`.
    ///
    /// - Throws: `TokenizerError` naming the file when the folder has neither file, a file cannot
    ///   be read or parsed, the vocabulary lacks `[CLS]`, `[SEP]` or `[UNK]`, or the config asks for
    ///   an `EsmTokenizer` whose vocabulary is not ESM-2's alphabet.
    public static func load(folder: URL) throws -> SequenceTokenizer {
        let json = folder.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) {
            let tokenizer = try WordPieceTokenizer(tokenizerJSON: json)
            let vocabulary = try decode(TokenizerJSONVocabulary.self, from: json).model.vocab.keys
            return isPerResidue(vocabulary: Array(vocabulary)) ? .residueWordPiece(tokenizer) : .wordPiece(tokenizer)
        }
        let vocabularyFile = folder.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabularyFile.path) else {
            throw TokenizerError(file: folder.path, message: "the folder has neither tokenizer.json nor vocab.txt")
        }
        let configFile = folder.appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.fileExists(atPath: configFile.path)
            ? try decode(TokenizerConfig.self, from: configFile) : TokenizerConfig()
        let vocabulary = try vocabularyLines(vocabularyFile)
        if vocabulary == ProteinAlphabet.tokens { return .protein }
        if config.tokenizerClass == "EsmTokenizer" {
            throw TokenizerError(
                file: vocabularyFile.path, message: "an EsmTokenizer vocabulary other than ESM-2's 33-token alphabet")
        }
        let missing = ["[CLS]", "[SEP]", "[UNK]"].filter { !vocabulary.contains($0) }
        guard missing.isEmpty else {
            throw TokenizerError(file: vocabularyFile.path, message: "the vocabulary lacks " + missing.joined(separator: ", "))
        }
        let tokenizer = WordPieceTokenizer(
            vocabulary: vocabulary, lowercase: config.doLowerCase ?? true, stripAccents: config.stripAccents)
        return isPerResidue(vocabulary: vocabulary) ? .residueWordPiece(tokenizer) : .wordPiece(tokenizer)
    }

    /// The lines of a `vocab.txt` (UTF-8; "\r\n" or "\n"; a final newline ends the last line).
    private static func vocabularyLines(_ url: URL) throws -> [String] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TokenizerError(file: url.path, message: "cannot be read as UTF-8 text (\(error.localizedDescription))")
        }
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line))
        }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, from url: URL) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(contentsOf: url))
        } catch {
            throw TokenizerError(file: url.path, message: "cannot be read as a tokenizer file (\(error))")
        }
    }
}

/// The keys of `tokenizer_config.json` that the loader reads; others are ignored.
private struct TokenizerConfig: Decodable {
    var doLowerCase: Bool?
    var stripAccents: Bool?
    var tokenizerClass: String?

    enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", stripAccents = "strip_accents", tokenizerClass = "tokenizer_class"
    }
}

/// `model.vocab` of a `tokenizer.json`.
private struct TokenizerJSONVocabulary: Decodable {
    struct Model: Decodable { var vocab: [String: Int] }
    var model: Model
}
