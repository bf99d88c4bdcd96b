import Foundation

/// An upright RGB frame: `height` x `width` x 3 bytes, row-major (what PyAV's rgb24 gives Python).
struct RGBFrame: Equatable {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGB frame needs width * height * 3 bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// `quarterTurns` counter-clockwise quarter turns, as numpy's rot90(rgb, k) on [H, W, 3].
    func rotated(quarterTurns: Int) -> RGBFrame {
        let k = ((quarterTurns % 4) + 4) % 4
        if k == 0 { return self }
        let outW = k == 2 ? width : height
        let outH = k == 2 ? height : width
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<outH {
            for x in 0..<outW {
                // source pixel shown at (y, x) after k counter-clockwise turns
                let sy: Int
                let sx: Int
                switch k {
                case 1:
                    sy = x
                    sx = width - 1 - y
                case 2:
                    sy = height - 1 - y
                    sx = width - 1 - x
                default:
                    sy = height - 1 - x
                    sx = y
                }
                let src = (sy * width + sx) * 3
                let dst = (y * outW + x) * 3
                out[dst] = pixels[src]
                out[dst + 1] = pixels[src + 1]
                out[dst + 2] = pixels[src + 2]
            }
        }
        return RGBFrame(width: outW, height: outH, pixels: out)
    }
}

/// Frames to the vision model's square input, exactly as sf_mobile/video/preprocess.py does:
/// bicubic (Keys a = -0.5) with antialiasing on float32, separable (width first, then height,
/// as torch's CPU kernel), then round half to even and clamp to 0...255; then a centre crop
/// whose offset floors. Mean/std normalisation is inside the exported graph, so the output is
/// raw 0...255 values, planar [3, S, S].
///
/// Numeric note: the weights and sums follow torch's `_compute_weights_aa` and upsample kernel in
/// float32, but the summation order of a compiled Swift loop can differ from torch's vectorised
/// one in the last bit; a value that lands within ~1e-4 of .5 may round the other way (seen
/// nowhere in a 39K-value comparison, possible in principle).
enum FramePreprocessor {
    enum ResizeMode: String {
        case squash
        case shortestEdgeCrop = "shortest_edge_crop"
    }

    /// uint8 RGB [H, W, 3] -> uint8 planar [3, side, side].
    static func preprocess(_ frame: RGBFrame, side: Int, mode: ResizeMode) -> [UInt8] {
        let size: (height: Int, width: Int)
        switch mode {
        case .squash:
            size = (side, side)
        case .shortestEdgeCrop:
            size = shortestEdgeSize(height: frame.height, width: frame.width, side: side)
        }
        let planar = resize(frame, height: size.height, width: size.width)
        let top = (size.height - side) / 2
        let left = (size.width - side) / 2
        if top == 0 && left == 0 && size.height == side && size.width == side {
            return planar
        }
        var out = [UInt8](repeating: 0, count: 3 * side * side)
        for c in 0..<3 {
            for y in 0..<side {
                let src = (c * size.height + top + y) * size.width + left
                let dst = (c * side + y) * side
                for x in 0..<side {
                    out[dst + x] = planar[src + x]
                }
            }
        }
        return out
    }

    /// Hugging Face's get_resize_output_image_size: the short side becomes `side`, the long side
    /// is truncated with int(), not rounded.
    static func shortestEdgeSize(height: Int, width: Int, side: Int) -> (height: Int, width: Int) {
        if height <= width {
            return (side, Int(Double(side) * Double(width) / Double(height)))
        }
        return (Int(Double(side) * Double(height) / Double(width)), side)
    }

