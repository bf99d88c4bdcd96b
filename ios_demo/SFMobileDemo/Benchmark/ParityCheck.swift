import Foundation

/// The parity comparison of protocol.py 4b, a port of sf_mobile/parity/metrics.py and
/// compare.py: the same measures (in double precision, so the metric adds no rounding of its
/// own), the same failure rules and the same failure messages.
enum ParityCheck {
    static let components = ["vision", "prefill_logits", "decode_logits", "greedy"]
    /// Precisions whose weights are not quantized (tolerances.py Precision.quantizes_weights).
    static let unquantizedPrecisions: Set<String> = ["fp32", "fp16"]

    /// A tensor as the app produced it or the reference holds it.
    struct Tensor {
        let values: [Float]
        let shape: [Int]
    }

    /// What the app's pipeline produced on the parity inputs (parity driver `BackendOutputs`).
    struct Outputs {
        let visual: Tensor  // [1, N_vis, D]
        let prefillLastLogits: Tensor  // [V]
        let decodeLogits: Tensor  // [N_forced, V]
        let greedyTokens: [Int]
        let timings: StageTimings
    }

    // MARK: metrics (sf_mobile/parity/metrics.py)

    /// ||a - e|| / ||e||; 0 when both are zero, infinity when only e is.
    static func relativeL2(_ actual: [Float], _ expected: [Float]) -> Double {
        var error = 0.0
        var scale = 0.0
        for index in 0..<expected.count {
            let e = Double(expected[index])
            let d = Double(actual[index]) - e
            error += d * d
            scale += e * e
        }
        if scale == 0 { return error == 0 ? 0 : .infinity }
        return error.squareRoot() / scale.squareRoot()
    }

    /// Cosine of the flattened tensors; 1 when both are zero, 0 when only one is.
    static func cosine(_ actual: [Float], _ expected: [Float]) -> Double {
        var dot = 0.0
        var na = 0.0
        var ne = 0.0
        var equal = true
        for index in 0..<expected.count {
            let a = Double(actual[index])
            let e = Double(expected[index])
            dot += a * e
            na += a * a
            ne += e * e
            if a != e { equal = false }
        }
        let norms = na.squareRoot() * ne.squareRoot()
        if norms == 0 { return equal ? 1 : 0 }
        return dot / norms
    }

    static func maxAbs(_ actual: [Float], _ expected: [Float]) -> Double {
        var worst = 0.0
        for index in 0..<expected.count {
            worst = max(worst, abs(Double(actual[index]) - Double(expected[index])))
        }
        return worst
    }

    /// (rows whose argmax agrees, rows) over [rows, V].
    static func top1(_ actual: [Float], _ expected: [Float], rows: Int) -> (Int, Int) {
        guard rows > 0 else { return (0, 0) }
        let width = expected.count / rows
        var matches = 0
        for row in 0..<rows {
            let a = Array(actual[(row * width)..<((row + 1) * width)])
            let e = Array(expected[(row * width)..<((row + 1) * width)])
            if Argmax.index(a) == Argmax.index(e) { matches += 1 }
        }
        return (matches, rows)
    }

    /// (rows whose pick is the reference's best up to the row's own noise, rows): a row agrees
    /// when the reference logit of the app's argmax is within 2 x RMS(a - e) of the reference max.
    static func top1WithinNoise(_ actual: [Float], _ expected: [Float], rows: Int, noiseRms: Double = 2.0) -> (Int, Int) {
        guard rows > 0 else { return (0, 0) }
        let width = expected.count / rows
        var agree = 0
        for row in 0..<rows {
            let start = row * width
            var squared = 0.0
            var best = -Double.infinity
            for index in start..<(start + width) {
                let d = Double(actual[index]) - Double(expected[index])
                squared += d * d
                best = max(best, Double(expected[index]))
            }
            let margin = noiseRms * (squared / Double(width)).squareRoot()
            let pick = Argmax.index(Array(actual[start..<(start + width)]))
            if Double(expected[start + pick]) >= best - margin { agree += 1 }
        }
        return (agree, rows)
    }

    /// (length of the common prefix, len(expected)).
    static func greedyAgreement(_ actual: [Int], _ expected: [Int]) -> (Int, Int) {
        var prefix = 0
        for (got, want) in zip(actual, expected) {
            if got != want { break }
            prefix += 1
        }
        return (prefix, expected.count)
    }

    // MARK: components (sf_mobile/parity/compare.py)

