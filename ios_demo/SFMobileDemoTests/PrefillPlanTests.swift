import XCTest
@testable import SFMobileDemo

/// The prefill schedule against what sf_mobile/runtimes/coreml.py does with the parity
/// driver's chunks, and the causal mask layout.
final class PrefillPlanTests: XCTestCase {
    private typealias Step = PrefillPlan.Step

    func testTinyParityPromptOf151Rows() {
        // the tiny export's parity prompt: 32 prefix + 96 visual + 23 suffix rows, chunk 64
        XCTAssertEqual(PrefillPlan.steps(length: 151, chunk: 64), [
            Step(function: .prefill, start: 0, rows: 64),
            Step(function: .prefill, start: 64, rows: 64),
            Step(function: .prefill, start: 87, rows: 64),  // the last 23 rows completed with the 41 before them
        ])
    }

    func testExactChunks() {
        XCTAssertEqual(PrefillPlan.steps(length: 128, chunk: 64), [
            Step(function: .prefill, start: 0, rows: 64),
            Step(function: .prefill, start: 64, rows: 64),
        ])
    }

    func testOneLeftOverRowGoesThroughDecode() {
        XCTAssertEqual(PrefillPlan.steps(length: 129, chunk: 64).last, Step(function: .decode, start: 128, rows: 1))
    }

    func testShortPromptsGoRowByRow() {
        XCTAssertEqual(PrefillPlan.steps(length: 3, chunk: 64), [
            Step(function: .decode, start: 0, rows: 1),
            Step(function: .decode, start: 1, rows: 1),
            Step(function: .decode, start: 2, rows: 1),
        ])
        XCTAssertEqual(PrefillPlan.steps(length: 0, chunk: 64), [])
    }

    func testEveryRowIsWrittenAndTheLastRowIsLast() {
        for length in 1...200 {
            for chunk in [1, 2, 7, 64] {
                let steps = PrefillPlan.steps(length: length, chunk: chunk)
                var written = Set<Int>()
                for step in steps {
                    XCTAssertEqual(step.rows, step.function == .prefill ? chunk : 1)
                    written.formUnion(step.start..<(step.start + step.rows))
                }
                XCTAssertEqual(written, Set(0..<length), "length \(length), chunk \(chunk)")
                XCTAssertEqual(steps.last.map { $0.start + $0.rows }, length, "the last call ends on the last row")
            }
        }
    }
}
