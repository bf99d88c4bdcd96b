package org.sfmobile.demo.generation

import org.sfmobile.demo.engine.Engine
import org.sfmobile.demo.engine.FloatTensor

/**
 * The call sequence every runtime is driven through, ported from sf_mobile/parity/driver.py so the
 * app's numbers mean what the host's mean: embeddings of [prefix | visual | suffix], chunked
 * prefill from slot 0 with explicit positions, then one decode call per token.
 */
object Driver {
    /** [1, P + N_vis + Q, D]; an empty prefix or suffix is skipped (a graph may reject S = 0). */
    fun promptEmbeddings(engine: Engine, prefixIds: IntArray, suffixIds: IntArray, visual: FloatTensor): FloatTensor {
        val hidden = visual.lastDim
        val parts = ArrayList<FloatArray>(3)
        if (prefixIds.isNotEmpty()) parts.add(engine.embed(prefixIds).also { checkHidden(it, hidden) }.data)
        parts.add(visual.data)
        if (suffixIds.isNotEmpty()) parts.add(engine.embed(suffixIds).also { checkHidden(it, hidden) }.data)
        val data = FloatArray(parts.sumOf { it.size })
        var at = 0
        for (p in parts) {
            System.arraycopy(p, 0, data, at, p.size)
            at += p.size
        }
        return FloatTensor(intArrayOf(1, data.size / hidden, hidden), data)
    }

    private fun checkHidden(t: FloatTensor, hidden: Int) {
        require(t.lastDim == hidden) { "token embeddings are ${t.lastDim} wide, visual embeddings $hidden" }
    }

    /** Feeds embeds [1, S, D] from slot 0 in chunks of engine.maxChunk; the logits after the last row [V]. */
    fun prefill(engine: Engine, embeds: FloatTensor, progress: (Int, Int) -> Unit = { _, _ -> }): FloatArray {
        val hidden = embeds.lastDim
        val rows = embeds.rows
        require(rows > 0) { "the prompt is empty" }
        require(rows <= engine.maxContext) { "$rows prompt rows do not fit the ${engine.maxContext}-slot KV cache" }
        var last: FloatArray? = null
        var start = 0
        while (start < rows) {
            progress(start, rows)
            val count = minOf(engine.maxChunk, rows - start)
            val chunk = embeds.data.copyOfRange(start * hidden, (start + count) * hidden)
            last = engine.decode(chunk, count, start)
            start += count
        }
        return last!!
    }

    /** Feeds one token at `position`; the logits after it [V]. */
    fun decodeStep(engine: Engine, token: Int, position: Int): FloatArray {
        require(position < engine.maxContext) { "position $position is past the ${engine.maxContext}-slot KV cache" }
        return engine.decode(engine.embed(intArrayOf(token)).data, 1, position)
    }

    /** torch.argmax: the first index of the maximum. */
    fun argmax(logits: FloatArray): Int {
        var best = 0
        for (i in 1 until logits.size) if (logits[i] > logits[best]) best = i
        return best
    }

    /** Argmax decode after a prefill whose last logits are `logits`; the first new token goes to `position`. */
    fun greedyFrom(engine: Engine, logits: FloatArray, position: Int, numDecode: Int): List<Int> {
        val tokens = ArrayList<Int>(numDecode)
        if (numDecode <= 0) return tokens
        tokens.add(argmax(logits))
        while (tokens.size < numDecode) {
            val next = decodeStep(engine, tokens.last(), position + tokens.size - 1)
            tokens.add(argmax(next))
        }
        return tokens
    }
}
