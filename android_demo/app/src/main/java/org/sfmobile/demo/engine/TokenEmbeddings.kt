package org.sfmobile.demo.engine

import java.io.Closeable
import java.io.File
import java.io.RandomAccessFile
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * token_embeddings.f32|f16 of an ONNX export: the raw [V, D] table, row-major, little-endian
 * (export/onnx/pipeline.py write_embedding_table). Memory-mapped and read row by row, so the
 * prompt's few hundred rows cost a few page faults, not the table's 0.5-1 GB of RAM. Mapped in
 * segments of whole rows below 1 GiB: one Java buffer cannot address more than 2 GiB.
 */
class TokenEmbeddings(file: File, val vocab: Int, val hidden: Int, val dtype: String) : Closeable {
    private val elementBytes = when (dtype) {
        "float32" -> 4
        "float16" -> 2
        else -> throw IllegalArgumentException("embedding table dtype '$dtype' is not float32 or float16")
    }
    private val rowBytes = hidden.toLong() * elementBytes
    private val rowsPerSegment = maxOf(1L, (1L shl 30) / rowBytes).toInt()
    private val raf = RandomAccessFile(file, "r")
    private val segments: List<MappedByteBuffer>

    init {
        val expected = vocab.toLong() * rowBytes
        require(raf.length() == expected) {
            "${file.name} holds ${raf.length()} bytes; [$vocab, $hidden] $dtype is $expected"
        }
        val channel = raf.channel
        segments = (0 until vocab step rowsPerSegment).map { first ->
            val rows = minOf(rowsPerSegment, vocab - first)
            channel.map(FileChannel.MapMode.READ_ONLY, first * rowBytes, rows * rowBytes).also { it.order(ByteOrder.LITTLE_ENDIAN) }
        }
    }

    /** The rows of `ids`, as float32 [ids.size * D]. */
    fun lookup(ids: IntArray): FloatArray {
        val out = FloatArray(ids.size * hidden)
        for ((r, id) in ids.withIndex()) {
            require(id in 0 until vocab) { "token id $id is outside the table's $vocab rows" }
            val segment = segments[id / rowsPerSegment]
            val base = ((id % rowsPerSegment) * rowBytes).toInt()
            if (elementBytes == 4) {
                for (d in 0 until hidden) out[r * hidden + d] = segment.getFloat(base + d * 4)
            } else {
                for (d in 0 until hidden) out[r * hidden + d] = Half.toFloat(segment.getShort(base + d * 2))
            }
        }
        return out
    }

    override fun close() {
        raf.close() // the mappings stay valid until garbage-collected, as Java defines them
    }
}
