/// A chemical formula parsed into element amounts, such as `Fe2(SO4)3` or `CuSO4·5H2O`.
///
/// Grammar (whitespace is not allowed anywhere):
/// ```
/// formula  := segment (dot amount? segment)*      dot: '·' (U+00B7), '•' (U+2022), '*' or '.'
/// segment  := unit+
/// unit     := (element | '(' formula ')' | '[' formula ']') amount?
/// element  := capital letter, then at most one lower-case letter, a symbol of the periodic table
/// amount   := digits ('.' digits)?                  (no sign, no exponent; absent means 1)
/// ```
/// A multiplier after a dot applies to the rest of the text up to the next dot or the closing
/// bracket, so `CuSO4·5H2O` is Cu 1, S 1, O 9, H 10. A `.` right after an amount's digits and
/// before another digit is that amount's decimal point (`Pb1.75S4` is Pb 1.75, S 4, as in the
/// Matbench compositions), so `CuSO4.5H2O` reads as O 4.5 plus H2O: write that hydrate as
/// `CuSO4·5H2O` or `CuSO4*5H2O`. A `.` anywhere else is a dot (`CuSO4.H2O`).
/// Symbols are case-sensitive: `Co` is cobalt, `CO` is carbon and oxygen.
///
/// Errors are ``DataError``s with `file` `<formula>` whose message quotes the formula and gives the
/// 1-based character position: an unknown element (`Xx2O`), unbalanced or mismatched brackets
/// (`Fe2(SO4`, `Fe2)`, `(Fe]`), an empty formula, a total amount that is zero or not finite, and any
/// other character (`H2O!`).
public struct ChemicalFormula: Sendable {
    /// The text that was parsed.
    public let text: String
    /// Each element once, in order of first appearance, with its amounts summed
    /// (`Fe2(SO4)3` → Fe 2, S 3, O 12). An element written with amount 0 is kept with amount 0.
    public let composition: [(element: Element, amount: Double)]

    /// Each element's share of the total amount, in the order of ``composition``; the fractions sum to 1.
    public var fractions: [(element: Element, fraction: Double)] {
        let total = composition.reduce(0) { $0 + $1.amount }
        return composition.map { ($0.element, $0.amount / total) }
    }

    /// Parses `text`; see the type's documentation for the grammar and the errors.
    public init(parsing text: String) throws {
        var parser = FormulaParser(text: text)
        let amounts = try parser.parseFormula()
        self.text = text
        self.composition = amounts.elements.map { ($0, amounts.amounts[$0]!) }
    }
}

extension CSVTable {
    /// Parses every field of `column` as a ``ChemicalFormula``. A formula that does not parse is
    /// reported with this table's file, the row's line and the column.
    public func formulas(_ column: String) throws -> [ChemicalFormula] {
        try strings(column).enumerated().map { row, field in
            do {
                return try ChemicalFormula(parsing: field)
            } catch let error as DataError {
                throw DataError(file: file, line: line(ofRow: row), column: column, message: error.message)
            }
        }
    }
}

/// Element amounts that remember the order in which elements first appeared.
private struct OrderedAmounts {
    var elements: [Element] = []
    var amounts: [Element: Double] = [:]

    mutating func add(_ element: Element, _ amount: Double) {
        if let current = amounts[element] {
            amounts[element] = current + amount
        } else {
            elements.append(element)
            amounts[element] = amount
        }
    }

    mutating func add(_ other: OrderedAmounts, times multiplier: Double) {
        for element in other.elements { add(element, other.amounts[element]! * multiplier) }
    }
}

/// A recursive-descent parser over the formula's Unicode scalars; `position` is a 0-based index.
private struct FormulaParser {
    /// Deeper nesting is refused rather than risking the stack on hostile input.
    static let maximumDepth = 64
    static let dots: Set<Unicode.Scalar> = ["\u{B7}", "\u{2022}", "*", "."]
    static let closers: [Unicode.Scalar: Unicode.Scalar] = ["(": ")", "[": "]"]

    let text: String
    let scalars: [Unicode.Scalar]
    var position = 0

