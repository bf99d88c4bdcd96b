package org.sfmobile.demo.video

/**
 * T frames of S x S RGB, uint8, laid out [T, 3, S, S] (what vision.onnx takes). The ExecuTorch
 * `vision_encoder` takes the same frames packed as one tall image [3, T*S, S] (frame t in rows
 * t*S .. t*S+S-1, sf_mobile/exportable/vision.py pack_frames); both layouts convert here.
 */
class FrameBatch(val count: Int, val side: Int, val data: ByteArray) {
    init {
        require(data.size == count * 3 * side * side) { "expected ${count}x3x${side}x$side bytes, got ${data.size}" }
    }

    /** [3, T*S, S]. */
    fun packed(): ByteArray {
        val plane = side * side
        val out = ByteArray(data.size)
        for (t in 0 until count) {
            for (c in 0 until 3) {
                System.arraycopy(data, (t * 3 + c) * plane, out, c * count * plane + t * plane, plane)
            }
        }
        return out
    }

    companion object {
        fun of(frames: List<ByteArray>, side: Int): FrameBatch {
            val plane = 3 * side * side
            val data = ByteArray(frames.size * plane)
            frames.forEachIndexed { t, f ->
                require(f.size == plane) { "frame $t has ${f.size} bytes, expected $plane" }
                System.arraycopy(f, 0, data, t * plane, plane)
            }
            return FrameBatch(frames.size, side, data)
        }

        /** From the packed [3, T*S, S] layout (parity bundle frames_packed). */
        fun fromPacked(packed: ByteArray, count: Int, side: Int): FrameBatch {
            val plane = side * side
            require(packed.size == 3 * count * plane) { "packed frames hold ${packed.size} bytes, expected ${3 * count * plane}" }
            val data = ByteArray(packed.size)
            for (t in 0 until count) {
                for (c in 0 until 3) {
                    System.arraycopy(packed, c * count * plane + t * plane, data, (t * 3 + c) * plane, plane)
                }
            }
            return FrameBatch(count, side, data)
        }
    }
}
