package org.sfmobile.demo

import java.io.File
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.bench.BackendEntry
import org.sfmobile.demo.bench.BenchmarkArguments
import org.sfmobile.demo.bench.BenchmarkRunner
import org.sfmobile.demo.bench.Memory
import org.sfmobile.demo.bench.ResultWriter
import org.sfmobile.demo.engine.Engine
import org.sfmobile.demo.engine.FloatTensor
import org.sfmobile.demo.export.ExportError
import org.sfmobile.demo.video.FrameBatch

/**
 * Benchmark mode end to end on the JVM: a synthetic export with a real parity bundle, an engine that
 * replays the reference (or deviates from it), and the result + done files the host reads.
 */
class BenchmarkRunnerTest {
    // T = 2 frames of 2 px, N_vis = 4 rows of D = 2, V = 5, prompt = 2 prefix + 4 visual + 1 suffix
    private val prefix = listOf(0L, 2L)
    private val suffix = listOf(3L)
    private val visual = floatArrayOf(0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f)
    private val prefillLogits = floatArrayOf(0f, 1f, 3f, 0f, 0f) // argmax 2
    private val decodeLogits = floatArrayOf(
        0f, 0f, 0f, 4f, 0f, // after 2 -> 3
        0f, 5f, 0f, 0f, 0f, // after 3 -> 1
        2f, 0f, 0f, 0f, 0f, // after 1
    )
    private val greedy = listOf(2L, 3L, 1L)
    private val promptLen = prefix.size + 4 + suffix.size

    private fun export(): File {
        val dir = TestExport.write(tempDir("bench"), "executorch", "xnnpack", """{"path": "model.pte"}""", listOf("model.pte"))
        val parity = File(dir, "parity").also { it.mkdirs() }
        SafetensorsWriter()
            .i64("forced_tokens", greedy)
            .i64("prefix_ids", prefix)
            .i64("suffix_ids", suffix)
            .u8("frames_packed", listOf(3, 4, 2), ByteArray(24) { it.toByte() })
            .write(File(parity, "inputs.safetensors"))
        SafetensorsWriter()
            .f32("visual", listOf(1, 4, 2), visual)
            .f32("prefill_last_logits", listOf(5), prefillLogits)
            .f32("decode_logits", listOf(3, 5), decodeLogits)
            .i64("greedy_tokens", greedy)
            .write(File(parity, "reference.safetensors"))
        val limits = """{"max_rel_l2": 1e-4, "min_cosine": 0.99999, "min_top1": 1.0, "min_greedy_prefix": null, "reason": "fp32"}"""
        File(parity, "parity.json").writeText(
            """
            {"schema_version": 1, "question": "q", "prefix_ids": [0, 2], "suffix_ids": [3], "forced_tokens": [2, 3, 1],
             "greedy_tokens": [2, 3, 1], "tensors": {}, "precision": "fp32",
             "tolerances": {"vision": {"max_rel_l2": 1e-4, "min_cosine": 0.99999, "min_top1": null, "min_greedy_prefix": null, "reason": "v"},
                            "prefill_logits": $limits, "decode_logits": $limits,
                            "greedy": {"max_rel_l2": null, "min_cosine": null, "min_top1": null, "min_greedy_prefix": 1.0, "reason": "g"}},
             "meta": {"target": "executorch", "reference": "float eager"}}
            """.trimIndent(),
        )
        return dir
    }

    /** Replays the reference outputs; `skew` adds to one decode row to make parity fail. */
    private inner class ReplayEngine(private val skewRow: Int = -1) : Engine {
        override val name = "replay"
        override val maxChunk = 3 // the 7-row prompt goes in chunks 3 + 3 + 1
        override val maxContext = 32
        override val frames = 2
        override val frameSide = 2
        val calls = ArrayList<Pair<Int, Int>>()

        override fun encodeVision(frames: FrameBatch) = FloatTensor(intArrayOf(1, 4, 2), visual.copyOf())
        override fun embed(ids: IntArray) = FloatTensor(intArrayOf(1, ids.size, 2), FloatArray(ids.size * 2) { ids[it / 2].toFloat() })
        override fun decode(embeds: FloatArray, rows: Int, start: Int): FloatArray {
            assertTrue("chunk of $rows rows <= $maxChunk", rows in 1..maxChunk)
            calls.add(start to rows)
            if (start + rows == promptLen) return prefillLogits.copyOf()
            if (start < promptLen) return FloatArray(5)
            val row = start - promptLen
            return decodeLogits.copyOfRange(row * 5, row * 5 + 5).also { if (row == skewRow) it[0] += 10f }
        }
        override fun reset() = Unit
        override fun close() = Unit
    }

