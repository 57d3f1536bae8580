import Foundation
import FoundationXML
import Testing

@testable import KibanEval

/// A rendered report parsed as XML, with the look-ups the report tests share.
struct ReportInspection {
    let html: String
    let document: XMLDocument

    /// Parses `report.html()`; throws when the page is not well-formed XML.
    init(_ report: EvaluationReport) throws {
        html = report.html()
        document = try XMLDocument(xmlString: html, options: [])
    }

    /// Elements named `name` ("*": all) below `node` or in the whole page, in document order,
    /// whatever their namespace. (A walk over `children`: FoundationXML's relative XPath finds
    /// nothing below an element.)
    func elements(_ name: String, in node: XMLNode? = nil) throws -> [XMLElement] {
        var found: [XMLElement] = []
        func walk(_ parent: XMLNode) {
            for child in parent.children ?? [] {
                guard let element = child as? XMLElement else { continue }
                if name == "*" || element.localName == name { found.append(element) }
                walk(element)
            }
        }
        walk(node ?? document)
        return found
    }

    /// Elements named `name` whose class attribute lists `className`.
    func elements(_ name: String, classed className: String, in node: XMLNode? = nil) throws -> [XMLElement] {
        try elements(name, in: node).filter { ($0.value("class") ?? "").split(separator: " ").contains(Substring(className)) }
    }

    /// The `<svg>` whose `<title>` is `title`.
    func svg(titled title: String) throws -> XMLElement? {
        try elements("svg").first { svg in (try? elements("title", in: svg).first?.stringValue) == title }
    }

    /// The words "nan", "inf" and "infinity" in any case, as whole words: what a NaN or ±∞ printed
    /// by Swift or C would leave in the page.
    var nonFiniteWords: [String] {
        html.lowercased().split { !$0.isLetter }.map(String.init).filter { ["nan", "inf", "infinity"].contains($0) }
    }
}

extension XMLElement {
    /// The attribute called `attribute`, looked up among all attributes: FoundationXML's
    /// `attribute(forName:)` finds nothing on an element in a namespace (every SVG element).
    func value(_ attribute: String) -> String? {
        attributes?.first { ($0.localName ?? $0.name) == attribute }?.stringValue
    }

    func number(_ attribute: String) -> Double? { value(attribute).flatMap(Double.init) }
}

/// Every coordinate of every shape in `svg` is finite and inside the SVG's width × height; returns
/// what is wrong, one line per problem.
func coordinateProblems(in svg: XMLElement, inspection: ReportInspection) throws -> [String] {
    guard let width = svg.number("width"), let height = svg.number("height"), width > 0, height > 0 else {
        return ["svg without a positive width and height"]
    }
    var problems: [String] = []
    func check(_ value: Double?, _ limit: Double, _ what: String) {
        guard let value else { return problems.append("\(what) is not a number") }
        if !value.isFinite || value < 0 || value > limit { problems.append("\(what) = \(value) outside 0…\(limit)") }
    }
    for element in try inspection.elements("*", in: svg) {
        let name = element.localName ?? "?"
        for attribute in ["x", "x1", "x2", "cx"] where element.value(attribute) != nil {
            check(element.number(attribute), width, "\(name).\(attribute)")
        }
        for attribute in ["y", "y1", "y2", "cy"] where element.value(attribute) != nil {
            check(element.number(attribute), height, "\(name).\(attribute)")
        }
        if name == "rect" {
            check((element.number("x") ?? .nan) + (element.number("width") ?? .nan), width, "rect right edge")
            check((element.number("y") ?? .nan) + (element.number("height") ?? .nan), height, "rect bottom edge")
        }
        if name == "path", let d = element.value("d") {
            let points = pathPoints(d)
            if points.isEmpty { problems.append("path without points: \(d)") }
            for point in points {
                check(point.x, width, "path x")
                check(point.y, height, "path y")
            }
        }
    }
    return problems
}

/// The points of an SVG path made of M and L commands ("M1 2L3 4…").
func pathPoints(_ d: String) -> [(x: Double, y: Double)] {
    let numbers = d.split { $0 == "M" || $0 == "L" || $0 == " " }.map { Double($0) ?? .nan }
    return stride(from: 0, to: numbers.count - 1, by: 2).map { (numbers[$0], numbers[$0 + 1]) }
}

/// The number of digits after the decimal point in `text` ("0.912" → 3, "12" → 0).
func decimals(of text: String) -> Int {
    text.split(separator: ".").dropFirst().first.map { $0.prefix { $0.isNumber }.count } ?? 0
}
