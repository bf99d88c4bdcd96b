package org.sfmobile.demo.engine

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The KV cache the app owns for the ONNX graphs, as sf_mobile/runtimes/onnx.py OnnxBackend does:
 * past_keys / past_values [L, 1, KVH, ctx, hd] go into every call, the call returns only its new
 * rows [L, 1, KVH, R, hd], and the app writes the real ones at their slots. Two direct buffers in
 * native byte order, so ONNX Runtime reads them in place (no copy of a cache that is hundreds of
 * MB at 1B). `elementBytes` is 4 (float32) or 2 (float16), the graphs' float I/O type.
 */
class KvCache(
    val layers: Int,
    val kvHeads: Int,
    val context: Int,
    val headDim: Int,
    val elementBytes: Int,
) {
    val shape: LongArray = longArrayOf(layers.toLong(), 1, kvHeads.toLong(), context.toLong(), headDim.toLong())
    private val bytes: Long = layers.toLong() * kvHeads * context * headDim * elementBytes

    init {
        require(elementBytes == 2 || elementBytes == 4) { "KV cache elements are 2 or 4 bytes, not $elementBytes" }
        require(bytes <= Int.MAX_VALUE) { "a $bytes-byte KV cache does not fit one Java buffer; export with a smaller --max-context" }
    }

    val keys: ByteBuffer = ByteBuffer.allocateDirect(bytes.toInt()).order(ByteOrder.nativeOrder())
    val values: ByteBuffer = ByteBuffer.allocateDirect(bytes.toInt()).order(ByteOrder.nativeOrder())

    /**
     * Zeroes both caches. The mask already hides every slot this sequence has not written; zeros
     * keep a new sequence from depending on the last one even so (onnx.py reset()).
     */
    fun reset() {
        val zeros = ByteArray(minOf(bytes, 1L shl 20).toInt())
        for (buffer in listOf(keys, values)) {
            buffer.clear()
            while (buffer.hasRemaining()) buffer.put(zeros, 0, minOf(zeros.size, buffer.remaining()))
            buffer.clear()
        }
    }

    /**
     * Stores a call's new rows: `newKeys`/`newValues` hold [L, 1, KVH, rows, hd] in native order,
     * of which the first `pad` rows are front padding and are dropped; the `count` real rows go to
     * slots start..start+count-1.
     */
    fun write(newKeys: ByteBuffer, newValues: ByteBuffer, rows: Int, pad: Int, start: Int, count: Int) {
        require(pad + count == rows) { "pad $pad + count $count != rows $rows" }
        require(start >= 0 && start + count <= context) { "slots $start..${start + count - 1} do not fit $context" }
        val rowBytes = headDim * elementBytes
        for ((source, target) in listOf(newKeys to keys, newValues to values)) {
            val src = source.duplicate().order(ByteOrder.nativeOrder())
            val dst = target.duplicate().order(ByteOrder.nativeOrder())
            require(src.capacity() >= layers * kvHeads * rows * rowBytes) { "new rows hold ${src.capacity()} bytes, expected ${layers * kvHeads * rows * rowBytes}" }
            for (lh in 0 until layers * kvHeads) {
                val from = (lh * rows + pad) * rowBytes
                src.limit(from + count * rowBytes).position(from)
                dst.limit(dst.capacity()).position((lh * context + start) * rowBytes)
                dst.put(src)
                src.limit(src.capacity())
            }
        }
    }
}

/**
 * The additive attention mask [1, 1, rows, ctx + rows] of one call (sf_mobile/runtimes/onnx.py
 * step_mask; layout in the graphs' `sf.mask_layout`): columns 0..ctx-1 are cache slots, then the
 * call's own rows. The last `count` rows are real, fed at slots start..; the first rows - count
 * are front padding. Real rows see the slots written before the call (< start) and the call's
 * real rows up to their own; each pad row sees only its own column, so no row is fully masked
 * and the pad rows' outputs are discarded. 0 where a row may look, `maskValue` elsewhere (the
 * manifest's mask_value: -1e4 for float graphs, -100 for QDQ graphs, whose 8/16-bit range would
 * collapse at -1e4).
 */
object StepMask {
    fun build(start: Int, count: Int, rows: Int, maxContext: Int, maskValue: Float): FloatArray {
        require(count in 1..rows) { "count $count must be within 1..$rows" }
        val width = maxContext + rows
        val pad = rows - count
        val mask = FloatArray(rows * width) { maskValue }
        for (r in pad until rows) {
            val base = r * width
            java.util.Arrays.fill(mask, base, base + start, 0f)
            val own = r - pad
            for (j in 0..own) mask[base + maxContext + pad + j] = 0f
        }
        for (p in 0 until pad) mask[p * width + maxContext + p] = 0f
        return mask
    }
}
