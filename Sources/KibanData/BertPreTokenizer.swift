import Foundation

// BERT's text clean-up and word splitting, as Hugging Face `tokenizers` runs them for a
// `tokenizer.json` whose normalizer is `BertNormalizer` and whose pre-tokenizer is `BertPreTokenizer`.
// Everything works per Unicode scalar (code point), never per `Character`: BERT was defined on code
// points, and a grapheme cluster such as "e" + U+0301 or a flag emoji is several of them.

/// BERT's normaliser (`BertNormalizer` in `tokenizers`): the steps run in the library's order,
/// which strips accents before it lowercases.
struct BertNormalizer: Sendable, Equatable {
    /// Drops U+0000, U+FFFD and invisible control/format/private-use characters (other than tab,
    /// line feed and carriage return) and turns every whitespace character into a plain space.
    var cleansText = true
    /// Puts a space on each side of every CJK ideograph, so that each becomes its own word.
    var isolatesChineseCharacters = true
    /// Decomposes the text (NFD) and drops the combining marks (category Mn): "é" → "e".
    var stripsAccents = true
    /// Maps every scalar to its full Unicode lowercase mapping, one scalar at a time.
    var lowercases = true

    /// Returns `text` normalised; the result can be longer or shorter than the input.
    func normalize(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var scalars = text
        if cleansText {
            scalars = scalars.compactMap { scalar in
                if scalar.value == 0 || scalar.value == 0xFFFD || scalar.isBertControl { return nil }
                return scalar.isBertWhitespace ? " " : scalar
            }
        }
        if isolatesChineseCharacters {
            scalars = scalars.flatMap { scalar in scalar.isCJKIdeograph ? [" ", scalar, " "] : [scalar] }
        }
        if stripsAccents {
            scalars = Self.canonicalDecomposition(of: scalars).filter { $0.bertCategory != .nonspacingMark }
        }
        if lowercases {
            // Per scalar, as Rust's `char::to_lowercase`: no context rules, so a final capital
            // sigma becomes "σ", not the "ς" that Python's `str.lower()` would give.
            scalars = scalars.flatMap { $0.properties.lowercaseMapping.unicodeScalars }
        }
        return scalars
    }

    /// The canonical decomposition (NFD) of `scalars`; Hangul syllables become their jamo.
    /// (Of all code points, only U+11938, from Unicode 13, decomposes here but not in `tokenizers`.)
    private static func canonicalDecomposition(of scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if scalars.allSatisfy(\.isASCII) { return scalars }
        let text = String(String.UnicodeScalarView(scalars))
        return Array(text.decomposedStringWithCanonicalMapping.unicodeScalars)
    }
}

/// BERT's pre-tokeniser (`BertPreTokenizer` in `tokenizers`): splits normalised text into words
/// at whitespace, and makes every punctuation character a word of its own.
enum BertPreTokenizer {
    /// The words of `text`: "Hi, there!" → ["Hi", ",", "there", "!"]. Whitespace is dropped.
    static func words(in text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var word: [Unicode.Scalar] = []
        func finishWord() {
            if !word.isEmpty { words.append(word) }
            word.removeAll(keepingCapacity: true)
        }
        for scalar in text {
            if scalar.properties.isWhitespace {
                finishWord()
            } else if scalar.isBertPunctuation {
                finishWord()
                words.append([scalar])
            } else {
                word.append(scalar)
            }
        }
        finishWord()
        return words
    }
}

extension Unicode.Scalar {
    /// Whitespace as BERT's clean-up sees it: tab, line feed, carriage return, and every scalar
    /// with the Unicode White_Space property (space separators, U+2028, U+2029, ...).
    fileprivate var isBertWhitespace: Bool {
        self == "\t" || self == "\n" || self == "\r" || properties.isWhitespace
    }

    /// An invisible character that BERT's clean-up drops: category Cc, Cf or Co, except tab,
    /// line feed and carriage return. Unassigned code points (Cn) are kept, as `tokenizers` does.
    fileprivate var isBertControl: Bool {
        if self == "\t" || self == "\n" || self == "\r" { return false }
        switch bertCategory {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// BERT's punctuation: every ASCII character that is neither a letter, a digit, a space nor a
    /// control (so `$`, `+`, `^`, `|` count), and every scalar whose category starts with P.
    fileprivate var isBertPunctuation: Bool {
        switch value {
        case 33...47, 58...64, 91...96, 123...126: return true
        default: break
        }
        switch bertCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The general category as `tokenizers` sees it. Its category checks (control, accent,
    /// punctuation) use Unicode 8.0 tables (the `unicode_categories` crate), while its whitespace,
    /// lowercasing and NFD are current: so a code point assigned after 8.0 counts as unassigned,
    /// and the few whose category changed since 8.0 keep their 8.0 one. Checked against
    /// `tokenizers` 0.23 for every code point, with Swift's Unicode 17 data.
    fileprivate var bertCategory: Unicode.GeneralCategory {
        guard let age = properties.age, (age.major, age.minor) <= (8, 0) else { return .unassigned }
        switch value {
        case 0x166D, 0x111C9: return .otherPunctuation
        case 0x1734, 0x1171E: return .nonspacingMark
        case 0x1885, 0x1886: return .otherLetter
        case 0xA9BD: return .spacingMark
        default: return properties.generalCategory
        }
    }

    /// A code point in BERT's CJK ideograph blocks. The ranges are those of `tokenizers`, which
    /// starts the Extension F block at U+2B920 where Google's BERT starts it at U+2B820, so
    /// U+2B820–U+2B91F are not isolated here (the reference ids come from `tokenizers`).
    fileprivate var isCJKIdeograph: Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
