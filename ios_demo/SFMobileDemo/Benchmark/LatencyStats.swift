import Foundation

/// One timed run of the full pipeline on the parity frames (sf_mobile/bench/latency.py RunTimes),
/// in ms, with the token counts the rates need.
struct RunTimes: Equatable {
    var visionMs: Double
    var embeddingMs: Double
    var prefillMs: Double
    var prefillTokens: Int
    var decodeMs: Double
    var decodeTokens: Int  // tokens from decode steps (the first token comes from the prefill)
    var frames: Int

    var timeToFirstTokenMs: Double { visionMs + embeddingMs + prefillMs }

    /// The metrics this app measures, in sf-bench's names and units (reports/schema.py METRICS).
    /// Not reported: frame_decode_ms (benchmark mode uses the bundle's frames, no video is
    /// decoded) and slowfast_projector_ms (the vision graph runs SlowFast and the projector inside).
    func metrics() -> [String: Double] {
        var values: [String: Double] = [
            "vision_ms": visionMs,
            "vision_ms_per_frame": visionMs / Double(max(frames, 1)),
            "embedding_ms": embeddingMs,
            "prefill_ms": prefillMs,
            "time_to_first_token_ms": timeToFirstTokenMs,
        ]
        if prefillMs > 0 && prefillTokens > 0 {
            values["prefill_tok_s"] = Double(prefillTokens) / (prefillMs / 1000)
        }
        if decodeMs > 0 && decodeTokens > 0 {
            values["decode_tok_s"] = Double(decodeTokens) / (decodeMs / 1000)
        }
        return values.filter { $0.value.isFinite }
    }
}

enum LatencyStats {
    static let units: [String: String] = [
        "frame_decode_ms": "ms", "vision_ms": "ms", "vision_ms_per_frame": "ms", "slowfast_projector_ms": "ms",
        "embedding_ms": "ms", "prefill_ms": "ms", "time_to_first_token_ms": "ms",
        "prefill_tok_s": "tok/s", "decode_tok_s": "tok/s",
    ]

    /// statistics.median: the middle value, or the mean of the two middle values.
    static func median(_ samples: [Double]) -> Double {
        precondition(!samples.isEmpty, "median of no samples")
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The q-quantile by nearest rank: a value that was measured, not interpolated
    /// (latency.py nearest_rank: sorted[max(0, ceil(q * n) - 1)]).
    static func nearestRank(_ samples: [Double], _ q: Double) -> Double {
        precondition(!samples.isEmpty, "quantile of no samples")
        let sorted = samples.sorted()
        return sorted[max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
    }

    /// The schema's `latency` object over the timed runs (latency.py summarize): every sample,
    /// the median and the p90, rounded to 3 decimals.
    static func summarize(_ runs: [RunTimes], warmup: Int) -> LatencySummary {
        var byMetric: [String: [Double]] = [:]
        for run in runs {
            for (name, value) in run.metrics() {
                byMetric[name, default: []].append(value)
            }
        }
        var metrics: [String: LatencyMetric] = [:]
        for (name, samples) in byMetric {
            guard let unit = units[name] else { continue }  // never invent a metric name
            metrics[name] = LatencyMetric(unit: unit, median: Rounding.decimals(median(samples), 3),
                                          p90: Rounding.decimals(nearestRank(samples, 0.9), 3),
                                          samples: samples.map { Rounding.decimals($0, 3) })
        }
        return LatencySummary(repeats: runs.count, warmup: warmup, metrics: metrics)
    }

    /// One run in the field names of ExecuTorch's runner `Stats`, timestamps in ms from
    /// model_load_start_ms = 0 (latency.py executorch_stats), for the median run by time to
    /// first token (as the host picks it).
    static func runnerStats(_ runs: [RunTimes], loadMs: Double) -> [String: JSONValue]? {
        guard !runs.isEmpty else { return nil }
        let run = runs.sorted { $0.timeToFirstTokenMs < $1.timeToFirstTokenMs }[runs.count / 2]
        let inferenceStart = loadMs
        let promptEvalEnd = inferenceStart + run.timeToFirstTokenMs
        func ms(_ value: Double) -> JSONValue { .number(value.rounded(.toNearestOrEven)) }
        return [
            "SCALING_FACTOR_UNITS_PER_SECOND": .number(1000),
            "model_load_start_ms": .number(0),
            "model_load_end_ms": ms(loadMs),
            "inference_start_ms": ms(inferenceStart),
            "prompt_eval_end_ms": ms(promptEvalEnd),
            "first_token_ms": ms(promptEvalEnd),
            "inference_end_ms": ms(promptEvalEnd + run.decodeMs),
            "num_prompt_tokens": .number(Double(run.prefillTokens)),
            "num_generated_tokens": .number(Double(run.decodeTokens + 1)),
        ]
    }
}
