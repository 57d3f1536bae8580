import Foundation

/// BERT's WordPiece tokeniser, with the same output as Hugging Face `tokenizers` for a
/// `tokenizer.json` built from `BertNormalizer`, `BertPreTokenizer`, a `WordPiece` model and the
/// `[CLS] $A [SEP]` template (bert-base-uncased, all-MiniLM-L6-v2 and their relatives).
///
/// Text goes through four steps, all per Unicode scalar (code point), as BERT defines them:
/// 1. added tokens written in the text, such as `[MASK]`, are cut out and kept whole;
/// 2. the rest is normalised (control characters dropped, CJK ideographs isolated, accents
///    stripped, lowercased) and split into words at whitespace and around each punctuation mark;
/// 3. each word becomes the longest vocabulary entries from the left, continuations spelled with
///    `##`; a word with an unmatched part, or longer than 100 scalars, becomes `[UNK]` as a whole;
/// 4. `encode` puts `[CLS]` before and `[SEP]` after the pieces, cutting pieces to fit `maxLength`.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(tokenizerJSON: folder.appending(path: "tokenizer.json"))
/// tokenizer.tokenize("Unaffable café!")  // ["una", "##ffa", "##ble", "cafe", "!"]
/// tokenizer.encode("Unaffable café!")    // [101, 14477, 20961, 3468, 7668, 999, 102]
/// ```
public struct WordPieceTokenizer: Sendable {
    /// A token as scalars. Dictionary keys compare scalar by scalar, as `tokenizers` compares bytes;
    /// `String` keys would treat canonically equivalent spellings ("é", "e" + U+0301) as one.
    private typealias Scalars = [Unicode.Scalar]

    /// A token that is matched whole in the text rather than built from word pieces.
    private struct AddedToken: Sendable {
        let scalars: Scalars
        let id: Int
    }

    /// A stretch of text between added tokens, or the id of an added token found in the text.
    private enum Segment {
        case text(ArraySlice<Unicode.Scalar>)
        case added(id: Int)
    }

    /// A required token (`[CLS]`, `[SEP]`, the unknown token) is absent.
    private struct MissingTokens: Error {
        let names: [String]
        var message: String { "the vocabulary lacks " + names.joined(separator: ", ") }
    }

    private let idsByPiece: [Scalars: Int]
    private let idsByAddedToken: [Scalars: Int]
    private let tokensByID: [String]
    /// Added tokens matched in the raw text, before normalisation.
    private let rawAddedTokens: [AddedToken]
    /// Added tokens matched in normalised text; their scalars are normalised too.
    private let normalizedAddedTokens: [AddedToken]
    private let normalizer: BertNormalizer
    private let unknownID: Int
    private let classifierID: Int
    private let separatorID: Int
    private let continuingSubwordPrefix: Scalars
    private let maxInputCharactersPerWord: Int

    /// The number of token ids: one more than the largest id, the size of an embedding table.
    public var vocabularySize: Int { tokensByID.count }

