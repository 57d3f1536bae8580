/// The 33-token alphabet of ESM-2 protein language models, with ids in the models' order.
///
/// | ids    | tokens                                                       |
/// |--------|--------------------------------------------------------------|
/// | 0–3    | `<cls>` `<pad>` `<eos>` `<unk>`                               |
/// | 4–30   | `L A G V S E R T I D P K Q N F Y M H W C X B U Z O . -`      |
/// | 31, 32 | `<null_1>` `<mask>`                                          |
///
/// This is fair-esm's `Alphabet.from_architecture("ESM-1b")` (used by every ESM-2 checkpoint) and the
/// `vocab.txt` of the Hugging Face `facebook/esm2_*` models; ``encode(_:addSpecialTokens:)`` gives the
/// same ids as `transformers`' `EsmTokenizer` on that vocabulary.
public enum ProteinAlphabet {
    /// Every token, indexed by id.
    public static let tokens: [String] = [
        "<cls>", "<pad>", "<eos>", "<unk>",
        "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y",
        "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-",
        "<null_1>", "<mask>",
    ]

    /// The number of tokens, 33 (the size of the models' embedding table).
    public static let count = 33
    /// Begins every encoded sequence.
    public static let cls = 0
    /// Fills a batch's shorter sequences.
    public static let pad = 1
    /// Ends every encoded sequence.
    public static let eos = 2
    /// Stands for text that is not a token.
    public static let unk = 3
    /// Hides a residue from the model in masked language modelling.
    public static let mask = 32

    /// The id of a token (`"A"` → 5, `"<mask>"` → 32), or `nil` if it is not one.
    public static func id(of token: String) -> Int? { idsByToken[token] }

    /// Encodes a sequence as token ids: `<cls>`, one id per residue, `<eos>`.
    ///
    /// The residue letters are case-sensitive (`a` is not `A`), as in `EsmTokenizer`. Token names in
    /// angle brackets (`<mask>`) are read as their tokens, whitespace is skipped, and each run of
    /// characters that are not tokens (with no whitespace inside) becomes a single `<unk>`, also as in
    /// `EsmTokenizer`. Sequences from ``FASTAReader`` contain only residue letters, one id each.
    public static func encode(_ sequence: String, addSpecialTokens: Bool = true) -> [Int] {
        let scalars = Array(sequence.unicodeScalars)
        var ids: [Int] = addSpecialTokens ? [cls] : []
        ids.reserveCapacity(scalars.count + 2)
        var inUnknownRun = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar.isASCII ? scalar == " " || (scalar.value >= 9 && scalar.value <= 13) : scalar.properties.isWhitespace {
                inUnknownRun = false
                index += 1
            } else if let (id, length) = token(at: index, in: scalars) {
                ids.append(id)
                inUnknownRun = false
                index += length
            } else {
                if !inUnknownRun { ids.append(unk) }
                inUnknownRun = true
                index += 1
            }
        }
        if addSpecialTokens { ids.append(eos) }
        return ids
    }

    /// Joins the tokens of `ids` with no separator (`[0, 5, 2]` → `"<cls>A<eos>"`); an id outside
    /// `0..<count` decodes as `<unk>`.
    public static func decode(_ ids: [Int]) -> String {
        ids.map { tokens.indices.contains($0) ? tokens[$0] : tokens[unk] }.joined()
    }

    /// The token starting at `index`, if any: a one-character token or a name in angle brackets.
    private static func token(at index: Int, in scalars: [Unicode.Scalar]) -> (id: Int, length: Int)? {
        let scalar = scalars[index]
        if scalar == "<" {
            for (name, id) in bracketedTokens {
                let end = index + name.count
                if end <= scalars.count, scalars[index..<end].elementsEqual(name) { return (id, name.count) }
            }
            return nil
        }
        return scalar.isASCII ? singleCharacterIds[Int(scalar.value)].map { ($0, 1) } : nil
    }

    private static let idsByToken: [String: Int] = Dictionary(
        uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })

    /// The `<…>` tokens as scalars with their ids.
    private static let bracketedTokens: [(name: [Unicode.Scalar], id: Int)] = tokens.enumerated()
        .filter { $1.hasPrefix("<") }
        .map { (Array($1.unicodeScalars), $0) }

    /// Ids of the one-character tokens, indexed by ASCII code.
    private static let singleCharacterIds: [Int?] = {
        var table = [Int?](repeating: nil, count: 128)
        for (id, token) in tokens.enumerated() where token.unicodeScalars.count == 1 {
            table[Int(token.unicodeScalars.first!.value)] = id
        }
        return table
    }()
}
