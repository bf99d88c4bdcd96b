import Foundation

/// Greedy choice: the index of the largest logit, the FIRST one on ties (torch.argmax's rule,
/// which every reference in the parity bundle used). NaN never wins.
enum Argmax {
    static func index(_ values: [Float]) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        var seen = false
        for (index, value) in values.enumerated() where value > bestValue || (!seen && !value.isNaN) {
            best = index
            bestValue = value
            seen = true
        }
        return best
    }
}