    init(text: String) {
        self.text = text
        self.scalars = Array(text.unicodeScalars)
    }

    mutating func parseFormula() throws -> OrderedAmounts {
        guard !scalars.isEmpty else { throw failure("the formula is empty") }
        let amounts = try parseSequence(depth: 0)
        if position < scalars.count {
            let scalar = scalars[position]
            if scalar == ")" || scalar == "]" {
                throw failure("'\(scalar)' at position \(position + 1) has no matching opening bracket")
            }
            throw unexpectedCharacter()
        }
        let total = amounts.elements.reduce(0) { $0 + amounts.amounts[$1]! }
        guard total.isFinite else { throw failure("the total amount is not a finite number") }
        guard total > 0 else { throw failure("the total amount is zero") }
        return amounts
    }

    /// segment (dot amount? segment)*
    private mutating func parseSequence(depth: Int) throws -> OrderedAmounts {
        var amounts = OrderedAmounts()
        amounts.add(try parseSegment(depth: depth), times: 1)
        while position < scalars.count, Self.dots.contains(scalars[position]) {
            position += 1
            let multiplier = parseAmount() ?? 1
            amounts.add(try parseSegment(depth: depth), times: multiplier)
        }
        return amounts
    }

    /// unit+
    private mutating func parseSegment(depth: Int) throws -> OrderedAmounts {
        var amounts = OrderedAmounts()
        var unitCount = 0
        while position < scalars.count, isUnitStart(scalars[position]) {
            amounts.add(try parseUnit(depth: depth), times: 1)
            unitCount += 1
        }
        guard unitCount > 0 else {
            guard position < scalars.count else { throw failure("expected an element at the end") }
            throw failure("expected an element or '(' at position \(position + 1), found '\(scalars[position])'")
        }
        return amounts
    }

    private mutating func parseUnit(depth: Int) throws -> OrderedAmounts {
        let opening = scalars[position]
        var amounts = OrderedAmounts()
        if let closer = Self.closers[opening] {
            let openingPosition = position
            guard depth < Self.maximumDepth else {
                throw failure("brackets nested deeper than \(Self.maximumDepth) levels at position \(position + 1)")
            }
            position += 1
            let inner = try parseSequence(depth: depth + 1)
            guard position < scalars.count else {
                throw failure("'\(opening)' at position \(openingPosition + 1) is never closed")
            }
            let found = scalars[position]
            guard found == closer else {
                if found == ")" || found == "]" {
                    throw failure(
                        "'\(found)' at position \(position + 1) does not match '\(opening)' at position \(openingPosition + 1)")
                }
                throw unexpectedCharacter()
            }
            position += 1
            amounts.add(inner, times: parseAmount() ?? 1)
        } else {
            let start = position
            position += 1
            if position < scalars.count, ("a"..."z").contains(scalars[position]) { position += 1 }
            let symbol = String(String.UnicodeScalarView(scalars[start..<position]))
            guard let element = Element(symbol: symbol) else {
                throw failure("unknown element '\(symbol)' at position \(start + 1)")
            }
            amounts.add(element, parseAmount() ?? 1)
        }
        return amounts
    }

    /// digits ('.' digits)?, or `nil` (consuming nothing) when no digit comes next.
    private mutating func parseAmount() -> Double? {
        let start = position
        skipDigits()
        guard position > start else { return nil }
        if position + 1 < scalars.count, scalars[position] == ".", isDigit(scalars[position + 1]) {
            position += 1
            skipDigits()
        }
        return Double(String(String.UnicodeScalarView(scalars[start..<position])))!
    }

    private mutating func skipDigits() {
        while position < scalars.count, isDigit(scalars[position]) { position += 1 }
    }

    private func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    private func isUnitStart(_ scalar: Unicode.Scalar) -> Bool {
        ("A"..."Z").contains(scalar) || Self.closers[scalar] != nil
    }

    private func unexpectedCharacter() -> DataError {
        failure("unexpected character '\(scalars[position])' at position \(position + 1)")
    }

    private func failure(_ message: String) -> DataError {
        DataError(file: "<formula>", message: "'\(text)': \(message)")
    }
}
