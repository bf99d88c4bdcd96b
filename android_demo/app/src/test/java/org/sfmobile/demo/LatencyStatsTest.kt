package org.sfmobile.demo

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Test
import org.sfmobile.demo.bench.LatencyStats
import org.sfmobile.demo.bench.RunTimes

/** Median and p90 (nearest rank) as sf_mobile/bench/latency.py computes them. */
class LatencyStatsTest {
    @Test
    fun medianIsPythonsStatisticsMedian() {
        assertEquals(2.0, LatencyStats.median(listOf(3.0, 1.0, 2.0)), 0.0)
        assertEquals(2.5, LatencyStats.median(listOf(4.0, 1.0, 2.0, 3.0)), 0.0)
        assertEquals(7.0, LatencyStats.median(listOf(7.0)), 0.0)
    }

    @Test
    fun p90IsANearestRankSample() {
        assertEquals(9.0, LatencyStats.p90((1..10).map { it.toDouble() }), 0.0)
        assertEquals(3.0, LatencyStats.p90(listOf(1.0, 2.0, 3.0)), 0.0) // ceil(2.7) = 3rd
        assertEquals(5.0, LatencyStats.p90(listOf(5.0)), 0.0)
        assertEquals(10.0, LatencyStats.p90((1..11).map { it.toDouble() }), 0.0) // ceil(9.9) = 10th
    }

    @Test
    fun summarizeKeepsEverySampleRoundedInSchemaOrder() {
        val runs = listOf(
            RunTimes(visionMs = 40.12345, embeddingMs = 0.25, prefillMs = 200.0, prefillTokens = 150, decodeMs = 1000.0, decodeTokens = 15, frames = 8),
            RunTimes(visionMs = 42.0, embeddingMs = 0.5, prefillMs = 180.0, prefillTokens = 150, decodeMs = 900.0, decodeTokens = 15, frames = 8),
            RunTimes(visionMs = 41.0, embeddingMs = 0.25, prefillMs = 190.0, prefillTokens = 150, decodeMs = 0.0, decodeTokens = 0, frames = 8),
        )
        val latency = LatencyStats.summarize(runs, warmup = 1)
        assertEquals(3, latency.repeats)
        assertEquals(1, latency.warmup)
        assertEquals(
            listOf("vision_ms", "vision_ms_per_frame", "embedding_ms", "prefill_ms", "prefill_tok_s", "decode_tok_s", "time_to_first_token_ms"),
            latency.metrics.keys.toList(),
        )
        val vision = latency.metrics.getValue("vision_ms")
        assertEquals("ms", vision.unit)
        assertEquals(listOf(40.123, 42.0, 41.0), vision.samples)
        assertEquals(41.0, vision.median, 0.0)
        assertEquals(42.0, vision.p90, 0.0)
        // a run with no decode tokens has no decode rate: left out, not NaN
        assertEquals(2, latency.metrics.getValue("decode_tok_s").samples.size)
        assertEquals("tok/s", latency.metrics.getValue("prefill_tok_s").unit)
        assertFalse("frame_decode_ms" in latency.metrics)
    }

    @Test
    fun runnerStatsComeFromTheMedianRepeat() {
        val runs = listOf(10.0, 30.0, 20.0, 40.0).map { RunTimes(it, 0.0, 0.0, 100, 50.0, 9, 8) }
        val stats = LatencyStats.runnerStats(runs, loadMs = 1234.4)!!
        // sorted TTFT 10, 20, 30, 40 -> index 4 / 2 = 2 -> 30 ms (the host's pick)
        assertEquals(1234L, stats.modelLoadEndMs)
        assertEquals(1264L, stats.promptEvalEndMs)
        assertEquals(1314L, stats.inferenceEndMs)
        assertEquals(10, stats.numGeneratedTokens)
        assertEquals(100, stats.numPromptTokens)
    }
}
