package org.sfmobile.demo.engine

import java.io.Closeable
import org.sfmobile.demo.video.FrameBatch

/** A float tensor: row-major data and its shape. */
class FloatTensor(val shape: IntArray, val data: FloatArray) {
    init {
        require(shape.fold(1L) { acc, d -> acc * d } == data.size.toLong()) {
            "shape ${shape.contentToString()} does not hold ${data.size} values"
        }
    }

    /** The last dimension (hidden size for embeddings, vocab for logits). */
    val lastDim: Int get() = shape.last()
    val rows: Int get() = data.size / lastDim
}

/**
 * The three calls of the ExecuTorch multimodal contract that every exported graph set offers
 * (sf_mobile/runtimes/base.py GraphBackend), as the app drives them. An engine owns its KV cache.
 * Calls are not thread-safe: one generation at a time.
 */
interface Engine : Closeable {
    /** Shown in the UI and written into results, e.g. "executorch-xnnpack". */
    val name: String

    /** Rows one decoder call takes at most: a longer prompt is prefilled in chunks of this size. */
    val maxChunk: Int

    /** KV-cache positions: prompt + answer must fit. */
    val maxContext: Int

    /** T frames of S x S the vision graph takes. */
    val frames: Int
    val frameSide: Int

    /** uint8 frames -> visual embeddings [1, N_vis, D] (float32). */
    fun encodeVision(frames: FrameBatch): FloatTensor

    /** token ids -> embeddings [1, S, D] (float32). */
    fun embed(ids: IntArray): FloatTensor

    /**
     * `rows` embedding rows ([rows, D] flattened) written at cache slots start..start+rows-1
     * (rows <= maxChunk) -> the logits after the last row [V].
     */
    fun decode(embeds: FloatArray, rows: Int, start: Int): FloatArray

    /** Empty the KV cache: the next decode starts a new sequence at slot 0. */
    fun reset()
}
