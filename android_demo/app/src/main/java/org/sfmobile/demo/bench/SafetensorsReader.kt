package org.sfmobile.demo.bench

import java.io.File
import java.io.RandomAccessFile
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long

/**
 * The safetensors format the parity bundle is written in: an 8-byte little-endian header length N,
 * N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then
 * the raw little-endian data, offsets relative to its start. Read-only and memory-mapped.
 */
class SafetensorsReader private constructor(private val data: ByteBuffer, val tensors: Map<String, Entry>) {

    class Entry(val name: String, val dtype: String, val shape: LongArray, val begin: Long, val end: Long) {
        val count: Long get() = shape.fold(1L) { acc, d -> acc * d }
    }

    class FormatError(message: String) : Exception(message)

    fun entry(name: String): Entry = tensors[name] ?: throw FormatError("no tensor '$name' (has ${tensors.keys.sorted().joinToString()})")

    private fun bytesOf(e: Entry): ByteBuffer {
        val b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        b.limit(e.end.toInt()).position(e.begin.toInt())
        return b.slice().order(ByteOrder.LITTLE_ENDIAN)
    }

    /** F32, F16 or BF16 as float32. */
    fun floats(name: String): FloatArray {
        val e = entry(name)
        val b = bytesOf(e)
        val n = e.count.toInt()
        return when (e.dtype) {
            "F32" -> FloatArray(n).also { b.asFloatBuffer().get(it) }
            "F16" -> FloatArray(n) { org.sfmobile.demo.engine.Half.toFloat(b.getShort(it * 2)) }
            "BF16" -> FloatArray(n) { java.lang.Float.intBitsToFloat((b.getShort(it * 2).toInt() and 0xFFFF) shl 16) }
            else -> throw FormatError("tensor '$name' is ${e.dtype}, not a float type")
        }
    }

    /** I64 or I32 as longs. */
    fun longs(name: String): LongArray {
        val e = entry(name)
        val b = bytesOf(e)
        val n = e.count.toInt()
        return when (e.dtype) {
            "I64" -> LongArray(n).also { b.asLongBuffer().get(it) }
            "I32" -> LongArray(n) { b.getInt(it * 4).toLong() }
            else -> throw FormatError("tensor '$name' is ${e.dtype}, not an integer type")
        }
    }

    /** U8 bytes as stored (0..255 in Byte's two's complement). */
    fun bytes(name: String): ByteArray {
        val e = entry(name)
        if (e.dtype != "U8") throw FormatError("tensor '$name' is ${e.dtype}, not U8")
        return ByteArray(e.count.toInt()).also { bytesOf(e).get(it) }
    }

    fun shape(name: String): LongArray = entry(name).shape

    companion object {
        private val SIZES = mapOf("U8" to 1, "I8" to 1, "BOOL" to 1, "F16" to 2, "BF16" to 2, "I16" to 2, "F32" to 4, "I32" to 4, "F64" to 8, "I64" to 8)

        fun open(file: File): SafetensorsReader = RandomAccessFile(file, "r").use { raf ->
            val length = raf.length()
            if (length < 8) throw FormatError("${file.name} is too short to be safetensors")
            // The mapping stays valid after the file is closed.
            parse(raf.channel.map(FileChannel.MapMode.READ_ONLY, 0, length), file.name)
        }

        fun parse(buffer: ByteBuffer, where: String = "safetensors"): SafetensorsReader {
            val b = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN)
            val headerLength = b.getLong(0)
            if (headerLength <= 0 || 8 + headerLength > b.capacity()) throw FormatError("$where: header length $headerLength is impossible")
            val headerBytes = ByteArray(headerLength.toInt())
            b.position(8)
            b.get(headerBytes)
            val header = Json.parseToJsonElement(String(headerBytes, Charsets.UTF_8)).jsonObject
            b.position(8 + headerLength.toInt())
            val data = b.slice().order(ByteOrder.LITTLE_ENDIAN)
            val entries = LinkedHashMap<String, Entry>()
            for ((name, value) in header) {
                if (name == "__metadata__") continue
                val o = value as? JsonObject ?: throw FormatError("$where: entry '$name' is not an object")
                val dtype = o["dtype"]!!.jsonPrimitive.content
                val shape = o["shape"]!!.jsonArray.map { it.jsonPrimitive.long }.toLongArray()
                val offsets = o["data_offsets"]!!.jsonArray.map { it.jsonPrimitive.long }
                val e = Entry(name, dtype, shape, offsets[0], offsets[1])
                val size = SIZES[dtype] ?: throw FormatError("$where: '$name' has unknown dtype $dtype")
                if (e.end - e.begin != e.count * size || e.end > data.capacity() || e.begin < 0) {
                    throw FormatError("$where: '$name' offsets ${offsets} do not hold $dtype ${shape.contentToString()}")
                }
                entries[name] = e
            }
            return SafetensorsReader(data, entries)
        }
    }
}
