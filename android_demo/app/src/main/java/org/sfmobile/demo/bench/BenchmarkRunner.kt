package org.sfmobile.demo.bench

import kotlinx.serialization.json.JsonObject
import org.sfmobile.demo.engine.Engine
import org.sfmobile.demo.export.ExportFolder
import org.sfmobile.demo.generation.Driver

/**
 * Benchmark mode, protocol.py section 4, steps a-e, for one export folder:
 *  a. read the manifest and parity bundle, load the graphs (timed);
 *  b. parity: the bundle's inputs through the app's own pipeline (vision on frames_packed,
 *     [prefix | visual | suffix] embeddings, prefill, greedy decode of len(greedy_tokens), then
 *     teacher forcing of forced_tokens from the same cache, as sf_mobile/parity/driver.py
 *     run_backend does), scored against reference.safetensors with parity.json's limits;
 *  c. W warm-up repeats, then N timed repeats of the full pipeline on the parity frames;
 *  d. peak resident memory;
 *  e. the result written atomically, then the `done` marker.
 * A run that cannot finish still writes a "failed" result with a one-line reason, then `done`.
 * Blocking: call it off the main thread. Android-free (engine, device facts and logging are
 * passed in), so the JVM tests run it end to end on a fake engine.
 */
class BenchmarkRunner(
    private val openEngine: (ExportFolder) -> Engine,
    private val device: JsonObject,
    private val log: (String) -> Unit,
    private val memory: () -> Memory = { MemoryProbe.peakRss() },
    private val backendName: String = BackendEntry.ANDROID_NAME,
) {
    /** Runs, writes RESULT/sf_bench_result.json and RESULT/done, and returns what it wrote. */
    fun run(args: BenchmarkArguments): BackendEntry {
        val entry = try {
            measure(args)
        } catch (e: OutOfMemoryError) {
            failed("out of memory: ${e.message ?: "the export does not fit this phone's memory"}")
        } catch (e: Throwable) {
            failed(oneLine(e))
        }
        log("writing ${ResultWriter.RESULT_FILE} (status ${entry.status}${entry.reason?.let { ": $it" } ?: ""}) to ${args.resultDir.path}")
        ResultWriter.write(args.resultDir, entry)
        log("done")
        return entry
    }

    private fun measure(args: BenchmarkArguments): BackendEntry {
        log("run ${args.runId}: export ${args.folder.path}, ${args.warmup} warm-up + ${args.repeats} timed repeats")
        val folder = ExportFolder.open(args.folder)
        val bundle = ParityBundle.read(folder.parityDir)
        log("loading ${folder.manifest.target}/${folder.manifest.backend} graphs (${folder.manifest.preset})")
        val loadStart = System.nanoTime()
        val engine = openEngine(folder)
        val loadMs = msSince(loadStart)
        engine.use {
            log("${engine.name} loaded in ${"%.1f".format(loadMs)} ms")
            require(engine.frames == bundle.frames.count && engine.frameSide == bundle.frames.side) {
                "the graphs take ${engine.frames} frames of ${engine.frameSide} px, the parity bundle holds ${bundle.frames.count} of ${bundle.frames.side}"
            }
            val report = parity(engine, bundle)
            log("parity ${if (report.passed) "passed" else "FAILED: " + report.failed.joinToString()} (against ${report.against})")
            val runs = ArrayList<RunTimes>()
            for (i in 0 until args.warmup + args.repeats) {
                val warm = i < args.warmup
                log(if (warm) "warm-up ${i + 1}/${args.warmup}" else "repeat ${i - args.warmup + 1}/${args.repeats}")
                val run = timeOnce(engine, bundle)
                if (!warm) runs.add(run)
            }
            return BackendEntry(
                name = backendName,
                status = if (report.passed) BackendEntry.STATUS_OK else BackendEntry.STATUS_PARITY_FAILED,
                device = device,
                parity = listOf(report),
                latency = LatencyStats.summarize(runs, args.warmup),
                stats = LatencyStats.runnerStats(runs, loadMs),
                memory = memory(),
            )
        }
    }

    /** Step b: run_backend's sequence (one prefill, greedy, then teacher forcing from the same cache). */
    fun parity(engine: Engine, bundle: ParityBundle): ParityReport {
        val prefix = bundle.json.prefixIds.toIntArray()
        val suffix = bundle.json.suffixIds.toIntArray()
        var t0 = System.nanoTime()
        val visual = engine.encodeVision(bundle.frames)
        val visionMs = msSince(t0)
        t0 = System.nanoTime()
        val embeds = Driver.promptEmbeddings(engine, prefix, suffix, visual)
        val embeddingMs = msSince(t0)
        val promptLen = embeds.rows

        engine.reset()
        t0 = System.nanoTime()
        val prefillLogits = Driver.prefill(engine, embeds)
        val prefillMs = msSince(t0)
        val numDecode = bundle.greedyTokens.size
        t0 = System.nanoTime()
        val tokens = Driver.greedyFrom(engine, prefillLogits, promptLen, numDecode)
        val decodeMs = msSince(t0)
        // Every decode step reads only slots up to its own, all written by the same continuation,
        // so teacher forcing may overwrite the greedy run's slots without a second prefill.
        val forced = bundle.json.forcedTokens
        val vocab = prefillLogits.size
        val rows = FloatArray(forced.size * vocab)
        for ((i, token) in forced.withIndex()) {
            System.arraycopy(Driver.decodeStep(engine, token, promptLen + i), 0, rows, i * vocab, vocab)
        }

        val precision = bundle.json.precision
        val against = bundle.json.against
        val gated = ParityCheck.isGated(precision, against)
        val components = listOf(
            ParityCheck.tensorComponent(
                ParityCheck.VISION, visual.data, visual.shape.toList(), bundle.visual, bundle.visualShape,
                bundle.tolerance(ParityCheck.VISION), gated, rows = false,
            ),
            ParityCheck.tensorComponent(
                ParityCheck.PREFILL_LOGITS, prefillLogits, listOf(prefillLogits.size), bundle.prefillLastLogits, listOf(bundle.prefillLastLogits.size),
                bundle.tolerance(ParityCheck.PREFILL_LOGITS), gated, rows = true,
            ),
            ParityCheck.tensorComponent(
                ParityCheck.DECODE_LOGITS, rows, listOf(forced.size, vocab), bundle.decodeLogits, bundle.decodeLogitsShape,
                bundle.tolerance(ParityCheck.DECODE_LOGITS), gated, rows = true,
            ),
            ParityCheck.greedyComponent(tokens, bundle.greedyTokens, bundle.tolerance(ParityCheck.GREEDY), gated),
        )
        val decodeTokens = maxOf(tokens.size - 1, 0)
        val timings = ParityTimings(
            visionMs = PyNumbers.round(visionMs, 3)!!,
            embeddingMs = PyNumbers.round(embeddingMs, 3)!!,
            prefillMs = PyNumbers.round(prefillMs, 3)!!,
            prefillTokens = promptLen,
            prefillTokS = PyNumbers.round(RunTimes.rate(promptLen, prefillMs), 2),
            decodeMs = PyNumbers.round(decodeMs, 3)!!,
            decodeTokens = decodeTokens,
            decodeTokS = PyNumbers.round(RunTimes.rate(decodeTokens, decodeMs), 2),
            timeToFirstTokenMs = PyNumbers.round(visionMs + embeddingMs + prefillMs, 3)!!,
        )
        return ParityCheck.report(backendName, precision, against, components, timings)
    }

    /** Step c, one repeat: vision, embeddings, prefill and greedy decode of len(greedy_tokens) tokens (latency.py time_once). */
    fun timeOnce(engine: Engine, bundle: ParityBundle): RunTimes {
        var t0 = System.nanoTime()
        val visual = engine.encodeVision(bundle.frames)
        val visionMs = msSince(t0)
        t0 = System.nanoTime()
        val embeds = Driver.promptEmbeddings(engine, bundle.json.prefixIds.toIntArray(), bundle.json.suffixIds.toIntArray(), visual)
        val embeddingMs = msSince(t0)
        engine.reset()
        t0 = System.nanoTime()
        val logits = Driver.prefill(engine, embeds)
        val prefillMs = msSince(t0)
        t0 = System.nanoTime()
        val tokens = Driver.greedyFrom(engine, logits, embeds.rows, bundle.greedyTokens.size)
        val decodeMs = msSince(t0)
        return RunTimes(visionMs, embeddingMs, prefillMs, embeds.rows, decodeMs, maxOf(tokens.size - 1, 0), bundle.frames.count)
    }

    private fun failed(reason: String): BackendEntry {
        log("failed: $reason")
        return BackendEntry(
            name = backendName,
            status = BackendEntry.STATUS_FAILED,
            reason = reason,
            device = device,
            memory = try { memory() } catch (e: Throwable) { Memory(null, "not measured") },
        )
    }

    companion object {
        fun msSince(start: Long): Double = (System.nanoTime() - start) / 1e6

        /** One line for a result's "reason": the exception's own words, never a stack trace. */
        fun oneLine(e: Throwable): String {
            val message = e.message?.lineSequence()?.map { it.trim() }?.firstOrNull { it.isNotEmpty() }
                ?: return e.javaClass.simpleName
            // our own checks word their message for the user; anything else keeps its type as context
            val ours = e is IllegalArgumentException || e is IllegalStateException || e is org.sfmobile.demo.export.ExportError
            return ((if (ours) "" else e.javaClass.simpleName + ": ") + message).take(400)
        }
    }
}
