import CoreML
import Foundation

enum ModelError: Error, LocalizedError {
    case load(String)
    case shape(String)
    case prediction(String)

    var errorDescription: String? {
        switch self {
        case .load(let text), .shape(let text), .prediction(let text):
            return text
        }
    }
}

/// MLMultiArray in and out.
///
/// Inputs are built over buffers this code allocates with explicit C-contiguous strides, so the
/// layout written is the layout Core ML reads. Outputs are read through their `strides`: arrays
/// coming back from the Neural Engine may pad their rows (e.g. [1, N, D] with a row stride > D).
enum MultiArrays {
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }

    /// An fp16 array of `shape` holding `bits` (fp16 bit patterns, row-major).
    static func float16(shape: [Int], bits: UnsafeBufferPointer<UInt16>) throws -> MLMultiArray {
        let count = shape.reduce(1, *)
        guard bits.count == count else {
            throw ModelError.shape("fp16 input of shape \(shape) needs \(count) values, got \(bits.count)")
        }
        let memory = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        if let source = bits.baseAddress {
            memory.update(from: source, count: count)
        }
        return try MLMultiArray(dataPointer: memory, shape: shape.map { NSNumber(value: $0) }, dataType: .float16,
                                strides: contiguousStrides(shape).map { NSNumber(value: $0) },
                                deallocator: { pointer in pointer.deallocate() })
    }

    static func float16(shape: [Int], bits: [UInt16]) throws -> MLMultiArray {
        try bits.withUnsafeBufferPointer { try float16(shape: shape, bits: $0) }
    }

    /// An int32 vector.
    static func int32(_ values: [Int32]) throws -> MLMultiArray {
        let memory = UnsafeMutablePointer<Int32>.allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress {
                memory.update(from: base, count: values.count)
            }
        }
        return try MLMultiArray(dataPointer: memory, shape: [NSNumber(value: values.count)], dataType: .int32,
                                strides: [1], deallocator: { pointer in pointer.deallocate() })
    }

    /// Every element as Float in row-major logical order, whatever the dtype and strides.
    static func floats(_ array: MLMultiArray) throws -> [Float] {
        let shape = array.shape.map { $0.intValue }
        let strides = array.strides.map { $0.intValue }
        let count = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return out }
        let rank = shape.count
        let inner = shape[rank - 1]
        let innerStride = strides[rank - 1]
        let rows = count / inner
        let dataType = array.dataType
        let supported: [MLMultiArrayDataType] = [.float16, .float32, .double, .int32]
        guard supported.contains(dataType) else {
            throw ModelError.prediction("unsupported output data type \(dataType.rawValue)")
        }
        array.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { dst in
                var index = [Int](repeating: 0, count: max(rank - 1, 0))
                for row in 0..<rows {
                    var offset = 0
                    for axis in 0..<(rank - 1) {
                        offset += index[axis] * strides[axis]
                    }
                    let target = dst.baseAddress! + row * inner
                    switch dataType {
                    case .float16:
                        let base = raw.baseAddress!.assumingMemoryBound(to: UInt16.self) + offset
                        if innerStride == 1 {
                            Half.toFloat(base, target, count: inner)
                        } else {
                            for i in 0..<inner { target[i] = Half.float(base[i * innerStride]) }
                        }
                    case .float32:
                        let base = raw.baseAddress!.assumingMemoryBound(to: Float.self) + offset
                        for i in 0..<inner { target[i] = base[i * innerStride] }
                    case .double:
                        let base = raw.baseAddress!.assumingMemoryBound(to: Double.self) + offset
                        for i in 0..<inner { target[i] = Float(base[i * innerStride]) }
                    default:
                        let base = raw.baseAddress!.assumingMemoryBound(to: Int32.self) + offset
                        for i in 0..<inner { target[i] = Float(base[i * innerStride]) }
                    }
                    // advance the multi-index over all axes but the last
                    var axis = rank - 2
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < shape[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return out
    }
}
