package org.sfmobile.demo.video

import kotlin.math.abs
import kotlin.math.ceil
import kotlin.math.min

/**
 * Frames to the vision tower's square input, uint8 in and uint8 out: a port of
 * sf_mobile/video/preprocess.py. Resize with torch's antialiased bicubic (PIL's filter, a = -0.5,
 * support scaled by the downscale factor), width pass then height pass in float32 as torch does,
 * then round half to even and clamp, then centre-crop. Mean/std normalisation stays inside the
 * exported graph, which takes raw uint8.
 *
 * Equal to torch up to float32 summation details: an output can differ by one level where the
 * float result sits within rounding error of a .5 tie (rare; the parity bundle's frames, not the
 * app's own decode, are what parity is measured on).
 */
object Preprocess {
    enum class ResizeMode(val wire: String) {
        SQUASH("squash"),
        SHORTEST_EDGE_CROP("shortest_edge_crop");

        companion object {
            fun parse(name: String): ResizeMode =
                entries.firstOrNull { it.wire == name } ?: throw IllegalArgumentException("unknown resize mode '$name'")
        }
    }

    /** (height, width) the frame is resized to before the centre crop. */
    fun resizedSize(height: Int, width: Int, side: Int, mode: ResizeMode): Pair<Int, Int> = when (mode) {
        ResizeMode.SQUASH -> side to side
        // Hugging Face's get_resize_output_image_size truncates the long side with int(), not round().
        ResizeMode.SHORTEST_EDGE_CROP ->
            if (height <= width) side to (side.toLong() * width).toDouble().div(height).toInt()
            else (side.toLong() * height).toDouble().div(width).toInt() to side
    }

    /**
     * One RGB frame, interleaved [H, W, 3] uint8, to the model's [3, S, S] uint8 (channel planes).
     */
    fun toModelInput(rgb: ByteArray, height: Int, width: Int, side: Int, mode: ResizeMode): ByteArray {
        require(rgb.size == height * width * 3) { "expected ${height}x${width}x3 bytes, got ${rgb.size}" }
        val (outH, outW) = resizedSize(height, width, side, mode)
        val top = (outH - side) / 2 // floors like HF's center_crop
        val left = (outW - side) / 2
        val out = ByteArray(3 * side * side)
        val plane = FloatArray(height * width)
        for (c in 0 until 3) {
            for (i in 0 until height * width) plane[i] = (rgb[i * 3 + c].toInt() and 0xFF).toFloat()
            val resized = if (outH == height && outW == width) plane else resizePlane(plane, height, width, outH, outW)
            for (y in 0 until side) {
                for (x in 0 until side) {
                    out[c * side * side + y * side + x] = toByte(resized[(top + y) * outW + (left + x)])
                }
            }
        }
        return out
    }

    /** torch.round (half to even) then clamp to 0..255, as preprocess.py's round_().clamp_(0, 255). */
    fun toByte(value: Float): Byte = Math.rint(value.toDouble()).coerceIn(0.0, 255.0).toInt().toByte()

    /** One channel [h, w] -> [outH, outW]: the width pass, then the height pass (each skipped when its size is unchanged). */
    fun resizePlane(src: FloatArray, h: Int, w: Int, outH: Int, outW: Int): FloatArray {
        var current = src
        if (outW != w) {
            val wt = Weights.of(w, outW)
            val next = FloatArray(h * outW)
            for (y in 0 until h) {
                for (x in 0 until outW) next[y * outW + x] = wt.apply(current, y * w, 1, x)
            }
            current = next
        }
        if (outH != h) {
            val wt = Weights.of(h, outH)
            val next = FloatArray(outH * outW)
            for (y in 0 until outH) {
                for (x in 0 until outW) next[y * outW + x] = wt.apply(current, x, outW, y)
            }
            current = next
        }
        return current
    }

    /** PIL's bicubic kernel (a = -0.5) in torch's spelling, float32. */
    fun cubic(x: Float): Float {
        val a = -0.5f
        val t = abs(x)
        if (t < 1f) return ((a + 2f) * t - (a + 3f)) * t * t + 1f
        if (t < 2f) return ((a * t - 5f * a) * t + 8f * a) * t - 4f * a
        return 0f
    }

    /**
     * Antialiased interpolation weights along one axis (torch's _compute_indices_min_size_weights_aa,
     * align_corners=False): output i reads inputs xmin[i] until xmin[i] + size[i], weighted.
     */
    class Weights(val xmin: IntArray, val size: IntArray, val weights: FloatArray, val stride: Int) {
        /** Weighted sum for output `i` over `src[base + (xmin + j) * step]`, accumulated in order as torch does. */
        fun apply(src: FloatArray, base: Int, step: Int, i: Int): Float {
            val first = base + xmin[i] * step
            var out = src[first] * weights[i * stride]
            for (j in 1 until size[i]) out += src[first + j * step] * weights[i * stride + j]
            return out
        }

        companion object {
            fun of(inSize: Int, outSize: Int): Weights {
                val scale = inSize.toFloat() / outSize
                val support = if (scale >= 1f) 2f * scale else 2f // bicubic: interp_size 4, half of it
                val invScale = if (scale >= 1f) 1f / scale else 1f
                val stride = ceil(support.toDouble()).toInt() * 2 + 1
                val xmin = IntArray(outSize)
                val sizes = IntArray(outSize)
                val weights = FloatArray(outSize * stride)
                for (i in 0 until outSize) {
                    val center = (scale * (i + 0.5)).toFloat()
                    val lo = maxOf((center - support + 0.5).toLong(), 0L).toInt()
                    val size = (min((center + support + 0.5).toLong(), inSize.toLong()) - lo).toInt().coerceIn(0, stride)
                    var total = 0f
                    for (j in 0 until size) {
                        // C++ promotion as in torch: (int - float) in float, then + 0.5 and * invscale in double
                        val w = cubic(((((j + lo).toFloat() - center) + 0.5) * invScale).toFloat())
                        weights[i * stride + j] = w
                        total += w
                    }
                    if (total != 0f) for (j in 0 until size) weights[i * stride + j] /= total
                    xmin[i] = lo
                    sizes[i] = size
                }
                return Weights(xmin, sizes, weights, stride)
            }
        }
    }
}