    static func tensorResult(_ component: String, actual: Tensor, expected: Tensor, limits: Tolerance, gated: Bool, rows: Bool) -> ComponentResult {
        guard actual.shape == expected.shape, actual.values.count == expected.values.count else {
            let failure = "shape \(pythonList(actual.shape)) != reference \(pythonList(expected.shape))"
            return ComponentResult(component: component, passed: false, gated: gated, relL2: nil, cosine: nil, maxAbs: nil, top1: nil,
                                   top1WithinNoise: nil, greedyPrefix: nil, failures: [failure], tolerance: limits)
        }
        let rel = relativeL2(actual.values, expected.values)
        let cos = cosine(actual.values, expected.values)
        let diff = maxAbs(actual.values, expected.values)
        var failures: [String] = []
        // `!(x <= limit)` so that a NaN fails
        if let limit = limits.maxRelL2, !(rel <= limit) {
            failures.append("rel L2 \(scientific(rel)) > \(scientific(limit))")
        }
        if let limit = limits.minCosine, !(cos >= limit) {
            failures.append("cos \(String(format: "%.6f", cos)) < \(pythonFloat(limit))")
        }
        var strict: (Int, Int)?
        var near: (Int, Int)?
        if rows {
            let count = actual.shape.count <= 1 ? 1 : actual.shape.dropLast().reduce(1, *)
            strict = top1(actual.values, expected.values, rows: count)
            let n = top1WithinNoise(actual.values, expected.values, rows: count)
            near = n
            if let limit = limits.minTop1, n.1 > 0, Double(n.0) < (limit * Double(n.1) - 1e-9).rounded(.up) {
                failures.append("top-1 \(n.0)/\(n.1) (up to near ties) < \(String(format: "%.0f", limit * 100))%")
            }
        }
        return ComponentResult(component: component, passed: failures.isEmpty, gated: gated,
                               relL2: Rounding.significant3(rel), cosine: cos.isFinite ? Rounding.decimals(cos, 8) : nil,
                               maxAbs: Rounding.significant3(diff),
                               top1: strict.map { [$0.0, $0.1] },
                               top1WithinNoise: near.map { [$0.0, $0.1] },
                               greedyPrefix: nil, failures: failures, tolerance: limits)
    }

    static func greedyResult(actual: [Int], expected: [Int], limits: Tolerance, gated: Bool) -> ComponentResult {
        let prefix = greedyAgreement(actual, expected)
        let needed = Int(((limits.minGreedyPrefix ?? 0) * Double(prefix.1) - 1e-9).rounded(.up))
        let failures = prefix.0 < needed ? ["greedy prefix \(prefix.0)/\(prefix.1) < \(needed)"] : []
        return ComponentResult(component: "greedy", passed: failures.isEmpty, gated: gated, relL2: nil, cosine: nil, maxAbs: nil,
                               top1: nil, top1WithinNoise: nil, greedyPrefix: [prefix.0, prefix.1],
                               failures: failures, tolerance: limits)
    }

    /// False only for a weight-quantized precision compared against the float reference.
    static func isGated(precision: String, against: String) -> Bool {
        !(!unquantizedPrecisions.contains(precision) && against == "float")
    }

    /// The report of `outputs` against the bundle's reference, limits from parity.json.
    static func report(backend: String, outputs: Outputs, bundle: ParityBundle) throws -> ParityReport {
        let document = bundle.document
        let gated = isGated(precision: document.precision, against: document.against)
        func limits(_ component: String) throws -> Tolerance {
            guard let tolerance = document.tolerances[component] else {
                throw ExportError.unsupported("parity.json has no tolerances for \(component)")
            }
            return tolerance
        }
        let results = [
            tensorResult("vision", actual: outputs.visual,
                         expected: Tensor(values: bundle.referenceVisual, shape: bundle.referenceVisualShape),
                         limits: try limits("vision"), gated: gated, rows: false),
            tensorResult("prefill_logits", actual: outputs.prefillLastLogits,
                         expected: Tensor(values: bundle.referencePrefillLogits, shape: bundle.referencePrefillShape),
                         limits: try limits("prefill_logits"), gated: gated, rows: true),
            tensorResult("decode_logits", actual: outputs.decodeLogits,
                         expected: Tensor(values: bundle.referenceDecodeLogits, shape: bundle.referenceDecodeShape),
                         limits: try limits("decode_logits"), gated: gated, rows: true),
            greedyResult(actual: outputs.greedyTokens, expected: bundle.referenceGreedy, limits: try limits("greedy"), gated: gated),
        ]
        let failed = results.filter { $0.gated && !$0.passed }.map { $0.component }
        var components: [String: ComponentResult] = [:]
        for result in results { components[result.component] = result }
        return ParityReport(backend: backend, precision: document.precision, against: document.against,
                            passed: failed.isEmpty, failed: failed, components: components, timings: outputs.timings)
    }

    // MARK: Python's number formatting in the failure lines

    /// f"{x:.1e}": "3.2e-02" (C's %e writes at least two exponent digits, as Python does).
    static func scientific(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(format: "%.1e", value)
    }

    /// str(float): the shortest repr, which Swift's description also is ("0.9999", "1.0").
    static func pythonFloat(_ value: Double) -> String {
        value.description
    }

    /// str(list) of ints: "[1, 96, 64]".
    static func pythonList(_ values: [Int]) -> String {
        "[" + values.map(String.init).joined(separator: ", ") + "]"
    }
}
