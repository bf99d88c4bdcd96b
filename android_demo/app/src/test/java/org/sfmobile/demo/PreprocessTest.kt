package org.sfmobile.demo

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test
import org.sfmobile.demo.engine.Half
import org.sfmobile.demo.video.FrameBatch
import org.sfmobile.demo.video.Preprocess
import org.sfmobile.demo.video.Preprocess.ResizeMode

/** Resize and packing against sf_mobile/video/preprocess.py and exportable/vision.py pack_frames. */
class PreprocessTest {
    /**
     * A 6 x 10 RGB frame (torch.randint(0, 256, (1, 6, 10, 3), generator seeded 0)) and what
     * preprocess.resize_frames makes of it at image_size 4, in both resize modes (torch 2.13).
     */
    private val frame = intArrayOf(
        172, 47, 117, 192, 67, 251, 195, 103, 9, 211, 21, 242, 36, 87, 70, 216, 88, 140, 58, 193, 230, 39, 87, 174, 88, 81, 165, 25, 77, 72,
        9, 148, 115, 208, 243, 197, 254, 79, 175, 192, 82, 99, 216, 177, 243, 29, 147, 147, 142, 167, 32, 193, 9, 185, 127, 32, 31, 202, 244, 151,
        163, 254, 203, 114, 183, 28, 34, 128, 128, 164, 53, 133, 38, 232, 244, 17, 79, 132, 105, 42, 186, 31, 120, 1, 65, 231, 169, 57, 35, 102,
        119, 11, 174, 82, 91, 128, 142, 99, 53, 140, 121, 170, 84, 203, 68, 6, 196, 47, 127, 244, 131, 204, 100, 180, 232, 78, 143, 148, 227, 186,
        23, 207, 141, 117, 85, 48, 49, 69, 169, 163, 192, 95, 197, 94, 0, 113, 178, 36, 162, 48, 93, 131, 98, 42, 205, 112, 231, 149, 201, 127,
        0, 138, 114, 43, 186, 127, 23, 187, 130, 121, 98, 62, 163, 222, 123, 195, 82, 174, 227, 148, 209, 50, 155, 14, 41, 58, 193, 36, 10, 86,
    )
    private val squash = intArrayOf(
        179, 179, 108, 96, 128, 122, 77, 108, 98, 113, 111, 184, 33, 133, 170, 84,
        102, 84, 128, 88, 178, 129, 113, 123, 88, 144, 156, 140, 155, 147, 121, 89,
        157, 144, 157, 126, 127, 166, 131, 107, 121, 90, 88, 164, 117, 94, 115, 127,
    )
    private val shortestEdgeCrop = intArrayOf(
        224, 151, 120, 95, 140, 119, 56, 108, 110, 121, 76, 179, 59, 163, 191, 109,
        89, 81, 148, 82, 115, 150, 118, 99, 97, 161, 177, 110, 142, 154, 117, 116,
        137, 153, 146, 165, 119, 191, 143, 92, 105, 85, 68, 137, 120, 74, 138, 95,
    )

    private fun bytes(values: IntArray) = ByteArray(values.size) { values[it].toByte() }

    @Test
    fun squashMatchesTorchAntialiasedBicubic() {
        assertArrayEquals(bytes(squash), Preprocess.toModelInput(bytes(frame), 6, 10, 4, ResizeMode.SQUASH))
    }

    @Test
    fun shortestEdgeCropMatchesTorch() {
        assertEquals(4 to 6, Preprocess.resizedSize(6, 10, 4, ResizeMode.SHORTEST_EDGE_CROP)) // int(4 * 10 / 6) = 6
        assertArrayEquals(bytes(shortestEdgeCrop), Preprocess.toModelInput(bytes(frame), 6, 10, 4, ResizeMode.SHORTEST_EDGE_CROP))
    }

    @Test
    fun aFrameAlreadyAtSizeIsCopiedNotFiltered() {
        val rgb = bytes(IntArray(2 * 2 * 3) { it * 20 })
        // HWC -> CHW only
        assertArrayEquals(bytes(intArrayOf(0, 60, 120, 180, 20, 80, 140, 200, 40, 100, 160, 220)), Preprocess.toModelInput(rgb, 2, 2, 2, ResizeMode.SQUASH))
    }

    @Test
    fun packAndUnpackAreInverse() {
        val t = 3
        val side = 2
        val frames = FrameBatch(t, side, ByteArray(t * 3 * side * side) { it.toByte() })
        val packed = frames.packed()
        // channel 0 holds frame 0 rows, then frame 1 rows, ...: element [c=0, row=t*S+y, x]
        assertEquals(frames.data[1 * 12 + 0 * 4 + 1 * 2 + 1], packed[0 * 12 + (1 * side + 1) * side + 1])
        assertArrayEquals(frames.data, FrameBatch.fromPacked(packed, t, side).data)
    }

    @Test
    fun halfConvertsBothWays() {
        for (v in floatArrayOf(0f, -0f, 1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 1e-3f)) {
            assertEquals(v, Half.toFloat(Half.fromFloat(v)), Math.ulp(v) * 8192) // fp16 keeps 11 of float's 24 mantissa bits
        }
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat(Half.fromFloat(1e6f)), 0f)
        assertEquals(0x3C00.toShort(), Half.fromFloat(1f))
        assertEquals(0xC100.toShort(), Half.fromFloat(-2.5f))
        assertEquals(-10000f, Half.toFloat(Half.fromFloat(-10000f)), 0f) // the float graphs' mask value is exact in fp16
    }
}
