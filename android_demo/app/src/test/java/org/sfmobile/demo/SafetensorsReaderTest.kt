package org.sfmobile.demo

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import org.sfmobile.demo.bench.SafetensorsReader
import org.sfmobile.demo.engine.Half

class SafetensorsReaderTest {
    private val dir = tempDir("safetensors")

    @Test
    fun readsEveryDtypeTheBundleUses() {
        val file = SafetensorsWriter()
            .u8("frames", listOf(2, 3), byteArrayOf(0, 1, 127, -128, -1, 42))
            .i64("ids", listOf(1L, 424L, -3L, Long.MAX_VALUE))
            .f32("logits", listOf(2, 2), floatArrayOf(1.5f, -2f, 0f, 3.25f))
            .f16("half", listOf(3), shortArrayOf(Half.fromFloat(1f), Half.fromFloat(-0.5f), Half.fromFloat(65504f)))
            .write(File(dir, "t.safetensors"))
        val st = SafetensorsReader.open(file)
        assertEquals(setOf("frames", "ids", "logits", "half"), st.tensors.keys)
        assertArrayEquals(byteArrayOf(0, 1, 127, -128, -1, 42), st.bytes("frames"))
        assertArrayEquals(longArrayOf(2, 3), st.shape("frames"))
        assertArrayEquals(longArrayOf(1L, 424L, -3L, Long.MAX_VALUE), st.longs("ids"))
        assertArrayEquals(floatArrayOf(1.5f, -2f, 0f, 3.25f), st.floats("logits"), 0f)
        assertArrayEquals(floatArrayOf(1f, -0.5f, 65504f), st.floats("half"), 0f)
        assertThrows(SafetensorsReader.FormatError::class.java) { st.floats("ids") }
        assertThrows(SafetensorsReader.FormatError::class.java) { st.entry("missing") }
    }

    @Test
    fun refusesOffsetsThatDoNotHoldTheShape() {
        val header = """{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}""".toByteArray()
        val b = ByteBuffer.allocate(8 + header.size + 8).order(ByteOrder.LITTLE_ENDIAN)
        b.putLong(header.size.toLong()).put(header).put(ByteArray(8))
        b.rewind()
        assertThrows(SafetensorsReader.FormatError::class.java) { SafetensorsReader.parse(b) }
    }
}
