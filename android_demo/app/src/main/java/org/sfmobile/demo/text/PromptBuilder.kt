package org.sfmobile.demo.text

import org.sfmobile.demo.export.PromptConfig
import org.sfmobile.demo.export.SfManifest

/** A prompt split at the video placeholder: prefix ids, then the visual rows, then suffix ids. */
class PromptIds(val prefix: IntArray, val suffix: IntArray)

/**
 * The chat template of an export (sf_manifest.json config.prompt, the same as chat_template.json)
 * around the video: sf_mobile/tokenizer.py PromptCodec. Render with the system text and the
 * question, split at the placeholder, encode each side without added special tokens, BOS first
 * when the LLM has one.
 */
class PromptBuilder(
    private val prompt: PromptConfig,
    private val tokenizer: BpeTokenizer,
    private val bosId: Int?,
    val stopIds: Set<Int>,
) {
    init {
        val missing = (prompt.specialTokens + prompt.stopTokens).filter { tokenizer.tokenToId(it) == null }
        require(missing.isEmpty()) { "the tokenizer lacks the prompt's special token(s) $missing; use the export's tokenizer.json" }
    }

    fun render(question: String): String = PyFormat.format(prompt.template, mapOf("system" to prompt.system, "question" to question))

    fun encode(question: String): PromptIds {
        val parts = render(question).split(prompt.placeholder)
        require(parts.size == 2) {
            "the rendered prompt holds the placeholder ${prompt.placeholder} ${parts.size - 1} times; remove it from the question"
        }
        val prefix = tokenizer.encode(parts[0])
        return PromptIds(
            prefix = if (bosId != null) intArrayOf(bosId) + prefix else prefix,
            suffix = tokenizer.encode(parts[1]),
        )
    }

    /** The answer text: stop tokens dropped, special tokens skipped (PromptCodec.decode). */
    fun decode(ids: IntArray): String = tokenizer.decode(ids.filter { it !in stopIds }.toIntArray(), skipSpecial = true)

    companion object {
        fun of(manifest: SfManifest, tokenizer: BpeTokenizer): PromptBuilder {
            val prompt = manifest.config.prompt
            // The manifest's ids are the codec's own; recomputing them from the tokenizer would hide a mismatch.
            val stops = manifest.eosIds.ifEmpty { prompt.stopTokens.mapNotNull { tokenizer.tokenToId(it) } }
            return PromptBuilder(prompt, tokenizer, manifest.bosId, stops.toSet())
        }
    }
}

/**
 * Python's str.format for the templates sf-mobile writes: named fields `{name}` and the escapes
 * `{{` and `}}`. Values are inserted verbatim (a question with braces stays as typed). Conversions
 * and format specs (`{x!r}`, `{x:>8}`) are not used by the presets and are refused.
 */
object PyFormat {
    fun format(template: String, values: Map<String, String>): String {
        val out = StringBuilder(template.length + values.values.sumOf { it.length })
        var i = 0
        while (i < template.length) {
            val c = template[i]
            when {
                c == '{' && i + 1 < template.length && template[i + 1] == '{' -> { out.append('{'); i += 2 }
                c == '}' && i + 1 < template.length && template[i + 1] == '}' -> { out.append('}'); i += 2 }
                c == '{' -> {
                    val end = template.indexOf('}', i + 1)
                    require(end > i) { "unclosed '{' at $i in the prompt template" }
                    val name = template.substring(i + 1, end)
                    require(name.isNotEmpty() && name.none { it == ':' || it == '!' || it == '{' }) {
                        "template field '{$name}' is not a plain name"
                    }
                    out.append(values[name] ?: throw IllegalArgumentException("template field '{$name}' has no value"))
                    i = end + 1
                }
                c == '}' -> throw IllegalArgumentException("single '}' at $i in the prompt template")
                else -> { out.append(c); i++ }
            }
        }
        return out.toString()
    }
}

/**
 * Turns a growing list of generated ids into text deltas for a streamed answer. Byte-level BPE
 * splits a multi-byte character over several tokens; decoding all ids and holding back a trailing
 * U+FFFD (an incomplete UTF-8 sequence) until the next token completes it keeps the stream valid.
 */
class TextStream(private val decode: (IntArray) -> String) {
    private val ids = ArrayList<Int>()
    private var emitted = 0

    /** The new text after `id`, possibly empty. */
    fun push(id: Int): String {
        ids.add(id)
        val text = decode(ids.toIntArray())
        val stable = if (text.endsWith('\uFFFD')) text.dropLast(1) else text
        if (stable.length <= emitted) return ""
        val delta = stable.substring(emitted)
        emitted = stable.length
        return delta
    }

    /** Whatever is still held back (a truly invalid trailing byte) once generation ends. */
    fun flush(): String {
        val text = decode(ids.toIntArray())
        val delta = if (text.length > emitted) text.substring(emitted) else ""
        emitted = text.length
        return delta
    }
}
