package org.sfmobile.demo.text

import java.text.Normalizer
import java.util.Locale
import java.util.regex.Pattern
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.boolean
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive

/** A tokenizer.json component this app does not implement: refused at load, never run wrongly. */
class UnsupportedTokenizer(message: String) : Exception(message)

/** tokenizer.json "normalizer": the kinds byte-level BPE tokenizers use. */
sealed interface TextNormalizer {
    fun normalize(text: String): String

    data class Unicode(val form: Normalizer.Form) : TextNormalizer {
        override fun normalize(text: String): String = Normalizer.normalize(text, form)
    }

    data object Lowercase : TextNormalizer {
        override fun normalize(text: String): String = text.lowercase(Locale.ROOT)
    }

    data class Chain(val steps: List<TextNormalizer>) : TextNormalizer {
        override fun normalize(text: String): String = steps.fold(text) { acc, step -> step.normalize(acc) }
    }

    companion object {
        fun parse(json: JsonObject?): TextNormalizer? {
            if (json == null) return null
            return when (val type = json["type"]?.jsonPrimitive?.content) {
                "NFC" -> Unicode(Normalizer.Form.NFC)
                "NFD" -> Unicode(Normalizer.Form.NFD)
                "NFKC" -> Unicode(Normalizer.Form.NFKC)
                "NFKD" -> Unicode(Normalizer.Form.NFKD)
                "Lowercase" -> Lowercase
                "Sequence" -> Chain(json["normalizers"]!!.jsonArray.mapNotNull { parse(it as? JsonObject) })
                else -> throw UnsupportedTokenizer("normalizer '$type' is not supported (NFC/NFD/NFKC/NFKD/Lowercase/Sequence)")
            }
        }
    }
}

/** tokenizer.json "pre_tokenizer": splits normalized text into the words BPE works on. */
sealed interface PreTokenizer {
    fun split(text: String): List<String>

    /**
     * Byte-level: optional GPT-2 regex split, then every piece written in ByteLevel characters.
     * It must come last in a sequence (its output is no longer plain text).
     */
    data class ByteLevelSplit(val addPrefixSpace: Boolean, val useRegex: Boolean) : PreTokenizer {
        override fun split(text: String): List<String> {
            val input = if (addPrefixSpace && !text.startsWith(" ")) " $text" else text
            val pieces = if (useRegex) RegexSplit(GPT2_PATTERN, Behavior.ISOLATED, false).split(input) else listOf(input)
            return pieces.map { ByteLevel.encode(it) }
        }
    }

    /** HF "Split": a regex (or literal) delimiter and what happens to the delimiters. */
    data class RegexSplit(val pattern: Pattern, val behavior: Behavior, val invert: Boolean) : PreTokenizer {
        override fun split(text: String): List<String> {
            // (start, end, isDelimiter) segments covering the text, in order
            val segments = ArrayList<Triple<Int, Int, Boolean>>()
            val matcher = pattern.matcher(text)
            var last = 0
            while (matcher.find()) {
                if (matcher.end() == matcher.start()) continue // empty matches delimit nothing
                if (matcher.start() > last) segments.add(Triple(last, matcher.start(), invert))
                segments.add(Triple(matcher.start(), matcher.end(), !invert))
                last = matcher.end()
            }
            if (last < text.length) segments.add(Triple(last, text.length, invert))
            val out = ArrayList<String>()
            var pending = StringBuilder() // MERGED_WITH_NEXT: delimiter waiting for the next piece
            for ((start, end, delimiter) in segments) {
                val piece = text.substring(start, end)
                when (behavior) {
                    Behavior.ISOLATED -> out.add(piece)
                    Behavior.REMOVED -> if (!delimiter) out.add(piece)
                    Behavior.MERGED_WITH_PREVIOUS ->
                        if (delimiter && out.isNotEmpty()) out[out.size - 1] = out.last() + piece else out.add(piece)
                    Behavior.MERGED_WITH_NEXT ->
                        if (delimiter) pending.append(piece) else { out.add(pending.toString() + piece); pending = StringBuilder() }
                    Behavior.CONTIGUOUS ->
                        if (delimiter && out.isNotEmpty() && lastWasDelimiter(segments, start)) out[out.size - 1] = out.last() + piece
                        else out.add(piece)
                }
            }
            if (pending.isNotEmpty()) out.add(pending.toString())
            return out.filter { it.isNotEmpty() }
        }

        private fun lastWasDelimiter(segments: List<Triple<Int, Int, Boolean>>, start: Int): Boolean =
            segments.firstOrNull { it.second == start }?.third == true
    }

    /** HF "Digits": digits split from the rest, optionally one piece per digit. */
    data class Digits(val individual: Boolean) : PreTokenizer {
        override fun split(text: String): List<String> =
            RegexSplit(Pattern.compile(if (individual) "\\p{N}" else "\\p{N}+"), Behavior.ISOLATED, false).split(text)
    }

    data class Chain(val steps: List<PreTokenizer>) : PreTokenizer {
        override fun split(text: String): List<String> =
            steps.fold(listOf(text)) { pieces, step -> pieces.flatMap { step.split(it) } }
    }

    enum class Behavior { ISOLATED, REMOVED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    companion object {
        /**
         * GPT-2's split, which HF's ByteLevel pre-tokenizer applies when use_regex is true. Java's
         * UNICODE_CHARACTER_CLASS makes \s the Unicode White_Space set, as Oniguruma's \s is in HF.
         */
        val GPT2_PATTERN: Pattern = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS,
        )

        fun parse(json: JsonObject?): PreTokenizer? {
            if (json == null) return null
            return when (val type = json["type"]?.jsonPrimitive?.content) {
                "ByteLevel" -> ByteLevelSplit(
                    addPrefixSpace = json["add_prefix_space"]?.jsonPrimitive?.booleanOrNull ?: true,
                    useRegex = json["use_regex"]?.jsonPrimitive?.booleanOrNull ?: true,
                )
                "Split" -> RegexSplit(splitPattern(json["pattern"]!!.jsonObject), behavior(json["behavior"]!!.jsonPrimitive.content),
                    json["invert"]?.jsonPrimitive?.boolean ?: false)
                "Digits" -> Digits(json["individual_digits"]?.jsonPrimitive?.booleanOrNull ?: false)
                "Sequence" -> Chain((json["pretokenizers"] as? JsonArray ?: JsonArray(emptyList())).mapNotNull {
                    if (it is JsonNull) null else parse(it.jsonObject)
                })
                else -> throw UnsupportedTokenizer("pre_tokenizer '$type' is not supported (ByteLevel/Split/Digits/Sequence)")
            }
        }

        private fun splitPattern(json: JsonObject): Pattern {
            json["Regex"]?.let { return Pattern.compile(it.jsonPrimitive.content, Pattern.UNICODE_CHARACTER_CLASS) }
            json["String"]?.let { return Pattern.compile(Pattern.quote(it.jsonPrimitive.content)) }
            throw UnsupportedTokenizer("Split pattern $json is neither Regex nor String")
        }

        private fun behavior(name: String): Behavior = when (name) {
            "Isolated" -> Behavior.ISOLATED
            "Removed" -> Behavior.REMOVED
            "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS
            "MergedWithNext" -> Behavior.MERGED_WITH_NEXT
            "Contiguous" -> Behavior.CONTIGUOUS
            else -> throw UnsupportedTokenizer("Split behavior '$name' is unknown")
        }
    }
}
