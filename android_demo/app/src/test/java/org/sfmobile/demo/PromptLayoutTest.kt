package org.sfmobile.demo

import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import org.sfmobile.demo.export.PromptConfig
import org.sfmobile.demo.text.BpeTokenizer
import org.sfmobile.demo.text.PromptBuilder
import org.sfmobile.demo.text.PyFormat

/** prompt_layout.json: the tiny preset's prompt, split at <video>, against Python's PromptCodec. */
class PromptLayoutTest {
    private val layout = Vectors.json("prompt_layout.json")
    private val tokenizer = BpeTokenizer.parse(Vectors.text("tokenizer.json"))

    /**
     * The tiny preset's prompt (sf_mobile/presets.py CHATML, as sf_manifest.json config.prompt
     * carries it); the vectors hold its renderings, so a template change fails here.
     */
    private val prompt = PromptConfig(
        template = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<video>\n{question}<|im_end|>\n<|im_start|>assistant\n",
        system = "You are a helpful assistant.",
        placeholder = "<video>",
        stopTokens = listOf("<|im_end|>", "<|endoftext|>"),
        specialTokens = listOf("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    )
    private val bos = layout["bos_id"]?.takeIf { it !is JsonNull }?.jsonPrimitive?.int
    private val builder = PromptBuilder(prompt, tokenizer, bos, layout.getValue("eos_ids").jsonArray.map { it.jsonPrimitive.int }.toSet())

    @Test
    fun rendersSplitsAndEncodesAsPython() {
        val visual = layout.getValue("visual_tokens").jsonPrimitive.int
        for (element in layout.getValue("cases").jsonArray) {
            val case = element.jsonObject
            val question = case.getValue("question").jsonPrimitive.content
            assertEquals("render($question)", case.getValue("rendered").jsonPrimitive.content, builder.render(question))
            val ids = builder.encode(question)
            assertArrayEquals("prefix of '$question'", case.ids("prefix_ids"), ids.prefix)
            assertArrayEquals("suffix of '$question'", case.ids("suffix_ids"), ids.suffix)
            assertEquals("rows of '$question'", case.getValue("rows").jsonPrimitive.int, ids.prefix.size + visual + ids.suffix.size)
        }
    }

    @Test
    fun aQuestionHoldingThePlaceholderIsRefused() {
        assertThrows(IllegalArgumentException::class.java) { builder.encode("what is in <video>?") }
    }

    @Test
    fun pyFormatKeepsValuesVerbatimAndUnescapesBraces() {
        assertEquals("{a} x {q}", PyFormat.format("{{a}} {x} {{q}}", mapOf("x" to "x")))
        assertEquals("say {hi}", PyFormat.format("say {question}", mapOf("question" to "{hi}")))
        assertThrows(IllegalArgumentException::class.java) { PyFormat.format("{x!r}", mapOf("x" to "1")) }
    }

    private fun kotlinx.serialization.json.JsonObject.ids(key: String): IntArray =
        getValue(key).jsonArray.map { it.jsonPrimitive.int }.toIntArray()
}
