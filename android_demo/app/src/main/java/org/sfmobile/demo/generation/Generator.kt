package org.sfmobile.demo.generation

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import org.sfmobile.demo.engine.Engine
import org.sfmobile.demo.text.PromptBuilder
import org.sfmobile.demo.text.TextStream
import org.sfmobile.demo.video.FrameBatch

/** What a streamed answer reports, in order: Started, then Token*, then Finished. */
sealed interface GenerationEvent {
    /** The prompt is laid out: [prefixTokens | visualTokens | suffixTokens]. */
    data class Started(val prefixTokens: Int, val visualTokens: Int, val suffixTokens: Int) : GenerationEvent {
        val promptTokens: Int get() = prefixTokens + visualTokens + suffixTokens
    }

    /** One generated token and the text it adds (may be empty until a multi-byte character completes). */
    data class Token(val id: Int, val text: String) : GenerationEvent

    data class Finished(val stats: GenerationStats, val stopReason: StopReason) : GenerationEvent
}

enum class StopReason { END_TOKEN, MAX_TOKENS, CONTEXT_FULL }

/**
 * Timings of one answer, in the sf-bench metric meanings (sf_mobile/reports/schema.py METRICS):
 * time to first token = vision + embedding + prefill + first argmax; decode tok/s counts the
 * tokens produced by decode calls (the first token comes from the prefill).
 */
data class GenerationStats(
    val visionMs: Double,
    val embeddingMs: Double,
    val prefillMs: Double,
    val promptTokens: Int,
    val decodeMs: Double,
    val generatedTokens: Int,
) {
    val timeToFirstTokenMs: Double get() = visionMs + embeddingMs + prefillMs
    val prefillTokPerS: Double get() = rate(promptTokens, prefillMs)
    val decodeTokPerS: Double get() = rate(generatedTokens - 1, decodeMs)

    private fun rate(tokens: Int, ms: Double): Double = if (ms > 0 && tokens > 0) tokens / (ms / 1000.0) else Double.NaN
}

/** Answers one question about one set of frames, greedily, streaming tokens as they come. */
class Generator(private val engine: Engine, private val prompt: PromptBuilder) {

    fun generate(frames: FrameBatch, question: String, maxNewTokens: Int): Flow<GenerationEvent> = flow {
        val ids = prompt.encode(question)
        var t0 = System.nanoTime()
        val visual = engine.encodeVision(frames)
        val visionMs = msSince(t0)
        t0 = System.nanoTime()
        val embeds = Driver.promptEmbeddings(engine, ids.prefix, ids.suffix, visual)
        val embeddingMs = msSince(t0)
        val promptLen = embeds.rows
        emit(GenerationEvent.Started(ids.prefix.size, visual.rows, ids.suffix.size))

        engine.reset()
        t0 = System.nanoTime()
        var logits = Driver.prefill(engine, embeds)
        var token = Driver.argmax(logits)
        val prefillMs = msSince(t0)

        val text = TextStream { prompt.decode(it) }
        var generated = 0
        var reason = StopReason.MAX_TOKENS
        t0 = System.nanoTime()
        while (true) {
            currentCoroutineContext().ensureActive() // a cancelled collector stops the decode loop
            generated++
            if (token in prompt.stopIds) {
                reason = StopReason.END_TOKEN
                break
            }
            emit(GenerationEvent.Token(token, text.push(token)))
            if (generated >= maxNewTokens) break
            val position = promptLen + generated - 1
            if (position >= engine.maxContext) {
                reason = StopReason.CONTEXT_FULL
                break
            }
            logits = Driver.decodeStep(engine, token, position)
            token = Driver.argmax(logits)
        }
        val decodeMs = msSince(t0)
        val tail = text.flush()
        if (tail.isNotEmpty()) emit(GenerationEvent.Token(-1, tail))
        emit(GenerationEvent.Finished(GenerationStats(visionMs, embeddingMs, prefillMs, promptLen, decodeMs, generated), reason))
    }.flowOn(Dispatchers.Default)

    private fun msSince(start: Long): Double = (System.nanoTime() - start) / 1e6
}
