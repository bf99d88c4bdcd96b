package org.sfmobile.demo

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive

/** Writes safetensors files for the tests (the format: 8-byte LE header length, JSON header, raw LE data). */
class SafetensorsWriter {
    private class T(val name: String, val dtype: String, val shape: List<Long>, val bytes: ByteArray)

    private val tensors = ArrayList<T>()

    fun u8(name: String, shape: List<Long>, data: ByteArray) = apply { tensors.add(T(name, "U8", shape, data)) }

    fun i64(name: String, data: List<Long>) = apply {
        val b = ByteBuffer.allocate(data.size * 8).order(ByteOrder.LITTLE_ENDIAN)
        data.forEach { b.putLong(it) }
        tensors.add(T(name, "I64", listOf(data.size.toLong()), b.array()))
    }

    fun f32(name: String, shape: List<Long>, data: FloatArray) = apply {
        val b = ByteBuffer.allocate(data.size * 4).order(ByteOrder.LITTLE_ENDIAN)
        data.forEach { b.putFloat(it) }
        tensors.add(T(name, "F32", shape, b.array()))
    }

    fun f16(name: String, shape: List<Long>, bits: ShortArray) = apply {
        val b = ByteBuffer.allocate(bits.size * 2).order(ByteOrder.LITTLE_ENDIAN)
        bits.forEach { b.putShort(it) }
        tensors.add(T(name, "F16", shape, b.array()))
    }

    fun write(file: File): File {
        var offset = 0L
        val header = LinkedHashMap<String, JsonObject>()
        for (t in tensors) {
            header[t.name] = JsonObject(
                mapOf(
                    "dtype" to JsonPrimitive(t.dtype),
                    "shape" to JsonArray(t.shape.map { JsonPrimitive(it) }),
                    "data_offsets" to JsonArray(listOf(JsonPrimitive(offset), JsonPrimitive(offset + t.bytes.size))),
                ),
            )
            offset += t.bytes.size
        }
        val meta = JsonObject(mapOf("format" to JsonPrimitive("pt")))
        var json = JsonObject(mapOf<String, kotlinx.serialization.json.JsonElement>("__metadata__" to meta) + header).toString().toByteArray()
        // safetensors pads the header with spaces to a multiple of 8
        val padded = (json.size + 7) / 8 * 8
        json = json + ByteArray(padded - json.size) { ' '.code.toByte() }
        file.outputStream().use { out ->
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.size.toLong()).array())
            out.write(json)
            for (t in tensors) out.write(t.bytes)
        }
        return file
    }
}

fun tempDir(prefix: String): File = kotlin.io.path.createTempDirectory(prefix).toFile().also { it.deleteOnExit() }
