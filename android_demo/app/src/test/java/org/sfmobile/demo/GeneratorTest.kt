package org.sfmobile.demo

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.engine.Engine
import org.sfmobile.demo.engine.FloatTensor
import org.sfmobile.demo.engine.Half
import org.sfmobile.demo.engine.TokenEmbeddings
import org.sfmobile.demo.export.PromptConfig
import org.sfmobile.demo.generation.GenerationEvent
import org.sfmobile.demo.generation.Generator
import org.sfmobile.demo.generation.StopReason
import org.sfmobile.demo.text.BpeTokenizer
import org.sfmobile.demo.text.PromptBuilder
import org.sfmobile.demo.video.FrameBatch

/** The streamed answer: greedy tokens in order, text deltas, the stop token, and the timings' meaning. */
class GeneratorTest {
    private val tokenizer = BpeTokenizer.parse(Vectors.text("tokenizer.json"))
    private val prompt = PromptBuilder(
        PromptConfig(template = "<|im_start|>{system}\n<video>\n{question}<|im_end|>\n", system = "s", stopTokens = listOf("<|im_end|>")),
        tokenizer, bosId = null, stopIds = setOf(tokenizer.tokenToId("<|im_end|>")!!),
    )

    /** Answers "Yes. No." then <|im_end|>, whatever it is asked. */
    private inner class ScriptedEngine(private val script: IntArray) : Engine {
        override val name = "scripted"
        override val maxChunk = 16
        override val maxContext = 256
        override val frames = 1
        override val frameSide = 1
        var promptRows = -1
        override fun encodeVision(frames: FrameBatch) = FloatTensor(intArrayOf(1, 3, 2), FloatArray(6))
        override fun embed(ids: IntArray) = FloatTensor(intArrayOf(1, ids.size, 2), FloatArray(ids.size * 2))
        override fun decode(embeds: FloatArray, rows: Int, start: Int): FloatArray {
            if (rows > 1 || start == 0) promptRows = maxOf(promptRows, start + rows)
            val step = if (start + rows <= promptRows) 0 else start - promptRows + 1
            return FloatArray(tokenizer.size).also { it[script[minOf(step, script.size - 1)]] = 1f }
        }
        override fun reset() = Unit
        override fun close() = Unit
    }

    @Test
    fun streamsTheAnswerAndStopsAtTheEndToken() = runBlocking {
        val answer = tokenizer.encode("Yes. No.")
        val script = answer + tokenizer.tokenToId("<|im_end|>")!!
        val events = Generator(ScriptedEngine(script), prompt).generate(FrameBatch(1, 1, ByteArray(3)), "q?", maxNewTokens = 50).toList()
        val started = events.first() as GenerationEvent.Started
        assertEquals(3, started.visualTokens)
        val tokens = events.filterIsInstance<GenerationEvent.Token>()
        assertArrayEquals(answer, tokens.map { it.id }.toIntArray())
        assertEquals("Yes. No.", tokens.joinToString("") { it.text })
        val finished = events.last() as GenerationEvent.Finished
        assertEquals(StopReason.END_TOKEN, finished.stopReason)
        assertEquals(started.promptTokens, finished.stats.promptTokens)
        assertEquals(answer.size + 1, finished.stats.generatedTokens) // the stop token was generated too
        assertTrue(finished.stats.timeToFirstTokenMs >= 0)
    }

    @Test
    fun maxNewTokensBoundsTheAnswer() = runBlocking {
        val events = Generator(ScriptedEngine(tokenizer.encode("Yes Yes Yes Yes")), prompt)
            .generate(FrameBatch(1, 1, ByteArray(3)), "q?", maxNewTokens = 2).toList()
        assertEquals(2, events.filterIsInstance<GenerationEvent.Token>().size)
        assertEquals(StopReason.MAX_TOKENS, (events.last() as GenerationEvent.Finished).stopReason)
    }

    @Test
    fun embeddingTableIsReadRowByRowInEitherPrecision() {
        val dir = tempDir("table")
        val f32 = File(dir, "t.f32")
        val f16 = File(dir, "t.f16")
        val values = FloatArray(3 * 4) { it * 0.5f - 1f }
        f32.writeBytes(ByteBuffer.allocate(values.size * 4).order(ByteOrder.LITTLE_ENDIAN).also { b -> values.forEach { b.putFloat(it) } }.array())
        f16.writeBytes(ByteBuffer.allocate(values.size * 2).order(ByteOrder.LITTLE_ENDIAN).also { b -> values.forEach { b.putShort(Half.fromFloat(it)) } }.array())
        for ((file, dtype) in listOf(f32 to "float32", f16 to "float16")) {
            TokenEmbeddings(file, vocab = 3, hidden = 4, dtype = dtype).use { table ->
                assertArrayEquals(dtype, values.copyOfRange(8, 12) + values.copyOfRange(0, 4), table.lookup(intArrayOf(2, 0)), 0f)
            }
        }
    }
}
