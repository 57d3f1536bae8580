/// The drawing area of one chart inside its SVG, mapping data to pixels, and the axes around it.
///
/// The SVG is `width` × `height` pixels; the plot area starts `left` pixels from the left and `top`
/// from the top and is `plotWidth` × `plotHeight`. y grows upward in data and downward in SVG.
struct PlotFrame {
    let width: Double
    let height: Double
    let left: Double
    let top: Double
    let plotWidth: Double
    let plotHeight: Double
    let x: AxisScale
    let y: AxisScale

    /// The horizontal pixel of data value `value`, clamped to the plot area.
    func px(_ value: Double) -> Double {
        left + min(1, max(0, x.fraction(value))) * plotWidth
    }

    /// The vertical pixel of data value `value`, clamped to the plot area.
    func py(_ value: Double) -> Double {
        top + plotHeight - min(1, max(0, y.fraction(value))) * plotHeight
    }

    var right: Double { left + plotWidth }
    var bottom: Double { top + plotHeight }

    /// Light grid lines at every tick, tick labels, the frame and the two axis titles.
    func axes(xTitle: String, yTitle: String) -> String {
        var parts: [String] = []
        for tick in x.ticks {
            let position = NumberText.coordinate(px(tick))
            parts.append(line(position, NumberText.coordinate(top), position, NumberText.coordinate(bottom), "grid"))
            parts.append(
                Markup.text(
                    "text", [("x", position), ("y", NumberText.coordinate(bottom + 16)), ("class", "tick"), ("text-anchor", "middle")],
                    x.label(tick)))
        }
        for tick in y.ticks {
            let position = NumberText.coordinate(py(tick))
            parts.append(line(NumberText.coordinate(left), position, NumberText.coordinate(right), position, "grid"))
            parts.append(
                Markup.text(
                    "text", [("x", NumberText.coordinate(left - 6)), ("y", NumberText.coordinate(py(tick) + 4)), ("class", "tick"), ("text-anchor", "end")],
                    y.label(tick)))
        }
        parts.append(
            Markup.empty(
                "rect", [("x", NumberText.coordinate(left)), ("y", NumberText.coordinate(top)), ("width", NumberText.coordinate(plotWidth)),
                    ("height", NumberText.coordinate(plotHeight)), ("class", "frame")]))
        parts.append(
            Markup.text(
                "text", [("x", NumberText.coordinate(left + plotWidth / 2)), ("y", NumberText.coordinate(bottom + 36)), ("class", "axis-title"), ("text-anchor", "middle")],
                xTitle))
        let yTitleX = NumberText.coordinate(left - 46)
        let yTitleY = NumberText.coordinate(top + plotHeight / 2)
        parts.append(
            Markup.text(
                "text", [("x", yTitleX), ("y", yTitleY), ("class", "axis-title"), ("text-anchor", "middle"), ("transform", "rotate(-90 \(yTitleX) \(yTitleY))")],
                yTitle))
        return parts.joined()
    }

    func line(_ x1: String, _ y1: String, _ x2: String, _ y2: String, _ className: String) -> String {
        Markup.empty("line", [("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2), ("class", className)])
    }

    /// `<svg>` of this frame's size around `content`, with an accessible title.
    func svg(title: String, _ content: String) -> String {
        SVG.document(width: width, height: height, title: title, content)
    }
}

/// The `<svg>` element every chart is wrapped in.
enum SVG {
    /// The SVG namespace: the only URL in a report, and a name rather than something fetched.
    static let namespace = "http://www.w3.org/2000/svg"

    static func document(width: Double, height: Double, title: String, _ content: String) -> String {
        Markup.element(
            "svg",
            [("xmlns", namespace), ("width", NumberText.coordinate(width)), ("height", NumberText.coordinate(height)),
                ("viewBox", "0 0 \(NumberText.coordinate(width)) \(NumberText.coordinate(height))"), ("role", "img")],
            Markup.text("title", [], title) + content)
    }
}
