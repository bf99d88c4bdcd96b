package org.sfmobile.demo

import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.text.BpeTokenizer
import org.sfmobile.demo.text.TextStream
import org.sfmobile.demo.text.UnsupportedTokenizer

/** tokenizer_roundtrip.json through tokenizer.json: the app's BPE against HF tokenizers. */
class BpeTokenizerTest {
    private val roundtrip = Vectors.json("tokenizer_roundtrip.json")
    private val tokenizer = BpeTokenizer.parse(Vectors.text(roundtrip.getValue("tokenizer").jsonPrimitive.content))

    @Test
    fun encodesAsHuggingFaceDoes() {
        val cases = roundtrip.getValue("cases").jsonArray
        assertTrue(cases.isNotEmpty())
        for (element in cases) {
            val case = element.jsonObject
            val text = case.getValue("text").jsonPrimitive.content
            val ids = case.getValue("ids").jsonArray.map { it.jsonPrimitive.int }.toIntArray()
            assertArrayEquals("encode(${text.quoted()})", ids, tokenizer.encode(text))
        }
    }

    @Test
    fun decodesAsHuggingFaceDoes() {
        for (element in roundtrip.getValue("cases").jsonArray) {
            val case = element.jsonObject
            val ids = case.getValue("ids").jsonArray.map { it.jsonPrimitive.int }.toIntArray()
            // decoded = decode(ids, skip_special_tokens=False), as the vector file says
            assertEquals(case.getValue("decoded").jsonPrimitive.content, tokenizer.decode(ids, skipSpecial = false))
        }
    }

    @Test
    fun specialTokensAreSingleIdsAndSkippable() {
        val layout = Vectors.json("prompt_layout.json")
        val eos = layout.getValue("eos_ids").jsonArray.map { it.jsonPrimitive.int }
        val imEnd = tokenizer.tokenToId("<|im_end|>")!!
        assertTrue("<|im_end|> ($imEnd) is a stop id", imEnd in eos)
        assertArrayEquals(intArrayOf(imEnd), tokenizer.encode("<|im_end|>"))
        assertTrue(tokenizer.isSpecial(imEnd))
        val ids = tokenizer.encode("Yes.<|im_end|>")
        assertEquals("Yes.", tokenizer.decode(ids, skipSpecial = true))
        assertEquals("Yes.<|im_end|>", tokenizer.decode(ids, skipSpecial = false))
    }

    @Test
    fun streamingHoldsBackAnIncompleteCharacter() {
        val text = "café 🎬 ok"
        val ids = tokenizer.encode(text)
        val stream = TextStream { tokenizer.decode(it) }
        val pieces = ids.map { stream.push(it) }
        assertEquals(text, pieces.joinToString("") + stream.flush())
        assertTrue("no piece carries a replacement character", pieces.none { '\uFFFD' in it })
    }

    @Test(expected = UnsupportedTokenizer::class)
    fun refusesModelsItDoesNotImplement() {
        BpeTokenizer.parse("""{"model": {"type": "WordPiece", "vocab": {}}, "added_tokens": []}""")
    }

    private fun String.quoted(): String = "\"" + replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "\""
}
