// Dim legend: T positions, D head width (even), h = D/2; "outer" indexes every axis before T.

extension Tensor {
    /// Rotary position embedding in the `rotate_half` form, one tape node:
    /// y[…, t, i] = x[…, t, i]·cos[t, i] + r[…, t, i]·sin[t, i], where r = (−x[h..<D], x[0..<h]).
    /// Its backward is the inverse rotation: dx[i] = dy[i]·cos[i] + (i < h ? dy[i+h]·sin[i+h] : −dy[i−h]·sin[i−h]).
    /// A view with unit stride along D (such as heads split off a (B, T, H·D) projection) is read in
    /// place, without a copy.
    ///
    /// x: (…, T, D); cos, sin: (T, D) → (…, T, D), contiguous. With `positions` (T values), token t
    /// uses row `positions[t]` of tables of any number of rows (P, D): packed sequences whose
    /// positions restart read one shared table.
    public func rotated(cos: Tensor, sin: Tensor, positions: [Int]? = nil) -> Tensor {
        let (tokens, width) = (shape[Swift.max(rank - 2, 0)], shape[rank - 1])
        let rows = positions.map { _ in cos.shape.first ?? 0 } ?? tokens
        tensorCheck(
            rank >= 2 && cos.shape == [rows, width] && sin.shape == cos.shape && width % 2 == 0 && (positions?.count ?? tokens) == tokens,
            "rotary", "input \(describeShape(shape)) with tables \(describeShape(cos.shape)); expected (…, T, D), (T, D), D even")
        if let positions {
            tensorCheck(positions.allSatisfy { $0 >= 0 && $0 < rows }, "rotary", "a position outside the \(rows) table rows")
        }
        let (cosines, sines) = (cos.contiguousWithoutTape(), sin.contiguousWithoutTape())
        let source = strides[rank - 1] == 1 || shape[rank - 1] == 1 ? detached() : copied()
        let table = positions ?? Array(0..<tokens)
        let output = Tensor.rotate(source, cos: cosines, sin: sines, rows: table, inverse: false)
        return Tensor.record("rotary", inputs: [self], output: output) { gradient in
            [Tensor.rotate(gradient.contiguousWithoutTape(), cos: cosines, sin: sines, rows: table, inverse: true)]
        }
    }

    /// The forward rotation, or its transpose (the backward) when `inverse` is true, of x with unit
    /// stride along D, token t using table row `rows[t]`. Result: x's shape, contiguous.
    private static func rotate(_ x: Tensor, cos: Tensor, sin: Tensor, rows: [Int], inverse: Bool) -> Tensor {
        let output = Tensor.empty(x.shape)
        let (positions, width) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        let outerShape = Array(x.shape.dropLast(2)), outerStrides = Array(x.strides.dropLast(2))
        let positionStride = x.strides[x.rank - 2], outer = Shape.count(outerShape)
        withExtendedLifetime((x, cos, sin)) {
            let (input, result, c, s) = (x.pointer, output.pointer, cos.pointer, sin.pointer)
            Threading.parallelRows(outer, rowLength: positions * width) { range in
                for index in range {
                    var base = 0, remainder = index
                    for axis in stride(from: outerShape.count - 1, through: 0, by: -1) {
                        base += (remainder % outerShape[axis]) * outerStrides[axis]
                        remainder /= outerShape[axis]
                    }
                    for position in 0..<positions {
                        let row = rows[position] * width
                        rotateRow(
                            input + base + position * positionStride, into: result + (index * positions + position) * width,
                            width: width, cos: c + row, sin: s + row, inverse: inverse)
                    }
                }
            }
        }
        return output
    }

    /// One row of D values: the rotation (or its inverse) with one position's cos and sin rows.
    @inline(__always)
    private static func rotateRow(
        _ from: UnsafeMutablePointer<Float>, into to: UnsafeMutablePointer<Float>, width: Int,
        cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>, inverse: Bool
    ) {
        let half = width / 2
        for i in 0..<half {
            let (low, high) = (from[i], from[i + half])
            if inverse {
                to[i] = low * c[i] + high * s[i + half]
                to[i + half] = high * c[i + half] - low * s[i]
            } else {
                to[i] = low * c[i] - high * s[i]
                to[i + half] = high * c[i + half] + low * s[i + half]
            }
        }
    }
}
