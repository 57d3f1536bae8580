/// Stops the program with a message that names the operation and the offending shapes.
///
/// Kiban treats a shape mismatch, an out-of-range index or an invalid axis as a programming
/// error, like an out-of-bounds array subscript in Swift: it stops at once with
/// `kiban: <op>: <what is wrong>` on standard error instead of reading invalid memory.
public func tensorFailure(_ op: String, _ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("kiban: \(op): \(message)", file: file, line: line)
}

/// Checks `condition` and stops with ``tensorFailure(_:_:file:line:)`` when it is false.
@inline(__always)
public func tensorCheck(
    _ condition: @autoclosure () -> Bool, _ op: @autoclosure () -> String,
    _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { tensorFailure(op(), message(), file: file, line: line) }
}

/// Formats a shape the way PyTorch prints it: `(2, 3)`, `()` for a scalar.
public func describeShape(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