    /// uint8 RGB [H, W, 3] -> uint8 planar [3, height, width]; a same-size frame is copied exactly.
    static func resize(_ frame: RGBFrame, height outH: Int, width outW: Int) -> [UInt8] {
        let inH = frame.height
        let inW = frame.width
        var planar = [Float](repeating: 0, count: 3 * inH * inW)
        for y in 0..<inH {
            for x in 0..<inW {
                let src = (y * inW + x) * 3
                for c in 0..<3 {
                    planar[(c * inH + y) * inW + x] = Float(frame.pixels[src + c])
                }
            }
        }
        if inH == outH && inW == outW {
            return planar.map { UInt8($0) }
        }
        let columns = AntialiasWeights(inputSize: inW, outputSize: outW)
        let rows = AntialiasWeights(inputSize: inH, outputSize: outH)
        // width pass: [3, inH, inW] -> [3, inH, outW]
        var horizontal = [Float](repeating: 0, count: 3 * inH * outW)
        planar.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { dst in
                for line in 0..<(3 * inH) {
                    let srcRow = line * inW
                    let dstRow = line * outW
                    for o in 0..<outW {
                        let start = columns.starts[o]
                        let base = o * columns.maxTaps
                        var sum: Float = 0
                        for j in 0..<columns.counts[o] {
                            sum += src[srcRow + start + j] * columns.weights[base + j]
                        }
                        dst[dstRow + o] = sum
                    }
                }
            }
        }
        // height pass: [3, inH, outW] -> [3, outH, outW], then round half to even and clamp
        var out = [UInt8](repeating: 0, count: 3 * outH * outW)
        horizontal.withUnsafeBufferPointer { src in
            for c in 0..<3 {
                for o in 0..<outH {
                    let start = rows.starts[o]
                    let base = o * rows.maxTaps
                    for x in 0..<outW {
                        var sum: Float = 0
                        for j in 0..<rows.counts[o] {
                            sum += src[(c * inH + start + j) * outW + x] * rows.weights[base + j]
                        }
                        let rounded = sum.rounded(.toNearestOrEven)
                        out[(c * outH + o) * outW + x] = UInt8(min(max(rounded, 0), 255))
                    }
                }
            }
        }
        return out
    }
}

/// Per output index: the first input index, the tap count and the normalised weights of torch's
/// antialiased bicubic (`_compute_weights_aa` with interp_size 4, align_corners=False).
struct AntialiasWeights {
    let starts: [Int]
    let counts: [Int]
    let weights: [Float]  // outputSize x maxTaps, zero-padded
    let maxTaps: Int

    init(inputSize: Int, outputSize: Int) {
        // The mixed float/double arithmetic below is torch's, expression by expression:
        // scalar_t (float) variables, double literals (0.5) promoting the expressions they touch.
        let scale = Float(inputSize) / Float(outputSize)
        let support: Float = scale >= 1 ? 2 * scale : 2
        let invScale: Float = scale >= 1 ? Float(1.0 / Double(scale)) : 1
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outputSize)
        var counts = [Int](repeating: 0, count: outputSize)
        var weights = [Float](repeating: 0, count: outputSize * maxTaps)
        for i in 0..<outputSize {
            let center = Float(Double(scale) * (Double(i) + 0.5))
            // static_cast<int64_t> truncates toward zero, then the clamp to the image
            let xmin = max(Int(Double(center - support) + 0.5), 0)
            let xsize = min(Int(Double(center + support) + 0.5), inputSize) - xmin
            var total: Float = 0
            for j in 0..<xsize {
                let offset = Float(j + xmin) - center
                let w = AntialiasWeights.cubic(Float((Double(offset) + 0.5) * Double(invScale)))
                weights[i * maxTaps + j] = w
                total += w
            }
            if total != 0 {
                for j in 0..<xsize {
                    weights[i * maxTaps + j] /= total
                }
            }
            starts[i] = xmin
            counts[i] = xsize
        }
        self.starts = starts
        self.counts = counts
        self.weights = weights
        self.maxTaps = maxTaps
    }

    /// Keys' cubic convolution kernel with a = -0.5 (torch's bicubic aa filter).
    static func cubic(_ value: Float) -> Float {
        let a: Float = -0.5
        let x = abs(value)
        if x < 1 {
            return ((a + 2) * x - (a + 3)) * x * x + 1
        }
        if x < 2 {
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        }
        return 0
    }
}
