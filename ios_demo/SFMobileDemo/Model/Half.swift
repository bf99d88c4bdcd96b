import Accelerate
import Foundation

/// IEEE half-precision values kept as their 16-bit patterns.
///
/// Swift's `Float16` type does not exist on Intel Macs (x86_64), and this app also builds a
/// native macOS target, so fp16 data (Core ML inputs/outputs, token_embeddings.f16) is handled
/// as `UInt16` bits: vImage converts arrays (round to nearest even, as numpy's astype does),
/// the scalar functions below serve single values and tests.
enum Half {
    /// fp16 bits -> Float for `count` values.
    static func toFloat(_ source: UnsafePointer<UInt16>, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var src = vImage_Buffer(data: UnsafeMutableRawPointer(mutating: source), height: 1,
                                width: vImagePixelCount(count), rowBytes: count * MemoryLayout<UInt16>.stride)
        var dst = vImage_Buffer(data: UnsafeMutableRawPointer(destination), height: 1,
                                width: vImagePixelCount(count), rowBytes: count * MemoryLayout<Float>.stride)
        vImageConvert_Planar16FtoPlanarF(&src, &dst, vImage_Flags(kvImageNoFlags))
    }

    /// Float -> fp16 bits for `count` values (round to nearest even; overflow becomes infinity).
    static func fromFloat(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<UInt16>, count: Int) {
        guard count > 0 else { return }
        var src = vImage_Buffer(data: UnsafeMutableRawPointer(mutating: source), height: 1,
                                width: vImagePixelCount(count), rowBytes: count * MemoryLayout<Float>.stride)
        var dst = vImage_Buffer(data: UnsafeMutableRawPointer(destination), height: 1,
                                width: vImagePixelCount(count), rowBytes: count * MemoryLayout<UInt16>.stride)
        vImageConvert_PlanarFtoPlanar16F(&src, &dst, vImage_Flags(kvImageNoFlags))
    }

    static func toFloat(_ bits: [UInt16]) -> [Float] {
        var out = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    toFloat(s, d, count: bits.count)
                }
            }
        }
        return out
    }

    static func fromFloat(_ values: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    fromFloat(s, d, count: values.count)
                }
            }
        }
        return out
    }

    /// One fp16 bit pattern as a Float (exact: every half is a float).
    static func float(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // inf / nan
        }
        if exponent == 0 {
            // subnormal: mantissa x 2^-24
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }

    /// One Float as fp16 bits, rounding to nearest even (through the vImage path above).
    static func bits(_ value: Float) -> UInt16 {
        fromFloat([value])[0]
    }
}