    /// Reads a Hugging Face `tokenizer.json`: `model.vocab`, `model.unk_token`,
    /// `model.continuing_subword_prefix`, `model.max_input_chars_per_word`, the `BertNormalizer`
    /// flags and `added_tokens`.
    ///
    /// - Throws: `TokenizerError` naming the file when it cannot be read, is not JSON of that shape,
    ///   uses another model, normaliser or pre-tokeniser, or lacks `[CLS]`, `[SEP]` or the unknown token.
    public init(tokenizerJSON url: URL) throws {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(file: file, message: "cannot be read (\(error.localizedDescription))")
        }
        let json: TokenizerFile
        do {
            json = try JSONDecoder().decode(TokenizerFile.self, from: data)
        } catch let error as DecodingError {
            throw TokenizerError(file: file, message: "malformed tokenizer JSON: \(Self.explain(error))")
        }
        guard let model = json.model else {
            throw TokenizerError(file: file, message: "malformed tokenizer JSON: no \"model\" object")
        }
        guard (model.type ?? "WordPiece") == "WordPiece" else {
            throw TokenizerError(file: file, message: "model type \"\(model.type ?? "")\" is not WordPiece")
        }
        guard let vocabulary = model.vocab, !vocabulary.isEmpty else {
            throw TokenizerError(file: file, message: "missing vocabulary: no entries in model.vocab")
        }
        let addedTokens = json.addedTokens ?? []
        guard vocabulary.values.allSatisfy({ $0 >= 0 }), addedTokens.allSatisfy({ $0.id >= 0 }) else {
            throw TokenizerError(file: file, message: "malformed tokenizer JSON: a token id is negative")
        }
        let normalizer = try Self.normalizer(from: json.normalizer, file: file)
        guard json.preTokenizer?.type == "BertPreTokenizer" else {
            let found = json.preTokenizer?.type.map { "\"\($0)\"" } ?? "none"
            throw TokenizerError(file: file, message: "pre-tokenizer \(found) is not BertPreTokenizer")
        }
        do throws(MissingTokens) {
            try self.init(
                vocabulary: vocabulary.map { (token: $0.key, id: $0.value) },
                addedTokens: addedTokens.map { (token: $0.content, id: $0.id, normalized: $0.normalized ?? false) },
                normalizer: normalizer,
                unknownToken: model.unknownToken ?? "[UNK]",
                continuingSubwordPrefix: model.continuingSubwordPrefix ?? "##",
                maxInputCharactersPerWord: model.maxInputCharactersPerWord ?? 100)
        } catch {
            throw TokenizerError(file: file, message: error.message)
        }
    }

    /// Builds a tokenizer from a `vocab.txt`-style list, where a token's id is its position.
    ///
    /// `[PAD]`, the unknown token, `[CLS]`, `[SEP]` and `[MASK]` (those present) are matched whole
    /// in the text, as in Hugging Face's `BertTokenizer`. Accents are stripped when `stripAccents`
    /// is true, or when it is nil and `lowercase` is true.
    ///
    /// - Precondition: the list holds `[CLS]`, `[SEP]` and `unknownToken`; use
    ///   `load(vocabularyFile:lowercase:)` to get an error instead.
    public init(
        vocabulary: [String], lowercase: Bool = true, stripAccents: Bool? = nil, unknownToken: String = "[UNK]"
    ) {
        var idsByToken: [String: Int] = [:]
        for (id, token) in vocabulary.enumerated() { idsByToken[token] = id }  // a repeated token keeps its last id
        let addedTokens = ["[PAD]", unknownToken, "[CLS]", "[SEP]", "[MASK]"].compactMap { token in
            idsByToken[token].map { (token: token, id: $0, normalized: false) }
        }
        let normalizer = BertNormalizer(stripsAccents: stripAccents ?? lowercase, lowercases: lowercase)
        do throws(MissingTokens) {
            try self.init(
                vocabulary: vocabulary.enumerated().map { (token: $0.element, id: $0.offset) },
                addedTokens: addedTokens, normalizer: normalizer, unknownToken: unknownToken,
                continuingSubwordPrefix: "##", maxInputCharactersPerWord: 100)
        } catch {
            preconditionFailure("WordPieceTokenizer: \(error.message)")
        }
    }

    /// Reads a BERT `vocab.txt` (one token per line, UTF-8; the line number, from 0, is the id).
    ///
    /// - Throws: `TokenizerError` naming the file when it cannot be read or lacks `[CLS]`, `[SEP]` or `[UNK]`.
    public static func load(vocabularyFile url: URL, lowercase: Bool = true) throws -> WordPieceTokenizer {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            let reason = error.localizedDescription
            throw TokenizerError(file: url.path, message: "cannot be read as UTF-8 text (\(reason))")
        }
        // Split scalars, not Characters: "\r\n" is a single Character.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line))
        }
        if lines.last == "" { lines.removeLast() }
        let missing = ["[CLS]", "[SEP]", "[UNK]"].filter { !lines.contains($0) }
        guard missing.isEmpty else {
            throw TokenizerError(file: url.path, message: MissingTokens(names: missing).message)
        }
        return WordPieceTokenizer(vocabulary: lines, lowercase: lowercase)
    }

    private init(
        vocabulary: [(token: String, id: Int)], addedTokens: [(token: String, id: Int, normalized: Bool)],
        normalizer: BertNormalizer, unknownToken: String, continuingSubwordPrefix: String,
        maxInputCharactersPerWord: Int
    ) throws(MissingTokens) {
        var idsByPiece: [Scalars: Int] = [:]
        for entry in vocabulary { idsByPiece[Array(entry.token.unicodeScalars)] = entry.id }
        let added = addedTokens.filter { !$0.token.isEmpty }
        var idsByAddedToken: [Scalars: Int] = [:]
        for entry in added { idsByAddedToken[Array(entry.token.unicodeScalars)] = entry.id }
        func id(_ token: String) -> Int? {
            idsByPiece[Array(token.unicodeScalars)] ?? idsByAddedToken[Array(token.unicodeScalars)]
        }

        // WordPiece itself emits the unknown token, so it must be in the model's vocabulary.
        let unknownID = idsByPiece[Array(unknownToken.unicodeScalars)]
        let classifierID = id("[CLS]")
        let separatorID = id("[SEP]")
        guard let unknownID, let classifierID, let separatorID else {
            throw MissingTokens(names: [
                classifierID == nil ? "[CLS]" : nil, separatorID == nil ? "[SEP]" : nil,
                unknownID == nil ? unknownToken : nil,
            ].compactMap { $0 })
        }

        let largestID = (vocabulary.map(\.id) + added.map(\.id)).max() ?? -1
        var tokensByID = [String](repeating: "", count: largestID + 1)
        for entry in vocabulary { tokensByID[entry.id] = entry.token }
        for entry in added { tokensByID[entry.id] = entry.token }

        self.idsByPiece = idsByPiece
        self.idsByAddedToken = idsByAddedToken
        self.tokensByID = tokensByID
        self.rawAddedTokens = added.filter { !$0.normalized }.map {
            AddedToken(scalars: Array($0.token.unicodeScalars), id: $0.id)
        }
        self.normalizedAddedTokens = added.filter(\.normalized).map {
            AddedToken(scalars: normalizer.normalize(Array($0.token.unicodeScalars)), id: $0.id)
        }
        self.normalizer = normalizer
        self.unknownID = unknownID
        self.classifierID = classifierID
        self.separatorID = separatorID
        self.continuingSubwordPrefix = Array(continuingSubwordPrefix.unicodeScalars)
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
    }

    /// The word pieces of `text`, without `[CLS]` and `[SEP]`: "Unaffable!" → ["una", "##ffa", "##ble", "!"].
    public func tokenize(_ text: String) -> [String] {
        tokenIDs(of: text).map { tokensByID[$0] }
    }

    /// The model input for `text`: `[CLS]`, the word-piece ids, `[SEP]`. When the total would
    /// exceed `maxLength`, the last word pieces are dropped; `[CLS]` and `[SEP]` always stay.
    ///
    /// - Precondition: `maxLength >= 2`.
    public func encode(_ text: String, maxLength: Int = 512) -> [Int] {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
        return [classifierID] + tokenIDs(of: text).prefix(maxLength - 2) + [separatorID]
    }

    /// The id of `token` (a vocabulary entry such as "##ing", or an added token such as "[CLS]"),
    /// compared code point by code point.
    public func id(of token: String) -> Int? {
        let scalars = Array(token.unicodeScalars)
        return idsByPiece[scalars] ?? idsByAddedToken[scalars]
    }

    /// Added tokens, normalisation, pre-tokenisation and WordPiece, in the order `tokenizers` runs them.
    private func tokenIDs(of text: String) -> [Int] {
        var ids: [Int] = []
        for rawSegment in Self.segments(of: Array(text.unicodeScalars)[...], splitAt: rawAddedTokens) {
            switch rawSegment {
            case .added(let id):
                ids.append(id)
            case .text(let rawText):
                let normalized = normalizer.normalize(Array(rawText))
                for segment in Self.segments(of: normalized[...], splitAt: normalizedAddedTokens) {
                    switch segment {
                    case .added(let id):
                        ids.append(id)
                    case .text(let part):
                        for word in BertPreTokenizer.words(in: Array(part)) { ids += wordPieceIDs(of: word) }
                    }
                }
            }
        }
        return ids
    }

    /// Cuts `text` at every occurrence of an added token: the leftmost match first, and of the
    /// tokens that match there, the longest.
    private static func segments(of text: ArraySlice<Unicode.Scalar>, splitAt tokens: [AddedToken]) -> [Segment] {
        guard !tokens.isEmpty else { return [.text(text)] }
        var segments: [Segment] = []
        var textStart = text.startIndex
        var position = text.startIndex
        while position < text.endIndex {
            var match: AddedToken?
            for token in tokens
            where token.scalars.count > (match?.scalars.count ?? 0) && text[position...].starts(with: token.scalars) {
                match = token
            }
            guard let match else {
                position += 1
                continue
            }
            if textStart < position { segments.append(.text(text[textStart..<position])) }
            segments.append(.added(id: match.id))
            position += match.scalars.count
            textStart = position
        }
        if textStart < text.endIndex { segments.append(.text(text[textStart...])) }
        return segments
    }

    /// WordPiece on one word: the longest vocabulary entry that starts the word, then the longest
    /// `##` entry that continues from where it ended, and so on. The whole word is `[UNK]` when
    /// some part matches nothing, or when it has more than `maxInputCharactersPerWord` scalars.
    private func wordPieceIDs(of word: Scalars) -> [Int] {
        if word.count > maxInputCharactersPerWord { return [unknownID] }
        var ids: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var match: Int?
            while start < end {
                let piece = start == 0 ? Array(word[..<end]) : continuingSubwordPrefix + word[start..<end]
                match = idsByPiece[piece]
                if match != nil { break }
                end -= 1
            }
            guard let match else { return [unknownID] }
            ids.append(match)
            start = end
        }
        return ids
    }

    /// The `BertNormalizer` described in the file; no normaliser at all means none of its steps.
    private static func normalizer(from json: TokenizerFile.Normalizer?, file: String) throws -> BertNormalizer {
        guard let json else {
            return BertNormalizer(
                cleansText: false, isolatesChineseCharacters: false, stripsAccents: false, lowercases: false)
        }
        guard json.type == "BertNormalizer" else {
            throw TokenizerError(file: file, message: "normalizer \"\(json.type ?? "")\" is not BertNormalizer")
        }
        let lowercase = json.lowercase ?? true
        return BertNormalizer(
            cleansText: json.cleanText ?? true, isolatesChineseCharacters: json.handleChineseChars ?? true,
            stripsAccents: json.stripAccents ?? lowercase, lowercases: lowercase)
    }

    /// A decoding error in a few words: where in the JSON, and what went wrong.
    private static func explain(_ error: DecodingError) -> String {
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let found), .valueNotFound(_, let found), .keyNotFound(_, let found),
            .dataCorrupted(let found):
            context = found
        @unknown default: return "\(error)"
        }
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
    }
}

