/// HTML and SVG text built from strings, with every piece of text and every attribute value
/// escaped on the way in, so that names holding `<`, `&` or `"` stay text.
///
/// The output is also well-formed XML: `&`, `<`, `>`, `"` and `'` become character references and
/// the control characters XML forbids (all below U+0020 except tab, newline and carriage return)
/// become U+FFFD. Non-void HTML elements always get a closing tag (an HTML parser ignores `/>` on
/// them); `empty` is for SVG elements and HTML's void elements (`meta`).
enum Markup {
    /// `text` with the five XML special characters as references and forbidden controls replaced.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\t", "\n", "\r": result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF: result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `<name attributes>content</name>`; `content` is markup, already escaped.
    static func element(_ name: String, _ attributes: [(String, String)] = [], _ content: String) -> String {
        "<\(name)\(attributeText(attributes))>\(content)</\(name)>"
    }

    /// `<name attributes/>`, for SVG shapes and HTML void elements.
    static func empty(_ name: String, _ attributes: [(String, String)] = []) -> String {
        "<\(name)\(attributeText(attributes))/>"
    }

    /// An element holding plain `text`, escaped.
    static func text(_ name: String, _ attributes: [(String, String)] = [], _ text: String) -> String {
        element(name, attributes, escaped(text))
    }

    static func attributeText(_ attributes: [(String, String)]) -> String {
        attributes.map { " \($0.0)=\"\(escaped($0.1))\"" }.joined()
    }
}
