import XCTest
@testable import SFMobileDemo

/// The result benchmark mode writes against tests/vectors/bench_result_ios.json, the sample the
/// host's parser (sf_mobile/bench/devices/protocol.py read_result) is tested with: decoding it
/// into the app's own encoder types and writing it back must give the same JSON tree, so the app
/// writes exactly the layout the host parses (every key, nulls as null).
final class BenchResultEncodingTests: XCTestCase {
    private func tree(_ data: Data) throws -> NSObject {
        try XCTUnwrap(JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? NSObject)
    }

    func testSampleRoundTripsThroughTheAppsTypes() throws {
        let sample = try VectorFiles.data("bench_result_ios.json")
        let decoded = try JSONDecoder().decode(BenchResult.self, from: sample)
        XCTAssertEqual(decoded.name, BenchResult.iosBackend)
        XCTAssertEqual(decoded.kind, "device")
        let written = try decoded.encoded()
        XCTAssertEqual(try tree(written), try tree(sample), "re-encoded result differs from bench_result_ios.json:\n\(String(decoding: written, as: UTF8.self))")
    }

    func testNullsAreWrittenNotOmitted() throws {
        let result = BenchmarkRunner.failed(reason: "missing parity/parity.json", compute: nil)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: result.encoded()) as? [String: Any])
        for key in ["name", "kind", "status", "reason", "accuracy_only", "device", "parity", "latency", "stats", "memory", "roofline"] {
            XCTAssertNotNil(object[key], "key \(key) is missing")
        }
        XCTAssertTrue(object["latency"] is NSNull)
        XCTAssertTrue(object["stats"] is NSNull)
        XCTAssertTrue(object["roofline"] is NSNull)
        XCTAssertEqual(object["status"] as? String, "failed")
        XCTAssertEqual(object["reason"] as? String, "missing parity/parity.json")
        let memory = try XCTUnwrap(object["memory"] as? [String: Any])
        XCTAssertNotNil(memory["peak_rss_mib"])
        XCTAssertNotNil(memory["method"] as? String)
    }

    func testComponentNullsAreWritten() throws {
        let tolerance = Tolerance(maxRelL2: nil, minCosine: nil, minTop1: nil, minGreedyPrefix: 1.0, reason: "r")
        let greedy = ParityCheck.greedyResult(actual: [1, 2], expected: [1, 2], limits: tolerance, gated: true)
        let data = try JSONEncoder().encode(greedy)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["rel_l2", "cosine", "max_abs", "top1", "top1_within_noise"] {
            XCTAssertTrue(object[key] is NSNull, "\(key) should be null")
        }
        let limits = try XCTUnwrap(object["tolerance"] as? [String: Any])
        XCTAssertTrue(limits["max_rel_l2"] is NSNull)
        XCTAssertEqual(object["greedy_prefix"] as? [Int], [2, 2])
    }

    func testNonFiniteValuesAreRefused() {
        var result = BenchmarkRunner.failed(reason: "x", compute: nil)
        result.memory = MemoryReport(peakRssMib: .nan, method: "m")
        XCTAssertThrowsError(try result.encoded())
    }

    /// A result assembled from the app's measuring code, not from the sample, holds only
    /// metric names and units the host accepts (reports/schema.py METRICS).
    func testLatencySummaryUsesTheSchemasNamesAndUnits() throws {
        let runs = [RunTimes(visionMs: 12, embeddingMs: 0.1, prefillMs: 60, prefillTokens: 150, decodeMs: 300, decodeTokens: 15, frames: 8),
                    RunTimes(visionMs: 13, embeddingMs: 0.2, prefillMs: 62, prefillTokens: 150, decodeMs: 310, decodeTokens: 15, frames: 8)]
        let latency = LatencyStats.summarize(runs, warmup: 1)
        let accepted: [String: String] = ["vision_ms": "ms", "vision_ms_per_frame": "ms", "embedding_ms": "ms", "prefill_ms": "ms",
                                          "time_to_first_token_ms": "ms", "prefill_tok_s": "tok/s", "decode_tok_s": "tok/s"]
        XCTAssertEqual(Set(latency.metrics.keys), Set(accepted.keys))
        for (name, metric) in latency.metrics {
            XCTAssertEqual(metric.unit, accepted[name], name)
            XCTAssertEqual(metric.samples.count, 2, name)
        }
        XCTAssertEqual(latency.repeats, 2)
        XCTAssertEqual(latency.warmup, 1)
    }
}
