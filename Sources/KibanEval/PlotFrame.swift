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
        let vertical = x.ticks.map { tick in
            SVG.line(px(tick), top, px(tick), bottom, "grid") + SVG.text(x.label(tick), x: px(tick), y: bottom + 16, "tick", anchor: "middle")
        }
        let horizontal = y.ticks.map { tick in
            SVG.line(left, py(tick), right, py(tick), "grid") + SVG.text(y.label(tick), x: left - 6, y: py(tick) + 4, "tick", anchor: "end")
        }
        return (vertical + horizontal).joined() + SVG.rect(x: left, y: top, width: plotWidth, height: plotHeight, "frame")
            + SVG.text(xTitle, x: left + plotWidth / 2, y: bottom + 36, "axis-title", anchor: "middle")
            + SVG.text(yTitle, x: left - 46, y: top + plotHeight / 2, "axis-title", anchor: "middle", rotated: true)
    }

    /// `<svg>` of this frame's size around `content`, with an accessible title.
    func svg(title: String, _ content: String) -> String {
        SVG.document(width: width, height: height, title: title, content)
    }
}

/// The SVG elements the charts are drawn with; coordinates are pixels, written to 0.1 px.
enum SVG {
    /// The SVG namespace: the only URL in a report, and a name rather than something fetched.
    static let namespace = "http://www.w3.org/2000/svg"

    static func document(width: Double, height: Double, title: String, _ content: String) -> String {
        let (w, h) = (NumberText.coordinate(width), NumberText.coordinate(height))
        return Markup.element(
            "svg", [("xmlns", namespace), ("width", w), ("height", h), ("viewBox", "0 0 \(w) \(h)"), ("role", "img")],
            Markup.text("title", [], title) + content)
    }

    /// `content` as text at (x, y), `anchor` "start", "middle" or "end"; `rotated` turns it a
    /// quarter anticlockwise about (x, y), for a y-axis title.
    static func text(_ content: String, x: Double, y: Double, _ className: String, anchor: String = "start", rotated: Bool = false) -> String {
        let (cx, cy) = (NumberText.coordinate(x), NumberText.coordinate(y))
        var attributes = [("x", cx), ("y", cy), ("class", className), ("text-anchor", anchor)]
        if rotated { attributes.append(("transform", "rotate(-90 \(cx) \(cy))")) }
        return Markup.text("text", attributes, content)
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ className: String, stroke: String? = nil) -> String {
        var attributes = [
            ("x1", NumberText.coordinate(x1)), ("y1", NumberText.coordinate(y1)), ("x2", NumberText.coordinate(x2)),
            ("y2", NumberText.coordinate(y2)), ("class", className),
        ]
        if let stroke { attributes.append(("stroke", stroke)) }
        return Markup.empty("line", attributes)
    }

    static func rect(x: Double, y: Double, width: Double, height: Double, _ className: String, fill: String? = nil) -> String {
        var attributes = [
            ("x", NumberText.coordinate(x)), ("y", NumberText.coordinate(y)), ("width", NumberText.coordinate(width)),
            ("height", NumberText.coordinate(height)), ("class", className),
        ]
        if let fill { attributes.append(("fill", fill)) }
        return Markup.empty("rect", attributes)
    }
}
