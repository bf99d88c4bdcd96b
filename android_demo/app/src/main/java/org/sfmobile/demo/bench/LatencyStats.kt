package org.sfmobile.demo.bench

import kotlin.math.ceil

/**
 * One timed run of the full pipeline on the parity frames (sf_mobile/bench/latency.py RunTimes),
 * in ms. The frames come from the parity bundle, already decoded: no frame_decode_ms is reported
 * ("report only what the app measures").
 */
data class RunTimes(
    val visionMs: Double,
    val embeddingMs: Double,
    val prefillMs: Double,
    val prefillTokens: Int,
    val decodeMs: Double,
    /** Tokens from decode calls: the first token comes from the prefill. */
    val decodeTokens: Int,
    val frames: Int,
) {
    val timeToFirstTokenMs: Double get() = visionMs + embeddingMs + prefillMs

    /** The schema's metric values of this run; rates that cannot be measured are left out. */
    fun metrics(): Map<String, Double> {
        val values = linkedMapOf(
            "vision_ms" to visionMs,
            "vision_ms_per_frame" to visionMs / frames,
            "embedding_ms" to embeddingMs,
            "prefill_ms" to prefillMs,
            "prefill_tok_s" to rate(prefillTokens, prefillMs),
            "decode_tok_s" to rate(decodeTokens, decodeMs),
            "time_to_first_token_ms" to timeToFirstTokenMs,
        )
        return values.filterValues { it.isFinite() }
    }

    companion object {
        fun rate(tokens: Int, ms: Double): Double = if (ms > 0 && tokens > 0) tokens / (ms / 1000.0) else Double.NaN
    }
}

/** Medians and percentiles exactly as the host computes them (latency.py summarize). */
object LatencyStats {
    /** Metric name -> unit: sf_mobile/reports/schema.py METRICS, in the schema's order. */
    val UNITS: Map<String, String> = linkedMapOf(
        "frame_decode_ms" to "ms",
        "vision_ms" to "ms",
        "vision_ms_per_frame" to "ms",
        "slowfast_projector_ms" to "ms",
        "embedding_ms" to "ms",
        "prefill_ms" to "ms",
        "prefill_tok_s" to "tok/s",
        "decode_tok_s" to "tok/s",
        "time_to_first_token_ms" to "ms",
    )

    /** statistics.median: the middle value, or the mean of the two middle values. */
    fun median(samples: List<Double>): Double {
        require(samples.isNotEmpty()) { "median of no samples" }
        val s = samples.sorted()
        val n = s.size
        return if (n % 2 == 1) s[n / 2] else (s[n / 2 - 1] + s[n / 2]) / 2.0
    }

    /** The q-quantile by nearest rank: a value that was measured, not interpolated. */
    fun nearestRank(samples: List<Double>, q: Double): Double {
        require(samples.isNotEmpty()) { "percentile of no samples" }
        val s = samples.sorted()
        return s[maxOf(0, ceil(q * s.size).toInt() - 1)]
    }

    fun p90(samples: List<Double>): Double = nearestRank(samples, 0.9)

    /** The schema's `latency` object over the timed runs; values rounded to 3 decimals as the host rounds them. */
    fun summarize(runs: List<RunTimes>, warmup: Int): Latency {
        val byMetric = LinkedHashMap<String, MutableList<Double>>()
        for (run in runs) for ((name, value) in run.metrics()) byMetric.getOrPut(name) { ArrayList() }.add(value)
        val metrics = LinkedHashMap<String, Metric>()
        for (name in UNITS.keys) {
            val samples = byMetric[name] ?: continue
            metrics[name] = Metric(
                unit = UNITS.getValue(name),
                median = PyNumbers.round(median(samples), 3)!!,
                p90 = PyNumbers.round(p90(samples), 3)!!,
                samples = samples.map { PyNumbers.round(it, 3)!! },
            )
        }
        return Latency(repeats = runs.size, warmup = warmup, metrics = metrics)
    }

    /**
     * The median repeat (by time to first token; the upper middle for an even count, as the host
     * picks it) in ExecuTorch runner Stats fields, ms from the model load start.
     */
    fun runnerStats(runs: List<RunTimes>, loadMs: Double): RunnerStats? {
        if (runs.isEmpty()) return null
        val run = runs.sortedBy { it.timeToFirstTokenMs }[runs.size / 2]
        val inferenceStart = loadMs
        val promptEvalEnd = inferenceStart + run.timeToFirstTokenMs
        return RunnerStats(
            modelLoadEndMs = pyRound(loadMs),
            inferenceStartMs = pyRound(inferenceStart),
            promptEvalEndMs = pyRound(promptEvalEnd),
            firstTokenMs = pyRound(promptEvalEnd),
            inferenceEndMs = pyRound(promptEvalEnd + run.decodeMs),
            numPromptTokens = run.prefillTokens,
            numGeneratedTokens = run.decodeTokens + 1,
        )
    }

    /** Python's round(x) to an int: half to even. */
    private fun pyRound(x: Double): Long = Math.rint(x).toLong()
}
