import XCTest
@testable import SFMobileDemo

/// Median, nearest-rank p90 and the runner stats, as sf_mobile/bench/latency.py computes them.
final class LatencyStatsTests: XCTestCase {
    func testMedianLikePythonStatistics() {
        XCTAssertEqual(LatencyStats.median([3, 1, 2]), 2)
        XCTAssertEqual(LatencyStats.median([4, 1, 3, 2]), 2.5)
        XCTAssertEqual(LatencyStats.median([7]), 7)
    }

    func testP90ByNearestRank() {
        // sorted[max(0, ceil(0.9 * n) - 1)]
        XCTAssertEqual(LatencyStats.nearestRank([5], 0.9), 5)
        XCTAssertEqual(LatencyStats.nearestRank([3, 1, 2], 0.9), 3)
        XCTAssertEqual(LatencyStats.nearestRank(Array(1...10).map(Double.init), 0.9), 9)
        XCTAssertEqual(LatencyStats.nearestRank(Array(1...11).map(Double.init), 0.9), 10)
        XCTAssertEqual(LatencyStats.nearestRank(Array(1...20).map(Double.init), 0.9), 18)
    }

    func testSummaryRoundsToThreeDecimals() {
        let runs = [RunTimes(visionMs: 1.23456, embeddingMs: 0, prefillMs: 10, prefillTokens: 100, decodeMs: 0, decodeTokens: 0, frames: 2)]
        let latency = LatencyStats.summarize(runs, warmup: 0)
        XCTAssertEqual(latency.metrics["vision_ms"]?.samples, [1.235])
        XCTAssertEqual(latency.metrics["vision_ms_per_frame"]?.median, 0.617)
        XCTAssertEqual(latency.metrics["prefill_tok_s"]?.median, 10000)
        XCTAssertNil(latency.metrics["decode_tok_s"], "no decode time: no rate, never a NaN")
    }

    func testRunnerStatsFollowExecutorchStats() throws {
        let runs = [
            RunTimes(visionMs: 10, embeddingMs: 1, prefillMs: 100, prefillTokens: 150, decodeMs: 300, decodeTokens: 15, frames: 8),
            RunTimes(visionMs: 20, embeddingMs: 1, prefillMs: 100, prefillTokens: 150, decodeMs: 320, decodeTokens: 15, frames: 8),
            RunTimes(visionMs: 30, embeddingMs: 1, prefillMs: 100, prefillTokens: 150, decodeMs: 340, decodeTokens: 15, frames: 8),
        ]
        let stats = try XCTUnwrap(LatencyStats.runnerStats(runs, loadMs: 500))
        // the median run by time to first token is the second: 121 ms
        XCTAssertEqual(stats["model_load_start_ms"], .number(0))
        XCTAssertEqual(stats["model_load_end_ms"], .number(500))
        XCTAssertEqual(stats["inference_start_ms"], .number(500))
        XCTAssertEqual(stats["prompt_eval_end_ms"], .number(621))
        XCTAssertEqual(stats["first_token_ms"], .number(621))
        XCTAssertEqual(stats["inference_end_ms"], .number(941))
        XCTAssertEqual(stats["num_prompt_tokens"], .number(150))
        XCTAssertEqual(stats["num_generated_tokens"], .number(16))
    }
}
