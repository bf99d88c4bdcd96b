package org.sfmobile.demo

import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test
import org.sfmobile.demo.engine.KvCache
import org.sfmobile.demo.engine.StepMask

/** The app-owned KV cache and mask of the ONNX engine, against sf_mobile/runtimes/onnx.py. */
class KvCacheTest {
    @Test
    fun maskMatchesPythonsStepMask() {
        // onnx.step_mask(start=2, count=2, rows=3, max_context=4, mask_value=-100): row 0 is padding
        val expected = floatArrayOf(
            -100f, -100f, -100f, -100f, 0f, -100f, -100f,
            0f, 0f, -100f, -100f, -100f, 0f, -100f,
            0f, 0f, -100f, -100f, -100f, 0f, 0f,
        )
        assertArrayEquals(expected, StepMask.build(start = 2, count = 2, rows = 3, maxContext = 4, maskValue = -100f), 0f)
        // a first decode step sees only itself
        assertArrayEquals(floatArrayOf(-1f, -1f, -1f, -1f, 0f), StepMask.build(0, 1, 1, 4, -1f), 0f)
    }

    @Test
    fun writeDropsPadRowsAndStoresRealRowsAtTheirSlots() {
        // L = 2, KVH = 1, ctx = 5, hd = 2, float32; a call of R = 3 rows, 1 pad + 2 real, at slot 2
        val cache = KvCache(layers = 2, kvHeads = 1, context = 5, headDim = 2, elementBytes = 4)
        cache.reset()
        val rows = 3
        fun newRows(sign: Float): ByteBuffer {
            val b = ByteBuffer.allocate(2 * rows * 2 * 4).order(ByteOrder.nativeOrder())
            for (l in 0 until 2) for (r in 0 until rows) for (d in 0 until 2) b.putFloat(sign * (100 * l + 10 * r + d))
            b.rewind()
            return b
        }
        cache.write(newRows(1f), newRows(-1f), rows = rows, pad = 1, start = 2, count = 2)
        val keys = FloatArray(2 * 5 * 2).also { cache.keys.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer().get(it) }
        val expected = FloatArray(20)
        for (l in 0 until 2) for (i in 0 until 2) for (d in 0 until 2) expected[(l * 5 + 2 + i) * 2 + d] = (100 * l + 10 * (i + 1) + d).toFloat()
        assertArrayEquals(expected, keys, 0f)
        val values = FloatArray(20).also { cache.values.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer().get(it) }
        assertArrayEquals(expected.map { -it + 0f }.toFloatArray(), values, 0f)
        assertEquals("the cache buffers stay at position 0 for ONNX Runtime", 0, cache.keys.position())
        cache.reset()
        val cleared = FloatArray(20).also { cache.keys.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer().get(it) }
        assertArrayEquals(FloatArray(20), cleared, 0f)
    }
}
