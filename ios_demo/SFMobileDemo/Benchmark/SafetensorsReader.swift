import Foundation

/// A reader for the parity bundle's .safetensors files: an 8-byte little-endian header length N,
/// N bytes of JSON ({name: {"dtype", "shape", "data_offsets": [begin, end]}}, plus an optional
/// "__metadata__"), then the raw little-endian tensor data; offsets count from the end of the
/// header. The file is memory-mapped. dtypes: U8, I64, F32, F16 (what sf-export writes).
struct SafetensorsFile {
    enum DType: String {
        case u8 = "U8"
        case i64 = "I64"
        case f32 = "F32"
        case f16 = "F16"

        var size: Int {
            switch self {
            case .u8: return 1
            case .f16: return 2
            case .f32: return 4
            case .i64: return 8
            }
        }
    }

    struct Tensor {
        let name: String
        let dtype: DType
        let shape: [Int]
        let data: Data  // exactly count x dtype.size bytes (a slice of the file: indices need not start at 0)

        var count: Int { shape.reduce(1, *) }

        func bytes() throws -> [UInt8] {
            guard dtype == .u8 else { throw SafetensorsError.dtype(name, dtype.rawValue, "U8") }
            return [UInt8](data)
        }

        func int64s() throws -> [Int64] {
            guard dtype == .i64 else { throw SafetensorsError.dtype(name, dtype.rawValue, "I64") }
            return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                (0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            }
        }

        func ints() throws -> [Int] { try int64s().map { Int($0) } }

        /// F32 or F16 as Float.
        func floats() throws -> [Float] {
            switch dtype {
            case .f32:
                return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                    (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                }
            case .f16:
                let bits: [UInt16] = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                    (0..<count).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
                }
                return Half.toFloat(bits)
            default:
                throw SafetensorsError.dtype(name, dtype.rawValue, "F32 or F16")
            }
        }
    }

    let tensors: [String: Tensor]

    init(url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafetensorsError.unreadable("\(url.lastPathComponent): \(error.localizedDescription)")
        }
        try self.init(data: data, name: url.lastPathComponent)
    }

    init(data: Data, name: String = "safetensors") throws {
        guard data.count >= 8 else { throw SafetensorsError.format("\(name) is shorter than its 8-byte header length") }
        let headerLength = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw SafetensorsError.format("\(name) declares a \(headerLength)-byte header but has \(data.count - 8) bytes after the length")
        }
        let start = data.startIndex
        let headerEnd = start + 8 + Int(headerLength)
        let header = data.subdata(in: (start + 8)..<headerEnd)
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw SafetensorsError.format("\(name) has a header that is not a JSON object")
        }
        let payload = data.count - 8 - Int(headerLength)
        var tensors: [String: Tensor] = [:]
        for (key, value) in object where key != "__metadata__" {
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2 else {
                throw SafetensorsError.format("\(name): tensor \(key) lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SafetensorsError.dtype(key, dtypeName, "U8, I64, F32 or F16")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw SafetensorsError.format("\(name): tensor \(key) has a negative dimension") }
            let count = shape.reduce(1, *)
            let begin = offsets[0]
            let end = offsets[1]
            guard begin >= 0, begin <= end, end <= payload else {
                throw SafetensorsError.format("\(name): tensor \(key) spans bytes \(begin)..<\(end) of a \(payload)-byte payload")
            }
            guard end - begin == count * dtype.size else {
                throw SafetensorsError.format("\(name): tensor \(key) has \(end - begin) bytes for \(count) \(dtype.rawValue) values")
            }
            // a slice, not a copy: it shares the mapped file's pages
            tensors[key] = Tensor(name: key, dtype: dtype, shape: shape, data: data[(headerEnd + begin)..<(headerEnd + end)])
        }
        self.tensors = tensors
    }

    func tensor(_ name: String) throws -> Tensor {
        guard let tensor = tensors[name] else { throw SafetensorsError.missing(name) }
        return tensor
    }
}

enum SafetensorsError: Error, LocalizedError, Equatable {
    case unreadable(String)
    case format(String)
    case dtype(String, String, String)
    case missing(String)

    var errorDescription: String? {
        switch self {
        case .unreadable(let text), .format(let text):
            return text
        case .dtype(let name, let found, let wanted):
            return "tensor \(name) is \(found), expected \(wanted)"
        case .missing(let name):
            return "no tensor \(name)"
        }
    }
}
