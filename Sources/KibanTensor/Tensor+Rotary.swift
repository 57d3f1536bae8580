// Dim legend: T positions, D head width (even), h = D/2.

extension Tensor {
    /// Rotary position embedding in the `rotate_half` form, one tape node:
    /// y[…, t, i] = x[…, t, i]·cos[t, i] + r[…, t, i]·sin[t, i], where r = (−x[h..<D], x[0..<h]).
    /// Its backward is the inverse rotation: dx[i] = dy[i]·cos[i] + (i < h ? dy[i+h]·sin[i+h] : −dy[i−h]·sin[i−h]).
    ///
    /// x: (…, T, D); cos, sin: (T, D) → (…, T, D), contiguous.
    public func rotated(cos: Tensor, sin: Tensor) -> Tensor {
        tensorCheck(
            rank >= 2 && cos.shape == [shape[rank - 2], shape[rank - 1]] && sin.shape == cos.shape && shape[rank - 1] % 2 == 0,
            "rotary", "input \(describeShape(shape)) with tables \(describeShape(cos.shape)); expected (…, T, D), (T, D), D even")
        let (positions, width) = (shape[rank - 2], shape[rank - 1])
        let (cosines, sines) = (cos.contiguousWithoutTape(), sin.contiguousWithoutTape())
        let output = Tensor.rotate(contiguousWithoutTape(), positions: positions, width: width, cos: cosines, sin: sines, inverse: false)
        return Tensor.record("rotary", inputs: [self], output: output) { gradient in
            [Tensor.rotate(gradient.contiguousWithoutTape(), positions: positions, width: width, cos: cosines, sin: sines, inverse: true)]
        }
    }

    /// The forward rotation, or its transpose (the backward) when `inverse` is true.
    private static func rotate(_ x: Tensor, positions: Int, width: Int, cos: Tensor, sin: Tensor, inverse: Bool) -> Tensor {
        let output = Tensor.empty(x.shape)
        let half = width / 2, rows = x.count / Swift.max(width, 1)
        withExtendedLifetime((x, cos, sin)) {
            let (input, result, c, s) = (x.pointer, output.pointer, cos.pointer, sin.pointer)
            Threading.parallelRows(rows, rowLength: width) { range in
                for row in range {
                    let (from, to) = (input + row * width, result + row * width)
                    let table = (row % positions) * width
                    for i in 0..<half {
                        let (low, high) = (from[i], from[i + half])
                        if inverse {
                            to[i] = low * c[table + i] + high * s[table + i + half]
                            to[i + half] = high * c[table + i + half] - low * s[table + i]
                        } else {
                            to[i] = low * c[table + i] - high * s[table + i]
                            to[i + half] = high * c[table + i + half] + low * s[table + i + half]
                        }
                    }
                }
            }
        }
        return output
    }
}
