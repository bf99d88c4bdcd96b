package org.sfmobile.demo.export

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.intOrNull

/**
 * sf_manifest.json as `sf-export` writes it (sf_mobile/manifest.py build_manifest). Only what the
 * app reads is typed; everything else is kept as JSON or ignored, so a newer manifest with more
 * keys still loads (ignoreUnknownKeys).
 */
@Serializable
data class SfManifest(
    @SerialName("schema_version") val schemaVersion: Int,
    val preset: String,
    val config: ModelConfig,
    val target: String,
    val backend: String,
    val quantization: JsonObject = JsonObject(emptyMap()),
    val artifacts: List<Artifact>,
    @SerialName("frame_geometry") val frameGeometry: FrameGeometry,
    @SerialName("visual_tokens") val visualTokens: VisualTokenCounts,
    @SerialName("special_tokens") val specialTokens: Map<String, Int> = emptyMap(),
    @SerialName("bos_id") val bosId: Int? = null,
    @SerialName("eos_ids") val eosIds: List<Int> = emptyList(),
    @SerialName("max_context") val maxContext: Int,
    val weights: JsonObject? = null,
    @SerialName("library_versions") val libraryVersions: Map<String, String?> = emptyMap(),
    val status: String? = null,
) {
    /** The artifact entry for `path` (relative, POSIX), or null. */
    fun artifact(path: String): Artifact? = artifacts.firstOrNull { it.path == path }

    /** A quantization field as text ("a16w8", "fp32"), or null. */
    fun quantizationText(key: String): String? = (quantization[key] as? JsonPrimitive)?.contentOrNull

    companion object {
        /** The newest manifest schema this app was written against (sf_mobile/manifest.py). */
        const val KNOWN_SCHEMA_VERSION = 2

        val json = Json {
            ignoreUnknownKeys = true
            // `sf-export` writes JSON null for absent values; a typed field with a default takes it.
            coerceInputValues = true
        }

        fun parse(text: String): SfManifest = json.decodeFromString(serializer(), text)
    }
}

@Serializable
data class Artifact(
    val path: String,
    val sha256: String? = null,
    val bytes: Long? = null,
    /** .pte: the program's methods. */
    val methods: List<String>? = null,
    /** ONNX: the graph's functions ("main"). */
    val functions: List<String>? = null,
    /** {method or function: {value: {shape, dtype}}}; shapes may hold strings ("1..1279", "S"). */
    val inputs: Map<String, Map<String, TensorSpec>>? = null,
    val outputs: Map<String, Map<String, TensorSpec>>? = null,
    /** QNN context graphs: which QDQ graph they were compiled from, and for which SoC. */
    @SerialName("compiled_from") val compiledFrom: String? = null,
    val soc: String? = null,
    @SerialName("soc_model") val socModel: Int? = null,
    @SerialName("htp_arch") val htpArch: String? = null,
    @SerialName("context_binaries") val contextBinaries: List<String>? = null,
    /** Raw tables (token_embeddings.f32|f16). */
    val dtype: String? = null,
    val shape: List<Long>? = null,
    val layout: String? = null,
)

@Serializable
data class TensorSpec(val shape: List<JsonElement>, val dtype: String) {
    /** Each dimension as a fixed size, or null where it is symbolic. */
    fun fixedDims(): List<Int?> = shape.map { (it as? JsonPrimitive)?.intOrNull }

    /** The upper bound of dimension `index`: a number, or N of a "1..N" range; null otherwise. */
    fun upperBound(index: Int): Int? {
        val dim = shape.getOrNull(index) as? JsonPrimitive ?: return null
        dim.intOrNull?.let { return it }
        val text = dim.contentOrNull ?: return null
        return text.substringAfter("..", "").toIntOrNull()
    }
}

@Serializable
data class FrameGeometry(
    val frames: Int,
    val height: Int,
    val width: Int,
    val channels: Int = 3,
    @SerialName("packed_shape") val packedShape: List<Int> = emptyList(),
    val dtype: String = "uint8",
    val mean: List<Double> = emptyList(),
    val std: List<Double> = emptyList(),
)

@Serializable
data class VisualTokenCounts(val total: Int, val slow: Int, val fast: Int)

/** sf_mobile/config.py ModelConfig.to_dict(), the parts the app needs. */
@Serializable
data class ModelConfig(
    val name: String,
    val vision: VisionConfig,
    val slowfast: SlowFastConfig,
    val sampling: SamplingConfig,
    val llm: LlmConfig,
    val prompt: PromptConfig,
)

@Serializable
data class VisionConfig(
    @SerialName("image_size") val imageSize: Int,
    @SerialName("patch_size") val patchSize: Int,
    /** "squash" or "shortest_edge_crop" (sf_mobile/config.py ResizeMode). */
    val resize: String = "squash",
    @SerialName("image_mean") val imageMean: List<Double> = emptyList(),
    @SerialName("image_std") val imageStd: List<Double> = emptyList(),
) {
    val grid: Int get() = imageSize / patchSize
}

@Serializable
data class SlowFastConfig(
    val generation: String,
    @SerialName("num_slow") val numSlow: Int,
    @SerialName("slow_pool") val slowPool: List<Int>,
    @SerialName("fast_grid") val fastGrid: List<Int>,
    @SerialName("slow_pool_op") val slowPoolOp: String? = null,
    val order: String? = null,
)

@Serializable
data class SamplingConfig(
    /** "uniform" or "fps" (sf_mobile/config.py SamplingStrategy). */
    val strategy: String,
    @SerialName("max_frames") val maxFrames: Int,
    val fps: Double = 1.0,
)

@Serializable
data class LlmConfig(
    val arch: String,
    @SerialName("hidden_size") val hiddenSize: Int,
    @SerialName("num_layers") val numLayers: Int,
    @SerialName("num_heads") val numHeads: Int,
    @SerialName("num_kv_heads") val numKvHeads: Int,
    @SerialName("vocab_size") val vocabSize: Int,
)

@Serializable
data class PromptConfig(
    /** Python str.format template with {system} and {question}, holding `placeholder` once. */
    val template: String,
    val system: String,
    val placeholder: String = "<video>",
    @SerialName("bos_token") val bosToken: String? = null,
    @SerialName("stop_tokens") val stopTokens: List<String> = emptyList(),
    @SerialName("special_tokens") val specialTokens: List<String> = emptyList(),
)
