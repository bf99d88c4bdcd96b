import Foundation

/// How a prompt of `length` rows goes through a language model whose prefill function takes
/// exactly `chunk` rows and whose decode function takes one. This is the rule of
/// sf_mobile/runtimes/coreml.py (`text_decoder` driven by the parity driver's chunked prefill),
/// so the app feeds the export exactly what the export's own parity run fed it:
/// - prompts shorter than one chunk go through `decode`, row by row;
/// - full chunks go through `prefill` at slots 0, C, 2C, ...;
/// - a last partial chunk of r > 1 rows is completed with the C - r rows before it and run as
///   one prefill at slot length - C (recomputing those slots writes the same keys and values
///   again), so the last row, whose logits are wanted, is always real: no padding rows, no mask
///   tricks;
/// - a last partial chunk of one row goes through `decode`.
enum PrefillPlan {
    enum Function: Equatable {
        case prefill
        case decode
    }

    struct Step: Equatable {
        let function: Function
        let start: Int  // first cache slot (= position) written
        let rows: Int
    }

    static func steps(length: Int, chunk: Int) -> [Step] {
        precondition(chunk >= 1, "the prefill chunk must be at least 1")
        if length <= 0 { return [] }
        if length < chunk {
            return (0..<length).map { Step(function: .decode, start: $0, rows: 1) }
        }
        var steps = stride(from: 0, to: length - length % chunk, by: chunk).map {
            Step(function: .prefill, start: $0, rows: chunk)
        }
        let remainder = length % chunk
        if remainder == 1 {
            steps.append(Step(function: .decode, start: length - 1, rows: 1))
        } else if remainder > 1 {
            steps.append(Step(function: .prefill, start: length - chunk, rows: chunk))
        }
        return steps
    }
}
