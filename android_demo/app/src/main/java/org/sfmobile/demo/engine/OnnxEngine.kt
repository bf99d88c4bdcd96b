package org.sfmobile.demo.engine

import ai.onnxruntime.OnnxJavaType
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtLoggingLevel
import ai.onnxruntime.OrtSession
import ai.onnxruntime.TensorInfo
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer
import java.nio.LongBuffer
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.float
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonPrimitive
import org.sfmobile.demo.export.ExportError
import org.sfmobile.demo.export.ExportFolder
import org.sfmobile.demo.video.FrameBatch

/**
 * The graphs of `sf-export --target onnx` on ONNX Runtime: the float graphs on the CPU provider,
 * or the EPContext graphs of a QNN export on the HTP NPU. The folder's contract
 * (sf_mobile/runtimes/onnx.py):
 *   vision.onnx      frames uint8 [T, 3, S, S] -> visual_embeds [1, N_vis, D]
 *   prefill.onnx (R = chunk), decode.onnx (R = 1):
 *                    inputs_embeds [1, R, D], position_ids int64 [R], attention_mask [1, 1, R, ctx + R],
 *                    past_keys / past_values [L, 1, KVH, ctx, hd]
 *                    -> logits [1, 1, V] (last row), new_keys / new_values [L, 1, KVH, R, hd]
 *   token_embeddings.f32|f16   the raw table, looked up here (memory-mapped)
 * Chunk, context, mask value and table come from the graphs' `sf.*` metadata, the cache shape and
 * float type from the graphs' inputs: nothing is assumed about the model.
 *
 * The app owns the KV cache (KvCache). Prefill calls take exactly R rows: a shorter chunk is
 * padded at the FRONT with zero rows, which the mask isolates and whose keys/values are dropped,
 * so the last row (whose logits come out) is always real. One row goes through decode.onnx.
 */
