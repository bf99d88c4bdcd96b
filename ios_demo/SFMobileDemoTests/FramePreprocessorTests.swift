import CoreGraphics
import XCTest
@testable import SFMobileDemo

/// FramePreprocessor against sf_mobile/video/preprocess.py `resize_frames`. The expected values
/// were printed by that function (torch's antialiased bicubic, round, clamp, centre crop) for
/// the synthetic frames `pattern(height:width:)` builds; the rotations by numpy's rot90.
final class FramePreprocessorTests: XCTestCase {
    /// value(y, x, c) = (c*37 + y*11 + x*7 + ((x*y) % 5)*13) % 256, uint8 [H, W, 3]
    private func pattern(height: Int, width: Int) -> RGBFrame {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    pixels.append(UInt8((c * 37 + y * 11 + x * 7 + ((x * y) % 5) * 13) % 256))
                }
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }

    func testDownscaleLikeTorch() {
        let out = FramePreprocessor.preprocess(pattern(height: 7, width: 5), side: 3, mode: .squash)
        XCTAssertEqual(out, [14, 40, 60, 51, 82, 87, 67, 90, 104, 51, 77, 97, 88, 119, 124, 104, 127, 141,
                             88, 114, 134, 125, 156, 161, 141, 164, 178])
    }

    func testUpscaleLikeTorch() {
        let out = FramePreprocessor.preprocess(pattern(height: 4, width: 6), side: 6, mode: .squash)
        XCTAssertEqual(out, [0, 5, 12, 18, 24, 34, 5, 17, 29, 45, 58, 40, 13, 35, 58, 72, 94, 48, 20, 51, 86, 55, 90, 55, 28, 69, 75,
                             82, 88, 63, 34, 81, 58, 109, 87, 69, 36, 42, 49, 55, 61, 71, 42, 54, 66, 82, 95, 77, 50, 72, 95, 109, 131,
                             85, 57, 88, 123, 92, 127, 92, 65, 106, 112, 119, 125, 100, 71, 118, 95, 146, 124, 106, 73, 79, 86, 92, 98,
                             108, 79, 91, 103, 119, 132, 114, 87, 109, 132, 146, 168, 122, 94, 125, 160, 129, 164, 129, 102, 143, 149,
                             156, 162, 137, 108, 155, 132, 183, 161, 143])
    }

    func testShortestEdgeResizeThenCentreCropLikeTorch() {
        let size = FramePreprocessor.shortestEdgeSize(height: 6, width: 10, side: 4)
        XCTAssertEqual(size.height, 4)
        XCTAssertEqual(size.width, 6, "long side truncated: int(4 * 10 / 6) = 6")
        let out = FramePreprocessor.preprocess(pattern(height: 6, width: 10), side: 4, mode: .shortestEdgeCrop)
        XCTAssertEqual(out, [25, 45, 43, 61, 67, 79, 68, 102, 86, 88, 92, 121, 81, 82, 97, 116, 62, 82, 80, 98, 104, 116, 105, 139,
                             123, 125, 129, 158, 118, 119, 134, 153, 99, 119, 117, 135, 141, 153, 142, 176, 160, 162, 166, 195,
                             155, 156, 171, 190])
    }

    func testStrongDownscaleLikeTorch() {
        let out = FramePreprocessor.preprocess(pattern(height: 40, width: 30), side: 8, mode: .squash)
        let expected: [UInt8] = [
            53, 78, 105, 132, 161, 189, 213, 137, 107, 132, 160, 193, 195, 190, 109, 68, 165, 192, 213, 141, 94, 63, 55, 89, 190, 172, 84,
            54, 59, 88, 119, 148, 102, 64, 59, 93, 122, 149, 178, 207, 66, 93, 124, 151, 183, 193, 202, 126, 127, 154, 183, 213, 168, 109,
            70, 55, 184, 191, 205, 127, 75, 53, 77, 112, 90, 115, 143, 172, 205, 190, 117, 76, 143, 172, 197, 204, 152, 93, 54, 68, 210,
            196, 124, 83, 55, 65, 100, 130, 120, 78, 49, 71, 102, 129, 157, 189, 50, 71, 105, 133, 161, 190, 214, 145, 108, 134, 162, 195,
            198, 184, 102, 68, 167, 192, 211, 141, 95, 63, 56, 91, 183, 163, 89, 57, 60, 89, 121, 149, 126, 154, 184, 216, 164, 106, 62,
            58, 187, 198, 206, 119, 73, 54, 78, 110, 165, 113, 74, 54, 80, 110, 139, 169, 71, 54, 82, 114, 141, 169, 195, 205, 86, 115,
            144, 173, 205, 193, 125, 86, 145, 174, 200, 206, 153, 93, 53, 68, 209, 195, 124, 85, 57, 67, 102, 132, 132, 84, 51, 72, 103,
            131, 158, 186,
        ]
        XCTAssertEqual(out, expected)
    }

    func testSameSizeIsAnExactCopy() {
        let frame = pattern(height: 5, width: 5)
        let out = FramePreprocessor.preprocess(frame, side: 5, mode: .squash)
        for y in 0..<5 {
            for x in 0..<5 {
                for c in 0..<3 {
                    XCTAssertEqual(out[(c * 5 + y) * 5 + x], frame.pixels[(y * 5 + x) * 3 + c])
                }
            }
        }
    }

    func testRotationsLikeNumpyRot90() {
        let frame = pattern(height: 2, width: 3)
        let one = frame.rotated(quarterTurns: 1)
        XCTAssertEqual([one.height, one.width], [3, 2])
        XCTAssertEqual(one.pixels, [14, 51, 88, 51, 88, 125, 7, 44, 81, 31, 68, 105, 0, 37, 74, 11, 48, 85])
        XCTAssertEqual(frame.rotated(quarterTurns: 2).pixels, [51, 88, 125, 31, 68, 105, 11, 48, 85, 14, 51, 88, 7, 44, 81, 0, 37, 74])
        XCTAssertEqual(frame.rotated(quarterTurns: 3).pixels, [11, 48, 85, 0, 37, 74, 31, 68, 105, 7, 44, 81, 51, 88, 125, 14, 51, 88])
        XCTAssertEqual(frame.rotated(quarterTurns: 4), frame)
    }

    func testPreferredTransformToQuarterTurns() {
        // a phone's portrait clip: stored landscape, shown turned 90 degrees clockwise -> rot90 k = 3
        XCTAssertEqual(FrameReader.quarterTurns(CGAffineTransform(a: 0, b: 1, c: -1, d: 0, tx: 0, ty: 0)), 3)
        XCTAssertEqual(FrameReader.quarterTurns(CGAffineTransform(a: 0, b: -1, c: 1, d: 0, tx: 0, ty: 0)), 1)
        XCTAssertEqual(FrameReader.quarterTurns(CGAffineTransform(a: -1, b: 0, c: 0, d: -1, tx: 0, ty: 0)), 2)
        XCTAssertEqual(FrameReader.quarterTurns(.identity), 0)
    }

    func testPackedFramesUnpackLikeTheCoreMLRuntime() throws {
        // packed [3, T*S, S] with T = 2, S = 1: channel-major rows of frames
        let packed: [UInt8] = [10, 11, 20, 21, 30, 31]  // c0: t0 t1, c1: t0 t1, c2: t0 t1
        XCTAssertEqual(try VisionEncoder.unpack(packed, frames: 2, side: 1), [10, 20, 30, 11, 21, 31])
    }

    func testDurationRuleOfDecodePy() {
        XCTAssertEqual(FrameReader.duration(lastTime: 1.0, lastDuration: 0.04, times: [0, 1.0], rate: 25), 1.04, accuracy: 1e-12)
        XCTAssertEqual(FrameReader.duration(lastTime: 1.0, lastDuration: nil, times: [0, 0.5, 1.0], rate: 25), 1.5)
        XCTAssertEqual(FrameReader.duration(lastTime: 0, lastDuration: nil, times: [0], rate: 25), 0.04)
        XCTAssertEqual(FrameReader.duration(lastTime: 0, lastDuration: nil, times: [0], rate: nil), 0)
    }
}
