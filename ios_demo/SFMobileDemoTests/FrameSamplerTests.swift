import XCTest
@testable import SFMobileDemo

/// FrameSampler against tests/vectors/frame_sampling.json: Python's sample_times and pick_frames
/// over constant and variable frame rates, both strategies, the FPS -> uniform fallbacks.
final class FrameSamplerTests: XCTestCase {
    private struct Vectors: Decodable {
        let cases: [Case]
    }

    private struct Case: Decodable {
        let name: String
        let strategy: String
        let fps: Double?
        let maxFrames: Int
        let durationS: Double
        let frameTimesS: [Double]
        let targetTimesS: [Double]
        let indices: [Int]

        enum CodingKeys: String, CodingKey {
            case name, strategy, fps, indices
            case maxFrames = "max_frames"
            case durationS = "duration_s"
            case frameTimesS = "frame_times_s"
            case targetTimesS = "target_times_s"
        }
    }

    private func cases() throws -> [Case] {
        let vectors = try VectorFiles.decode(Vectors.self, from: "frame_sampling.json")
        XCTAssertFalse(vectors.cases.isEmpty, "frame_sampling.json holds no cases")
        return vectors.cases
    }

    private func rule(_ c: Case) throws -> FrameSampler.Rule {
        let strategy = try XCTUnwrap(FrameSampler.Strategy(rawValue: c.strategy), "\(c.name): unknown strategy")
        // uniform cases carry fps null; the rule ignores fps for them
        return FrameSampler.Rule(strategy: strategy, fps: c.fps ?? 1.0, maxFrames: c.maxFrames)
    }

    func testTargetTimesMatchPython() throws {
        for c in try cases() {
            let times = FrameSampler.sampleTimes(duration: c.durationS, rule: try rule(c))
            XCTAssertEqual(times.count, c.targetTimesS.count, "\(c.name): target count")
            for (got, want) in zip(times, c.targetTimesS) {
                // the same IEEE double operations as Python: equal up to JSON's shortest repr round trip
                XCTAssertEqual(got, want, accuracy: 1e-12 * max(1, abs(want)), "\(c.name)")
            }
        }
    }

    func testPickedIndicesMatchPython() throws {
        for c in try cases() {
            XCTAssertEqual(FrameSampler.pickFrames(frameTimes: c.frameTimesS, targets: c.targetTimesS), c.indices, c.name)
        }
    }

    func testEndToEndIndicesMatchPython() throws {
        for c in try cases() {
            let targets = FrameSampler.sampleTimes(duration: c.durationS, rule: try rule(c))
            XCTAssertEqual(FrameSampler.pickFrames(frameTimes: c.frameTimesS, targets: targets), c.indices, c.name)
        }
    }

    func testBisectRightMatchesPython() {
        let times = [0.0, 0.5, 0.5, 1.0]
        XCTAssertEqual(FrameSampler.bisectRight(times, -1), 0)
        XCTAssertEqual(FrameSampler.bisectRight(times, 0.5), 3)
        XCTAssertEqual(FrameSampler.bisectRight(times, 0.75), 3)
        XCTAssertEqual(FrameSampler.bisectRight(times, 2), 4)
    }

    func testGraphTargetsAlwaysFillTheFrameBudget() {
        let rule = FrameSampler.Rule(strategy: .fps, fps: 2, maxFrames: 8)
        // 1 s at 2 fps gives 2 targets: a graph built for 8 frames gets 8 uniform ones instead
        XCTAssertEqual(FrameSampler.graphTargets(duration: 1, rule: rule, frames: 8), FrameSampler.uniformTimes(duration: 1, count: 8))
        // 4.2 s at 2 fps gives exactly 8: the preset's rule stands
        XCTAssertEqual(FrameSampler.graphTargets(duration: 4.2, rule: rule, frames: 8), FrameSampler.fpsTimes(duration: 4.2, fps: 2, limit: 8))
    }
}