    private fun args(dir: File, result: File) = BenchmarkArguments(dir, result, repeats = 3, warmup = 1, runId = "run-1")

    private val device = JsonObject(mapOf("model" to JsonPrimitive("JVM"), "abi" to JsonPrimitive("x86_64")))
    private val log = ArrayList<String>()

    private fun runner(engine: () -> Engine) =
        BenchmarkRunner(openEngine = { engine() }, device = device, log = { log.add(it) }, memory = { Memory(812.5, "VmHWM from /proc/self/status") })

    @Test
    fun aFaithfulEnginePassesAndTheResultIsWrittenBeforeDone() {
        val engine = ReplayEngine()
        val result = File(tempDir("result"), "run-1")
        val entry = runner { engine }.run(args(export(), result))
        assertEquals(BackendEntry.STATUS_OK, entry.status)
        val report = entry.parity.single()
        assertTrue(report.passed)
        assertEquals(listOf("vision", "prefill_logits", "decode_logits", "greedy"), report.components.keys.toList())
        assertEquals(listOf(3, 3), report.components.getValue("greedy").greedyPrefix)
        assertEquals("float", report.against)
        assertEquals(7, report.timings.prefillTokens)
        // the prompt is prefilled in chunks from slot 0, then decode steps follow at slots 7, 8
        assertEquals(listOf(0 to 3, 3 to 3, 6 to 1, 7 to 1, 8 to 1), engine.calls.take(5))
        assertEquals(3, entry.latency!!.repeats)
        // rates of a near-instant fake can be unmeasurable (0 ms): only the always-finite metrics are counted
        for (name in listOf("vision_ms", "embedding_ms", "time_to_first_token_ms")) {
            assertEquals(name, 3, entry.latency!!.metrics.getValue(name).samples.size)
        }
        assertNotNull(entry.stats)
        assertEquals(812.5, entry.memory.peakRssMib)
        assertTrue(File(result, ResultWriter.DONE_FILE).isFile)
        assertEquals(entry, BackendEntry.decode(File(result, ResultWriter.RESULT_FILE).readText()))
        assertFalse("no temporary file is left", File(result, ".sf_bench_result.json.tmp").exists())
    }

    @Test
    fun aDeviatingEngineFailsParityButStillReportsLatency() {
        val result = File(tempDir("result"), "run-2")
        val entry = runner { ReplayEngine(skewRow = 1) }.run(args(export(), result))
        assertEquals(BackendEntry.STATUS_PARITY_FAILED, entry.status)
        assertEquals(listOf("decode_logits", "greedy"), entry.parity.single().failed)
        assertEquals(listOf("greedy prefix 2/3 < 3"), entry.parity.single().components.getValue("greedy").failures)
        assertNotNull(entry.latency)
        assertTrue(File(result, ResultWriter.DONE_FILE).isFile)
    }

    @Test
    fun aRunThatCannotStartWritesAFailedResultWithAReason() {
        val result = File(tempDir("result"), "run-3")
        val entry = runner { throw ExportError("model.pte is not loadable") }.run(args(export(), result))
        assertEquals(BackendEntry.STATUS_FAILED, entry.status)
        assertEquals("model.pte is not loadable", entry.reason)
        assertTrue(File(result, ResultWriter.DONE_FILE).isFile)
        val missing = runner { ReplayEngine() }.run(args(File(tempDir("none"), "export"), File(tempDir("result"), "run-4")))
        assertEquals(BackendEntry.STATUS_FAILED, missing.status)
        assertTrue(missing.reason!!, "sf_manifest.json" in missing.reason!!)
    }
}