class OnnxEngine private constructor(
    override val name: String,
    private val env: OrtEnvironment,
    private val vision: OrtSession,
    private val prefill: OrtSession,
    private val decodeSession: OrtSession,
    private val table: TokenEmbeddings,
    private val chunk: Int,
    override val maxContext: Int,
    private val maskValue: Float,
    private val floatType: OnnxJavaType,
    private val cache: KvCache,
    override val frames: Int,
    override val frameSide: Int,
    private val hidden: Int,
) : Engine {
    override val maxChunk: Int get() = chunk

    override fun encodeVision(frames: FrameBatch): FloatTensor {
        require(frames.count == this.frames && frames.side == frameSide) {
            "vision.onnx takes ${this.frames} frames of $frameSide px, got ${frames.count} of ${frames.side}"
        }
        val shape = longArrayOf(frames.count.toLong(), 3, frames.side.toLong(), frames.side.toLong())
        OnnxTensor.createTensor(env, ByteBuffer.wrap(frames.data), shape, OnnxJavaType.UINT8).use { input ->
            vision.run(mapOf("frames" to input)).use { result ->
                val out = result.get("visual_embeds").get() as OnnxTensor
                return FloatTensor(out.info.shape.map { it.toInt() }.toIntArray(), readFloats(out))
            }
        }
    }

    override fun embed(ids: IntArray): FloatTensor = FloatTensor(intArrayOf(1, ids.size, hidden), table.lookup(ids))

    override fun decode(embeds: FloatArray, rows: Int, start: Int): FloatArray {
        val count = rows
        require(count in 1..chunk) { "the decoder takes 1..$chunk rows per call, got $count" }
        require(start >= 0 && start + count <= maxContext) {
            "rows at slots $start..${start + count - 1} do not fit the $maxContext-slot KV cache; shorten the prompt or answer, or export with a larger --max-context"
        }
        val (session, callRows) = if (count == 1) decodeSession to 1 else prefill to chunk
        val pad = callRows - count
        val padded = FloatArray(callRows * hidden)
        System.arraycopy(embeds, 0, padded, pad * hidden, count * hidden)
        val positions = LongArray(callRows) { i -> if (i < pad) start.toLong() else (start + i - pad).toLong() }
        val mask = StepMask.build(start, count, callRows, maxContext, maskValue)
        val inputs = LinkedHashMap<String, OnnxTensor>()
        try {
            inputs["inputs_embeds"] = floatTensor(padded, longArrayOf(1, callRows.toLong(), hidden.toLong()))
            inputs["position_ids"] = OnnxTensor.createTensor(env, LongBuffer.wrap(positions), longArrayOf(callRows.toLong()))
            inputs["attention_mask"] = floatTensor(mask, longArrayOf(1, 1, callRows.toLong(), (maxContext + callRows).toLong()))
            // the cache buffers are direct: ONNX Runtime reads them in place, no copy per call
            inputs["past_keys"] = OnnxTensor.createTensor(env, cache.keys, cache.shape, floatType)
            inputs["past_values"] = OnnxTensor.createTensor(env, cache.values, cache.shape, floatType)
            session.run(inputs).use { result ->
                val logits = readFloats(result.get("logits").get() as OnnxTensor)
                val newKeys = (result.get("new_keys").get() as OnnxTensor).byteBuffer.order(ByteOrder.nativeOrder())
                val newValues = (result.get("new_values").get() as OnnxTensor).byteBuffer.order(ByteOrder.nativeOrder())
                cache.write(newKeys, newValues, callRows, pad, start, count)
                return logits
            }
        } finally {
            for (t in inputs.values) t.close()
        }
    }

    override fun reset() = cache.reset()

    override fun close() {
        vision.close()
        prefill.close()
        decodeSession.close()
        table.close()
    }

    private fun floatTensor(values: FloatArray, shape: LongArray): OnnxTensor =
        if (floatType == OnnxJavaType.FLOAT16) {
            val b = ByteBuffer.allocateDirect(values.size * 2).order(ByteOrder.nativeOrder())
            for (v in values) b.putShort(Half.fromFloat(v))
            b.rewind()
            OnnxTensor.createTensor(env, b, shape, OnnxJavaType.FLOAT16)
        } else {
            OnnxTensor.createTensor(env, FloatBuffer.wrap(values), shape)
        }

    /** A float32 or float16 output as float32 (getByteBuffer copies in native byte order; its view must be told so). */
    private fun readFloats(t: OnnxTensor): FloatArray {
        val bytes = t.byteBuffer.order(ByteOrder.nativeOrder())
        return when (t.info.type) {
            OnnxJavaType.FLOAT -> FloatArray(bytes.remaining() / 4).also { bytes.asFloatBuffer().get(it) }
            OnnxJavaType.FLOAT16 -> FloatArray(bytes.remaining() / 2) { Half.toFloat(bytes.getShort(it * 2)) }
            else -> throw IllegalStateException("output type ${t.info.type} is not float")
        }
    }

    /** Where the sessions run. */
    sealed interface Provider {
        data object Cpu : Provider
        data class Qnn(val nativeLibraryDir: String, val socModel: Int, val soc: String) : Provider
    }

    companion object {
        private const val META = "sf."
        private val json = Json { ignoreUnknownKeys = true }

        fun open(folder: ExportFolder, graphs: File, provider: Provider): OnnxEngine {
            val env = OrtEnvironment.getEnvironment()
            fun options(decoder: Boolean): OrtSession.SessionOptions {
                val o = when (provider) {
                    is Provider.Cpu -> OrtSession.SessionOptions()
                    is Provider.Qnn -> QnnProvider.sessionOptions(env, provider.nativeLibraryDir, provider.socModel)
                }
                o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR)
                // prefill and decode read the same weight file: without prepacking the CPU provider
                // keeps ONE copy of the weights for both sessions (measured on the host: a 64 MiB
                // weight cost 135 MiB RSS prepacked in two sessions, 7 MiB without)
                if (decoder && provider is Provider.Cpu) o.addConfigEntry("session.disable_prepacking", "1")
                return o
            }
            val sessions = ArrayList<OrtSession>()
            try {
                fun session(graph: String, decoder: Boolean) =
                    env.createSession(File(graphs, graph).absolutePath, options(decoder)).also { sessions.add(it) }
                val vision = session("vision.onnx", decoder = false)
                val prefill = session("prefill.onnx", decoder = true)
                val decode = session("decode.onnx", decoder = true)
                val visionMeta = metadata(vision)
                val lmMeta = metadata(prefill)
                val inputs = prefill.inputInfo
                val embedsInfo = inputs.getValue("inputs_embeds").info as TensorInfo
                val cacheInfo = inputs.getValue("past_keys").info as TensorInfo
                val floatType = embedsInfo.type
                if (floatType != OnnxJavaType.FLOAT && floatType != OnnxJavaType.FLOAT16) {
                    throw ExportError("prefill.onnx takes ${embedsInfo.type} embeddings; float32 or float16 expected")
                }
                val dims = cacheInfo.shape // [L, 1, KVH, ctx, hd]
                val tableMeta = lmMeta.getValue("embedding_table") as JsonObject
                val tableShape = tableMeta.getValue("shape").jsonArray.map { it.jsonPrimitive.int }
                // the table lives at the export's top, beside the manifest, whichever folder the graphs are in
                val table = TokenEmbeddings(folder.file(tableMeta.getValue("path").jsonPrimitive.content), tableShape[0], tableShape[1], tableMeta.getValue("dtype").jsonPrimitive.content)
                val name = when (provider) {
                    is Provider.Cpu -> "onnxruntime-cpu"
                    is Provider.Qnn -> "onnxruntime-qnn-htp"
                }
                return OnnxEngine(
                    name = name,
                    env = env,
                    vision = vision,
                    prefill = prefill,
                    decodeSession = decode,
                    table = table,
                    chunk = lmMeta.getValue("prefill_chunk").jsonPrimitive.int,
                    maxContext = lmMeta.getValue("max_context").jsonPrimitive.int,
                    maskValue = lmMeta.getValue("mask_value").jsonPrimitive.float,
                    floatType = floatType,
                    cache = KvCache(dims[0].toInt(), dims[2].toInt(), dims[3].toInt(), dims[4].toInt(), if (floatType == OnnxJavaType.FLOAT16) 2 else 4)
                        .also { it.reset() },
                    frames = visionMeta.getValue("frames").jsonPrimitive.int,
                    frameSide = visionMeta.getValue("frame_size").jsonPrimitive.int,
                    hidden = embedsInfo.shape[2].toInt(),
                )
            } catch (e: Throwable) {
                for (s in sessions) s.close()
                if (e is ExportError) throw e
                throw ExportError("cannot load the ONNX graphs in ${graphs.path}: ${e.message?.lineSequence()?.firstOrNull() ?: e.javaClass.simpleName}", e)
            }
        }

        /** The `sf.*` properties of a graph, prefix dropped, JSON values decoded (onnx.py read_graph_metadata). */
        private fun metadata(session: OrtSession): Map<String, JsonElement> =
            session.metadata.customMetadata
                .filterKeys { it.startsWith(META) }
                .map { (k, v) -> k.removePrefix(META) to json.parseToJsonElement(v) }
                .toMap()
    }
}