/// A tokenizer file that cannot be used: `file: what is wrong`, e.g.
/// `models/x/tokenizer.json: the vocabulary lacks [CLS]`.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's path.
    public let file: String
    /// What is wrong, in words.
    public let message: String

    /// Creates an error about `file`.
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    /// `file: message`.
    public var description: String { "\(file): \(message)" }
}

/// The parts of a Hugging Face `tokenizer.json` that a WordPiece tokenizer needs; every field is
/// optional so that a missing one gets a clear error or the library's default.
private struct TokenizerFile: Decodable {
    struct Model: Decodable {
        var type: String?
        var vocab: [String: Int]?
        var unknownToken: String?
        var continuingSubwordPrefix: String?
        var maxInputCharactersPerWord: Int?

        enum CodingKeys: String, CodingKey {
            case type, vocab
            case unknownToken = "unk_token"
            case continuingSubwordPrefix = "continuing_subword_prefix"
            case maxInputCharactersPerWord = "max_input_chars_per_word"
        }
    }

    struct Normalizer: Decodable {
        var type: String?
        var cleanText: Bool?
        var handleChineseChars: Bool?
        var stripAccents: Bool?
        var lowercase: Bool?

        enum CodingKeys: String, CodingKey {
            case type, lowercase
            case cleanText = "clean_text"
            case handleChineseChars = "handle_chinese_chars"
            case stripAccents = "strip_accents"
        }
    }

    struct PreTokenizer: Decodable {
        var type: String?
    }

    struct AddedToken: Decodable {
        var id: Int
        var content: String
        var normalized: Bool?
    }

    var model: Model?
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var addedTokens: [AddedToken]?

    enum CodingKeys: String, CodingKey {
        case model, normalizer
        case preTokenizer = "pre_tokenizer"
        case addedTokens = "added_tokens"
    }
}
