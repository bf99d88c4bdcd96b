package org.sfmobile.demo.bench

import java.io.File
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.contentOrNull
import org.sfmobile.demo.export.ExportError
import org.sfmobile.demo.video.FrameBatch

/** parity/parity.json (sf_mobile/parity/bundle.py write_bundle). */
@Serializable
data class ParityJson(
    @SerialName("schema_version") val schemaVersion: Int,
    val question: String = "",
    @SerialName("prefix_ids") val prefixIds: List<Int>,
    @SerialName("suffix_ids") val suffixIds: List<Int>,
    @SerialName("forced_tokens") val forcedTokens: List<Int>,
    @SerialName("greedy_tokens") val greedyTokens: List<Int>,
    val precision: String = "fp32",
    val tolerances: Map<String, Tolerance> = emptyMap(),
    val meta: JsonObject = JsonObject(emptyMap()),
) {
    /** "float" or "same-quantization": meta "against", "float" when absent (protocol.py 4b). */
    val against: String get() = (meta["against"] as? JsonPrimitive)?.contentOrNull ?: "float"
}

/**
 * The parity bundle every export carries: fixed inputs, the reference outputs they produce, and
 * the limits to hold them to. The JSON copy of the ids is read first and must agree with the
 * tensors (bundle.py read_bundle checks the same).
 */
class ParityBundle(
    val json: ParityJson,
    val frames: FrameBatch,
    val visual: FloatArray,
    val visualShape: List<Int>,
    val prefillLastLogits: FloatArray,
    val decodeLogits: FloatArray,
    val decodeLogitsShape: List<Int>,
    val greedyTokens: List<Int>,
) {
    val vocab: Int get() = prefillLastLogits.size

    fun tolerance(component: String): Tolerance =
        json.tolerances[component] ?: throw ExportError("parity.json has no tolerance for '$component'; re-export")

    companion object {
        const val INPUTS = "inputs.safetensors"
        const val REFERENCE = "reference.safetensors"
        const val JSON_FILE = "parity.json"
        private val parser = Json { ignoreUnknownKeys = true; coerceInputValues = true }

        fun read(dir: File): ParityBundle {
            val jsonFile = File(dir, JSON_FILE)
            for (f in listOf(jsonFile, File(dir, INPUTS), File(dir, REFERENCE))) {
                if (!f.isFile) throw ExportError("parity bundle file ${f.path} is missing; re-run sf-export")
            }
            val json = parser.decodeFromString(ParityJson.serializer(), jsonFile.readText(Charsets.UTF_8))
            if (json.schemaVersion != 1) throw ExportError("$JSON_FILE is schema ${json.schemaVersion}, this app reads 1")
            val inputs = SafetensorsReader.open(File(dir, INPUTS))
            val reference = SafetensorsReader.open(File(dir, REFERENCE))
            for ((name, ids) in listOf("prefix_ids" to json.prefixIds, "suffix_ids" to json.suffixIds, "forced_tokens" to json.forcedTokens)) {
                if (inputs.longs(name).map { it.toInt() } != ids) throw ExportError("$JSON_FILE and $INPUTS disagree on $name; re-export")
            }
            // frames_packed [3, T*S, S] is what the protocol feeds the vision graph
            val packedShape = inputs.shape("frames_packed")
            val side = packedShape[2].toInt()
            val count = (packedShape[1] / packedShape[2]).toInt()
            val frames = FrameBatch.fromPacked(inputs.bytes("frames_packed"), count, side)
            return ParityBundle(
                json = json,
                frames = frames,
                visual = reference.floats("visual"),
                visualShape = reference.shape("visual").map { it.toInt() },
                prefillLastLogits = reference.floats("prefill_last_logits"),
                decodeLogits = reference.floats("decode_logits"),
                decodeLogitsShape = reference.shape("decode_logits").map { it.toInt() },
                greedyTokens = reference.longs("greedy_tokens").map { it.toInt() },
            )
        }
    }
}
