import XCTest
@testable import SFMobileDemo

/// SafetensorsFile on files built byte by byte here, in the layout safetensors writes
/// (and sf-export's parity bundle uses): header length, JSON header, little-endian data.
final class SafetensorsReaderTests: XCTestCase {
    private func file(header: String, payload: [UInt8], padTo alignment: Int = 8) -> Data {
        var json = Array(header.utf8)
        while json.count % alignment != 0 { json.append(0x20) }  // safetensors pads the header with spaces
        var data = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: json)
        data.append(contentsOf: payload)
        return data
    }

    private func bytes<T>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }  // the test hosts are little-endian, as the format is
    }

    func testReadsEveryDtypeTheBundleUses() throws {
        let ids: [Int64] = [1, 424, -3]
        let floats: [Float] = [0.5, -2.25, 1e-3, 65504]
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]  // 1, -2, 65504, smallest subnormal
        let frames: [UInt8] = [0, 127, 255, 3, 4, 5]
        var payload = bytes(ids)
        payload += bytes(floats)
        payload += bytes(halves)
        payload += frames
        let header = #"""
            {"__metadata__":{"format":"pt"},"ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},"logits":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]},"half":{"dtype":"F16","shape":[4],"data_offsets":[40,48]},"frames":{"dtype":"U8","shape":[1,2,3],"data_offsets":[48,54]}}
            """#
        let reader = try SafetensorsFile(data: file(header: header, payload: payload))
        XCTAssertEqual(try reader.tensor("ids").int64s(), ids)
        XCTAssertEqual(try reader.tensor("ids").ints(), [1, 424, -3])
        XCTAssertEqual(try reader.tensor("logits").floats(), floats)
        XCTAssertEqual(try reader.tensor("logits").shape, [2, 2])
        XCTAssertEqual(try reader.tensor("half").floats(), [1, -2, 65504, Float(sign: .plus, exponent: -24, significand: 1)])
        XCTAssertEqual(try reader.tensor("frames").bytes(), frames)
        XCTAssertNil(reader.tensors["__metadata__"])
    }

    func testHalfScalarAgreesWithVImage() {
        let bits: [UInt16] = [0x0000, 0x8000, 0x3C00, 0x3555, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0xD8F0]
        let bulk = Half.toFloat(bits)
        for (index, pattern) in bits.enumerated() {
            XCTAssertEqual(Half.float(pattern), bulk[index], "bits \(String(pattern, radix: 16))")
        }
        XCTAssertEqual(Half.bits(-10000), 0xF0E2, "the export's mask value -1e4 is exact in fp16")
        XCTAssertEqual(Half.fromFloat([0, 1, 255]), [0x0000, 0x3C00, 0x5BF8])
    }

    func testRejectsMalformedFiles() {
        XCTAssertThrowsError(try SafetensorsFile(data: Data([1, 2, 3])), "shorter than the length")
        var tooLong = Data()
        var length = UInt64(1000).littleEndian
        withUnsafeBytes(of: &length) { tooLong.append(contentsOf: $0) }
        XCTAssertThrowsError(try SafetensorsFile(data: tooLong), "header past the end")
        let outside = #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        XCTAssertThrowsError(try SafetensorsFile(data: file(header: outside, payload: [0, 0, 0, 0])), "data past the end")
        let wrongSize = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#
        XCTAssertThrowsError(try SafetensorsFile(data: file(header: wrongSize, payload: [0, 0, 0, 0])), "bytes do not fit the shape")
        let unknown = #"{"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#
        XCTAssertThrowsError(try SafetensorsFile(data: file(header: unknown, payload: [0, 0])), "dtype outside the bundle's")
    }

    func testWrongAccessorIsAnError() throws {
        let header = #"{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        let reader = try SafetensorsFile(data: file(header: header, payload: [1, 2]))
        XCTAssertThrowsError(try reader.tensor("x").floats())
        XCTAssertThrowsError(try reader.tensor("missing"))
    }
}
