package org.sfmobile.demo.bench

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject

/**
 * The result file of benchmark mode: ONE backend entry of the sf-bench/1 schema
 * (sf_mobile/reports/schema.py BACKEND, protocol.py section 5). Every key is always written, nulls
 * as JSON null, never omitted: the host's validator requires the keys (`BACKEND_KEYS`).
 */
@Serializable
data class BackendEntry(
    val name: String,
    val kind: String = "device",
    /** "ok" | "parity_failed" (a gated component failed) | "failed" (with a reason). */
    val status: String,
    val reason: String? = null,
    @SerialName("accuracy_only") val accuracyOnly: Boolean = false,
    /** model / os / abi / soc ...; the host overwrites serial, model and os and keeps the rest. */
    val device: JsonObject? = null,
    val parity: List<ParityReport> = emptyList(),
    val latency: Latency? = null,
    val stats: RunnerStats? = null,
    val memory: Memory = Memory(null, "not measured"),
    /** The host fills the roofline. */
    val roofline: JsonObject? = null,
) {
    companion object {
        const val ANDROID_NAME = "android-adb"
        const val STATUS_OK = "ok"
        const val STATUS_PARITY_FAILED = "parity_failed"
        const val STATUS_FAILED = "failed"

        /**
         * encodeDefaults + explicitNulls: every field is written, nulls included. Non-finite doubles
         * are refused at encode time (allowSpecialFloatingPointValues = false): the schema allows
         * no NaN/Infinity, so the code maps them to null before they get here.
         */
        val json = Json {
            encodeDefaults = true
            explicitNulls = true
            prettyPrint = true
            ignoreUnknownKeys = true
            allowSpecialFloatingPointValues = false
        }

        fun encode(entry: BackendEntry): String = json.encodeToString(serializer(), entry)

        fun decode(text: String): BackendEntry = json.decodeFromString(serializer(), text)
    }
}

/** PARITY_REPORT: sf_mobile/parity/compare.py ParityReport.to_dict. */
@Serializable
data class ParityReport(
    val backend: String,
    val precision: String,
    /** "float" or "same-quantization": what the bundle's reference is. */
    val against: String,
    val passed: Boolean,
    /** Gated components that missed their tolerance. */
    val failed: List<String>,
    /** vision, prefill_logits, decode_logits, greedy, in that order. */
    val components: Map<String, ComponentReport>,
    val timings: ParityTimings,
)

/** One component: compare.py ComponentResult.to_dict; measures that do not apply are null. */
@Serializable
data class ComponentReport(
    val component: String,
    val passed: Boolean,
    val gated: Boolean,
    @SerialName("rel_l2") val relL2: Double? = null,
    val cosine: Double? = null,
    @SerialName("max_abs") val maxAbs: Double? = null,
    /** [rows whose argmax equals the reference's, rows]. */
    val top1: List<Int>? = null,
    @SerialName("top1_within_noise") val top1WithinNoise: List<Int>? = null,
    @SerialName("greedy_prefix") val greedyPrefix: List<Int>? = null,
    val failures: List<String> = emptyList(),
    val tolerance: Tolerance,
)

/** Limits of one component (parity.json "tolerances"); a null limit does not apply. */
@Serializable
data class Tolerance(
    @SerialName("max_rel_l2") val maxRelL2: Double? = null,
    @SerialName("min_cosine") val minCosine: Double? = null,
    @SerialName("min_top1") val minTop1: Double? = null,
    @SerialName("min_greedy_prefix") val minGreedyPrefix: Double? = null,
    val reason: String? = null,
)

/** driver.py StageTimings.to_dict of the parity run; rates are null when not measurable. */
@Serializable
data class ParityTimings(
    @SerialName("vision_ms") val visionMs: Double,
    @SerialName("embedding_ms") val embeddingMs: Double,
    @SerialName("prefill_ms") val prefillMs: Double,
    @SerialName("prefill_tokens") val prefillTokens: Int,
    @SerialName("prefill_tok_s") val prefillTokS: Double?,
    @SerialName("decode_ms") val decodeMs: Double,
    @SerialName("decode_tokens") val decodeTokens: Int,
    @SerialName("decode_tok_s") val decodeTokS: Double?,
    @SerialName("time_to_first_token_ms") val timeToFirstTokenMs: Double,
)

@Serializable
data class Latency(
    val repeats: Int,
    val warmup: Int,
    /** Metric names of sf_mobile/reports/schema.py METRICS only. */
    val metrics: Map<String, Metric>,
)

@Serializable
data class Metric(val unit: String, val median: Double, val p90: Double, val samples: List<Double>)

@Serializable
data class Memory(
    @SerialName("peak_rss_mib") val peakRssMib: Double?,
    val method: String,
)

/**
 * ExecuTorch runner `Stats` field names for the median repeat, ms from model_load_start_ms = 0
 * (sf_mobile/bench/latency.py executorch_stats), so tools reading the stock runner's stats read these.
 */
@Serializable
data class RunnerStats(
    @SerialName("SCALING_FACTOR_UNITS_PER_SECOND") val scalingFactorUnitsPerSecond: Int = 1000,
    @SerialName("model_load_start_ms") val modelLoadStartMs: Long = 0,
    @SerialName("model_load_end_ms") val modelLoadEndMs: Long,
    @SerialName("inference_start_ms") val inferenceStartMs: Long,
    @SerialName("prompt_eval_end_ms") val promptEvalEndMs: Long,
    @SerialName("first_token_ms") val firstTokenMs: Long,
    @SerialName("inference_end_ms") val inferenceEndMs: Long,
    @SerialName("num_prompt_tokens") val numPromptTokens: Int,
    @SerialName("num_generated_tokens") val numGeneratedTokens: Int,
)
