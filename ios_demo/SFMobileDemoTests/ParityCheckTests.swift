import XCTest
@testable import SFMobileDemo

/// ParityCheck against sf_mobile/parity/compare.py. The expected JSON below is what Python's
/// `_tensor_result(...).to_dict()` / `_greedy_result(...).to_dict()` printed for the same inputs
/// (float32 tensors), so measures, rounding, failure lines and nulls are compared as JSON trees.
final class ParityCheckTests: XCTestCase {
    private func tensor(_ rows: [[Float]]) -> ParityCheck.Tensor {
        ParityCheck.Tensor(values: rows.flatMap { $0 }, shape: [rows.count, rows.first?.count ?? 0])
    }

    private func assertJSON(_ result: ComponentResult, _ python: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let encoded = try JSONEncoder().encode(result)
        let mine = try JSONSerialization.jsonObject(with: encoded) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: Data(python.utf8)) as? NSDictionary
        let shown = String(decoding: encoded, as: UTF8.self)
        XCTAssertEqual(mine, theirs, "\nSwift:  \(shown)\nPython: \(python)", file: file, line: line)
    }

    func testFailingLogitsLikePython() throws {
        let expected = tensor([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 0.0]])
        let actual = tensor([[1.0, 2.1, 3.0, 3.9], [0.5, -1.0, 1.9, 2.05]])
        let limits = Tolerance(maxRelL2: 1e-2, minCosine: 0.9999, minTop1: 1.0, minGreedyPrefix: nil, reason: "r")
        let result = ParityCheck.tensorResult("decode_logits", actual: actual, expected: expected, limits: limits, gated: true, rows: true)
        try assertJSON(result, #"""
            {"component": "decode_logits", "passed": false, "gated": true, "rel_l2": 0.347, "cosine": 0.94376954, "max_abs": 2.05, "top1": [1, 2], "top1_within_noise": [2, 2], "greedy_prefix": null, "failures": ["rel L2 3.5e-01 > 1.0e-02", "cos 0.943770 < 0.9999"], "tolerance": {"max_rel_l2": 0.01, "min_cosine": 0.9999, "min_top1": 1.0, "min_greedy_prefix": null, "reason": "r"}}
            """#)
    }

    func testNearTieIsNotATop1Failure() throws {
        let expected = ParityCheck.Tensor(values: [1.0, 1.001, 0.0, 0.0], shape: [4])
        let actual = ParityCheck.Tensor(values: [1.002, 1.0, 0.0, 0.0], shape: [4])
        let limits = Tolerance(maxRelL2: 4e-3, minCosine: 0.9999, minTop1: 1.0, minGreedyPrefix: nil, reason: "r")
        let result = ParityCheck.tensorResult("prefill_logits", actual: actual, expected: expected, limits: limits, gated: true, rows: true)
        try assertJSON(result, #"""
            {"component": "prefill_logits", "passed": true, "gated": true, "rel_l2": 0.00158, "cosine": 0.99999888, "max_abs": 0.002, "top1": [0, 1], "top1_within_noise": [1, 1], "greedy_prefix": null, "failures": [], "tolerance": {"max_rel_l2": 0.004, "min_cosine": 0.9999, "min_top1": 1.0, "min_greedy_prefix": null, "reason": "r"}}
            """#)
    }

    func testTop1FailureBeyondNoise() throws {
        var expected = [[Float]](repeating: [Float](repeating: 0, count: 64), count: 2)
        expected[0][1] = 5.0
        expected[1][3] = 2.0
        var actual = expected
        actual[0][0] = 5.2
        let limits = Tolerance(maxRelL2: nil, minCosine: nil, minTop1: 0.9375, minGreedyPrefix: nil, reason: "r")
        let result = ParityCheck.tensorResult("decode_logits", actual: tensor(actual), expected: tensor(expected), limits: limits, gated: true, rows: true)
        try assertJSON(result, #"""
            {"component": "decode_logits", "passed": false, "gated": true, "rel_l2": 0.966, "cosine": 0.71936606, "max_abs": 5.2, "top1": [1, 2], "top1_within_noise": [1, 2], "greedy_prefix": null, "failures": ["top-1 1/2 (up to near ties) < 94%"], "tolerance": {"max_rel_l2": null, "min_cosine": null, "min_top1": 0.9375, "min_greedy_prefix": null, "reason": "r"}}
            """#)
    }

    func testPassingVision() throws {
        let expected = ParityCheck.Tensor(values: [0.1, 0.2, 0.3, -0.4], shape: [1, 2, 2])
        let actual = ParityCheck.Tensor(values: [Float(0.1) + 0.0001, 0.2, 0.3, Float(-0.4) - 0.0002], shape: [1, 2, 2])
        let limits = Tolerance(maxRelL2: 2e-3, minCosine: 0.9999, minTop1: nil, minGreedyPrefix: nil, reason: "v")
        let result = ParityCheck.tensorResult("vision", actual: actual, expected: expected, limits: limits, gated: true, rows: false)
        try assertJSON(result, #"""
            {"component": "vision", "passed": true, "gated": true, "rel_l2": 0.000408, "cosine": 0.99999996, "max_abs": 0.0002, "top1": null, "top1_within_noise": null, "greedy_prefix": null, "failures": [], "tolerance": {"max_rel_l2": 0.002, "min_cosine": 0.9999, "min_top1": null, "min_greedy_prefix": null, "reason": "v"}}
            """#)
    }

    func testShapeMismatch() throws {
        let limits = Tolerance(maxRelL2: 2e-3, minCosine: 0.9999, minTop1: nil, minGreedyPrefix: nil, reason: "v")
        let result = ParityCheck.tensorResult("vision", actual: ParityCheck.Tensor(values: [Float](repeating: 0, count: 6), shape: [1, 2, 3]),
                                              expected: ParityCheck.Tensor(values: [Float](repeating: 0, count: 9), shape: [1, 3, 3]),
                                              limits: limits, gated: true, rows: false)
        try assertJSON(result, #"""
            {"component": "vision", "passed": false, "gated": true, "rel_l2": null, "cosine": null, "max_abs": null, "top1": null, "top1_within_noise": null, "greedy_prefix": null, "failures": ["shape [1, 2, 3] != reference [1, 3, 3]"], "tolerance": {"max_rel_l2": 0.002, "min_cosine": 0.9999, "min_top1": null, "min_greedy_prefix": null, "reason": "v"}}
            """#)
    }

    func testNoForcedTokens() throws {
        let empty = ParityCheck.Tensor(values: [], shape: [0, 4])
        let limits = Tolerance(maxRelL2: 4e-3, minCosine: 0.9999, minTop1: 0.9375, minGreedyPrefix: nil, reason: "r")
        let result = ParityCheck.tensorResult("decode_logits", actual: empty, expected: empty, limits: limits, gated: true, rows: true)
        try assertJSON(result, #"""
            {"component": "decode_logits", "passed": true, "gated": true, "rel_l2": 0.0, "cosine": 1.0, "max_abs": 0.0, "top1": [0, 0], "top1_within_noise": [0, 0], "greedy_prefix": null, "failures": [], "tolerance": {"max_rel_l2": 0.004, "min_cosine": 0.9999, "min_top1": 0.9375, "min_greedy_prefix": null, "reason": "r"}}
            """#)
    }

    func testGreedyPrefix() throws {
        let all = Tolerance(maxRelL2: nil, minCosine: nil, minTop1: nil, minGreedyPrefix: 1.0, reason: "g")
        try assertJSON(ParityCheck.greedyResult(actual: [5, 6, 7, 9], expected: [5, 6, 8, 9], limits: all, gated: true), #"""
            {"component": "greedy", "passed": false, "gated": true, "rel_l2": null, "cosine": null, "max_abs": null, "top1": null, "top1_within_noise": null, "greedy_prefix": [2, 4], "failures": ["greedy prefix 2/4 < 4"], "tolerance": {"max_rel_l2": null, "min_cosine": null, "min_top1": null, "min_greedy_prefix": 1.0, "reason": "g"}}
            """#)
        let half = Tolerance(maxRelL2: nil, minCosine: nil, minTop1: nil, minGreedyPrefix: 0.5, reason: "g")
        try assertJSON(ParityCheck.greedyResult(actual: [5, 6, 7, 9], expected: [5, 6, 8, 9], limits: half, gated: false), #"""
            {"component": "greedy", "passed": true, "gated": false, "rel_l2": null, "cosine": null, "max_abs": null, "top1": null, "top1_within_noise": null, "greedy_prefix": [2, 4], "failures": [], "tolerance": {"max_rel_l2": null, "min_cosine": null, "min_top1": null, "min_greedy_prefix": 0.5, "reason": "g"}}
            """#)
        let none = Tolerance(maxRelL2: nil, minCosine: nil, minTop1: nil, minGreedyPrefix: nil, reason: "g")
        XCTAssertTrue(ParityCheck.greedyResult(actual: [5], expected: [5, 6, 8, 9], limits: none, gated: true).passed, "a null limit does not apply")
    }

    func testGatingFollowsPrecisionAndReference() {
        XCTAssertFalse(ParityCheck.isGated(precision: "int4", against: "float"))
        XCTAssertTrue(ParityCheck.isGated(precision: "int4", against: "same-quantization"))
        XCTAssertTrue(ParityCheck.isGated(precision: "fp16", against: "float"))
        XCTAssertFalse(ParityCheck.isGated(precision: "8da4w", against: "float"))
    }

    func testAgainstComesFromTheBundleMeta() throws {
        func document(_ meta: String) throws -> ParityDocument {
            let json = #"{"schema_version": 1, "prefix_ids": [], "suffix_ids": [], "forced_tokens": [], "greedy_tokens": [], "precision": "int4", "tolerances": {}, "meta": "# + meta + "}"
            return try JSONDecoder().decode(ParityDocument.self, from: Data(json.utf8))
        }
        XCTAssertEqual(try document(#"{"against": "same-quantization"}"#).against, "same-quantization")
        XCTAssertEqual(try document(#"{"reference": "same-quantization eager"}"#).against, "same-quantization")
        XCTAssertEqual(try document(#"{"reference": "float eager"}"#).against, "float")
        XCTAssertEqual(try document("{}").against, "float")
    }

    func testMetricsEdgeCases() {
        XCTAssertEqual(ParityCheck.relativeL2([0, 0], [0, 0]), 0)
        XCTAssertEqual(ParityCheck.relativeL2([1, 0], [0, 0]), .infinity)
        XCTAssertEqual(ParityCheck.cosine([0, 0], [0, 0]), 1)
        XCTAssertEqual(ParityCheck.cosine([1, 0], [0, 0]), 0)
        XCTAssertEqual(ParityCheck.relativeL2([3, 5], [3, 4]), 0.2, accuracy: 1e-15)
        XCTAssertEqual(Argmax.index([1, 3, 3, 2]), 1, "ties go to the first index, as torch.argmax")
    }
}
