package org.sfmobile.demo.text

import java.io.ByteArrayOutputStream
import java.io.File
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive

/**
 * A Hugging Face `tokenizer.json` with a byte-level BPE model, the kind sf-mobile's exports ship:
 * the tiny stand-in (ByteLevel pre-tokenizer with the GPT-2 regex) and Qwen2/Qwen2.5 checkpoints
 * (NFC, a Split regex, then ByteLevel without regex). There is no official HF tokenizers AAR, so
 * this is the subset of the Rust library's `encode(text, add_special_tokens=False)` and
 * `decode(ids)` those files use; any other component is refused at load (UnsupportedTokenizer)
 * rather than run wrongly. Not supported: WordPiece/Unigram/WordLevel models, Metaspace and
 * other SentencePiece-style pieces, BPE dropout, post-processor templates (never applied without
 * added special tokens anyway).
 */
class BpeTokenizer private constructor(
    private val vocab: Map<String, Int>,
    private val mergeRanks: Map<Pair<String, String>, Int>,
    private val addedTokens: List<AddedToken>,
    private val normalizer: TextNormalizer?,
    private val preTokenizer: PreTokenizer?,
    private val ignoreMerges: Boolean,
    private val byteFallback: Boolean,
    private val unkToken: String?,
) {
    data class AddedToken(
        val id: Int,
        val content: String,
        val special: Boolean,
        val lstrip: Boolean,
        val rstrip: Boolean,
        val singleWord: Boolean,
    )

    private val idToToken: Map<Int, String> = buildMap {
        for ((token, id) in vocab) put(id, token)
        for (added in addedTokens) put(added.id, added.content)
    }
    private val specialIds: Set<Int> = addedTokens.filter { it.special }.map { it.id }.toSet()
    private val addedByContent: Map<String, AddedToken> = addedTokens.associateBy { it.content }

    /** Ids the model can emit: the highest id + 1 (vocab and added tokens together). */
    val size: Int get() = (idToToken.keys.maxOrNull() ?: -1) + 1

    fun tokenToId(token: String): Int? = addedByContent[token]?.id ?: vocab[token]

    fun idToToken(id: Int): String? = idToToken[id]

    fun isSpecial(id: Int): Boolean = id in specialIds

    /** `encode(text, add_special_tokens=False).ids`: added tokens written in the text become their own ids. */
    fun encode(text: String): IntArray {
        val ids = ArrayList<Int>()
        for (segment in splitOnAddedTokens(text)) {
            if (segment.added != null) {
                ids.add(segment.added.id)
                continue
            }
            val normalized = normalizer?.normalize(segment.text) ?: segment.text
            val words = preTokenizer?.split(normalized) ?: listOf(normalized)
            for (word in words) if (word.isNotEmpty()) bpe(word, ids)
        }
        return ids.toIntArray()
    }

    /**
     * `decode(ids, skip_special_tokens=skipSpecial)`: the ByteLevel decoder over all tokens, then
     * UTF-8 with invalid sequences replaced by U+FFFD (Rust's from_utf8_lossy). Unknown ids are skipped.
     */
    fun decode(ids: IntArray, skipSpecial: Boolean = false): String {
        val bytes = ByteArrayOutputStream()
        for (id in ids) {
            if (skipSpecial && id in specialIds) continue
            val token = idToToken[id] ?: continue
            ByteLevel.appendTokenBytes(token, bytes)
        }
        return String(bytes.toByteArray(), Charsets.UTF_8)
    }

    private class Segment(val text: String, val added: AddedToken?)

    /**
     * Splits the raw text at added tokens, leftmost match first and the longest token on a tie (HF's
     * leftmost-longest matcher). lstrip/rstrip tokens take the whitespace beside them; single_word
     * tokens match only between non-word characters. All added tokens are matched on the raw text
     * (HF matches `normalized: true` ones after normalization; the exports' are all `false`).
     */
    private fun splitOnAddedTokens(text: String): List<Segment> {
        if (addedTokens.isEmpty() || text.isEmpty()) return listOf(Segment(text, null))
        val out = ArrayList<Segment>()
        var from = 0
        var pendingStart = 0
        while (from < text.length) {
            val match = findAddedToken(text, from) ?: break
            var (start, end) = match.first to match.first + match.second.content.length
            if (match.second.lstrip) while (start > pendingStart && text[start - 1].isWhitespace()) start--
            if (match.second.rstrip) while (end < text.length && text[end].isWhitespace()) end++
            if (start > pendingStart) out.add(Segment(text.substring(pendingStart, start), null))
            out.add(Segment(text.substring(start, end), match.second))
            pendingStart = end
            from = end
        }
        if (pendingStart < text.length) out.add(Segment(text.substring(pendingStart), null))
        return out
    }

    private fun findAddedToken(text: String, from: Int): Pair<Int, AddedToken>? {
        var best: Pair<Int, AddedToken>? = null
        for (token in addedTokens) {
            if (token.content.isEmpty()) continue
            var at = text.indexOf(token.content, from)
            while (at >= 0 && token.singleWord && !isWordBoundary(text, at, at + token.content.length)) {
                at = text.indexOf(token.content, at + 1)
            }
            if (at < 0) continue
            val current = best
            if (current == null || at < current.first ||
                (at == current.first && token.content.length > current.second.content.length)
            ) {
                best = at to token
            }
        }
        return best
    }

    private fun isWordBoundary(text: String, start: Int, end: Int): Boolean {
        val before = start == 0 || !text[start - 1].isLetterOrDigit()
        val after = end >= text.length || !text[end].isLetterOrDigit()
        return before && after
    }

    /** BPE of one pre-token, appending its ids: the lowest-ranked adjacent pair is merged first, leftmost on a tie. */
    private fun bpe(word: String, out: MutableList<Int>) {
        if (ignoreMerges) vocab[word]?.let { out.add(it); return }
        // Initial symbols are the word's code points (ByteLevel text is all BMP; other text may not be).
        val symbols = ArrayList<String>()
        var i = 0
        while (i < word.length) {
            val next = word.offsetByCodePoints(i, 1)
            symbols.add(word.substring(i, next))
            i = next
        }
        while (symbols.size > 1) {
            var bestRank = Int.MAX_VALUE
            var bestAt = -1
            for (k in 0 until symbols.size - 1) {
                val rank = mergeRanks[symbols[k] to symbols[k + 1]] ?: continue
                if (rank < bestRank) {
                    bestRank = rank
                    bestAt = k
                }
            }
            if (bestAt < 0) break
            symbols[bestAt] = symbols[bestAt] + symbols[bestAt + 1]
            symbols.removeAt(bestAt + 1)
        }
        for (symbol in symbols) {
            val id = vocab[symbol]
            when {
                id != null -> out.add(id)
                byteFallback -> for (b in symbol.toByteArray(Charsets.UTF_8)) {
                    vocab[String.format("<0x%02X>", b.toInt() and 0xFF)]?.let { out.add(it) }
                }
                unkToken != null -> vocab[unkToken]?.let { out.add(it) }
                // else: HF drops a symbol it can neither find nor replace
            }
        }
    }

    companion object {
        fun load(file: File): BpeTokenizer = parse(file.readText(Charsets.UTF_8))

        fun parse(text: String): BpeTokenizer {
            val root = Json.parseToJsonElement(text).jsonObject
            val model = root["model"]?.jsonObject ?: throw UnsupportedTokenizer("tokenizer.json has no model")
            val type = model["type"]?.jsonPrimitive?.contentOrNull
            if (type != "BPE") throw UnsupportedTokenizer("tokenizer model '$type' is not supported (BPE only)")
            for (key in listOf("continuing_subword_prefix", "end_of_word_suffix")) {
                val value = model[key]
                if (value != null && value !is JsonNull && value.jsonPrimitive.contentOrNull?.isNotEmpty() == true) {
                    throw UnsupportedTokenizer("BPE $key is not supported")
                }
            }
            val vocab = model["vocab"]!!.jsonObject.mapValues { it.value.jsonPrimitive.int }
            val merges = HashMap<Pair<String, String>, Int>()
            for ((rank, entry) in (model["merges"] as? JsonArray ?: JsonArray(emptyList())).withIndex()) {
                // tokenizers >= 0.20 writes [left, right]; older files write "left right"
                val pair = if (entry is JsonArray) {
                    entry[0].jsonPrimitive.content to entry[1].jsonPrimitive.content
                } else {
                    val s = entry.jsonPrimitive.content
                    val space = s.indexOf(' ', 1)
                    s.substring(0, space) to s.substring(space + 1)
                }
                merges.putIfAbsent(pair, rank)
            }
            val added = (root["added_tokens"] as? JsonArray ?: JsonArray(emptyList())).map {
                val o = it.jsonObject
                AddedToken(
                    id = o["id"]!!.jsonPrimitive.int,
                    content = o["content"]!!.jsonPrimitive.content,
                    special = o.flag("special"),
                    lstrip = o.flag("lstrip"),
                    rstrip = o.flag("rstrip"),
                    singleWord = o.flag("single_word"),
                )
            }
            checkDecoder(root["decoder"] as? JsonObject)
            return BpeTokenizer(
                vocab = vocab,
                mergeRanks = merges,
                addedTokens = added,
                normalizer = TextNormalizer.parse(root["normalizer"] as? JsonObject),
                preTokenizer = PreTokenizer.parse(root["pre_tokenizer"] as? JsonObject),
                ignoreMerges = (model["ignore_merges"] as? JsonPrimitive)?.booleanOrNull ?: false,
                byteFallback = (model["byte_fallback"] as? JsonPrimitive)?.booleanOrNull ?: false,
                unkToken = (model["unk_token"] as? JsonPrimitive)?.contentOrNull,
            )
        }

        private fun JsonObject.flag(key: String): Boolean = (this[key] as? JsonPrimitive)?.booleanOrNull ?: false

        /** decode() implements the ByteLevel decoder: refuse files that decode otherwise. */
        private fun checkDecoder(decoder: JsonObject?) {
            val type = decoder?.get("type")?.jsonPrimitive?.contentOrNull
            val ok = when (type) {
                "ByteLevel" -> true
                "Sequence" -> decoder["decoders"]!!.jsonArray.all { it.jsonObject["type"]?.jsonPrimitive?.contentOrNull == "ByteLevel" }
                else -> false
            }
            if (!ok) throw UnsupportedTokenizer("decoder '$type' is not supported (ByteLevel only)")
        }
    }
}
