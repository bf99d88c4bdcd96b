package org.sfmobile.demo.bench

import kotlin.math.ceil
import kotlin.math.sqrt

/**
 * The parity measures and gates of protocol.py section 4b, ported from sf_mobile/parity/metrics.py
 * and compare.py so that a phone's PARITY_REPORT means what the host's means. All arithmetic in
 * float64 (the Python side casts to float64 before measuring).
 */
object ParityCheck {
    const val VISION = "vision"
    const val PREFILL_LOGITS = "prefill_logits"
    const val DECODE_LOGITS = "decode_logits"
    const val GREEDY = "greedy"
    val COMPONENTS = listOf(VISION, PREFILL_LOGITS, DECODE_LOGITS, GREEDY)

    /** Precisions whose weights are float (fp32 graphs, fp16 Core ML compute); every other one quantizes them. */
    private val FLOAT_WEIGHT_PRECISIONS = setOf("fp32", "fp16")

    /** False only for a weight-quantized precision compared against the float reference (reported, not gated). */
    fun isGated(precision: String, against: String): Boolean = !(precision !in FLOAT_WEIGHT_PRECISIONS && against == "float")

    // --- measures (metrics.py) ----------------------------------------------------------------

    /** ||a - e|| / ||e||; 0 when both are zero, inf when only e is. */
    fun relativeL2(a: FloatArray, e: FloatArray): Double {
        var err = 0.0
        var scale = 0.0
        for (i in a.indices) {
            val d = a[i].toDouble() - e[i].toDouble()
            err += d * d
            scale += e[i].toDouble() * e[i].toDouble()
        }
        val error = sqrt(err)
        val norm = sqrt(scale)
        if (norm == 0.0) return if (error == 0.0) 0.0 else Double.POSITIVE_INFINITY
        return error / norm
    }

    /** Cosine of the flattened tensors; 1 when both are zero, 0 when only one is. */
    fun cosine(a: FloatArray, e: FloatArray): Double {
        var dot = 0.0
        var na = 0.0
        var ne = 0.0
        for (i in a.indices) {
            dot += a[i].toDouble() * e[i].toDouble()
            na += a[i].toDouble() * a[i].toDouble()
            ne += e[i].toDouble() * e[i].toDouble()
        }
        val norms = sqrt(na) * sqrt(ne)
        if (norms == 0.0) return if (a.contentEquals(e)) 1.0 else 0.0
        return dot / norms
    }

    fun maxAbs(a: FloatArray, e: FloatArray): Double {
        var m = 0.0
        for (i in a.indices) {
            val d = kotlin.math.abs(a[i].toDouble() - e[i].toDouble())
            if (d > m || d.isNaN()) m = d
        }
        return m
    }

    /** (rows whose argmax agrees, rows) for logits [rows, V]. */
    fun top1(a: FloatArray, e: FloatArray, vocab: Int): Pair<Int, Int> {
        val rows = a.size / vocab
        var matches = 0
        for (r in 0 until rows) if (argmax(a, r * vocab, vocab) == argmax(e, r * vocab, vocab)) matches++
        return matches to rows
    }

    /**
     * (rows whose pick is the reference's best up to the row's own noise, rows): a row agrees when
     * the reference logit of the actual argmax is >= the reference max minus `noiseRms` x the RMS
     * logit error of that row. A flip between two tokens closer than the numeric error is a near
     * tie, not a wrong graph.
     */
    fun top1WithinNoise(a: FloatArray, e: FloatArray, vocab: Int, noiseRms: Double = 2.0): Pair<Int, Int> {
        val rows = a.size / vocab
        var agree = 0
        for (r in 0 until rows) {
            val base = r * vocab
            var sq = 0.0
            var refMax = Double.NEGATIVE_INFINITY
            for (v in 0 until vocab) {
                val d = a[base + v].toDouble() - e[base + v].toDouble()
                sq += d * d
                if (e[base + v] > refMax) refMax = e[base + v].toDouble()
            }
            val margin = noiseRms * sqrt(sq / vocab)
            val picked = e[base + argmax(a, base, vocab)].toDouble()
            if (picked >= refMax - margin) agree++
        }
        return agree to rows
    }

    /** (length of the common prefix, expected.size): tokens after the first miss follow another path. */
    fun greedyAgreement(actual: List<Int>, expected: List<Int>): Pair<Int, Int> {
        var prefix = 0
        for ((got, want) in actual.zip(expected)) {
            if (got != want) break
            prefix++
        }
        return prefix to expected.size
    }

    /** torch.argmax over one row: the first index of the maximum (NaN compares false, as in torch on no-NaN input). */
    private fun argmax(x: FloatArray, base: Int, n: Int): Int {
        var best = 0
        for (i in 1 until n) if (x[base + i] > x[base + best]) best = i
        return best
    }

    // --- gates (compare.py) -------------------------------------------------------------------

    /**
     * A tensor component. `rows`: compare as logits [N, V] (top-1 measures and the top-1 gate).
     * A shape mismatch is the one failure and every measure is null.
     */
    fun tensorComponent(
        component: String,
        actual: FloatArray,
        actualShape: List<Int>,
        expected: FloatArray,
        expectedShape: List<Int>,
        limits: Tolerance,
        gated: Boolean,
        rows: Boolean,
    ): ComponentReport {
        if (actualShape != expectedShape) {
            return ComponentReport(component, passed = false, gated = gated, failures = listOf("shape $actualShape != reference $expectedShape"), tolerance = limits)
        }
        val rel = relativeL2(actual, expected)
        val cos = cosine(actual, expected)
        val diff = maxAbs(actual, expected)
        val failures = ArrayList<String>()
        // `!(x <= limit)` so that a NaN fails, as compare.py's `not rel <= limit`
        limits.maxRelL2?.let { if (!(rel <= it)) failures.add("rel L2 ${PyNumbers.e(rel)} > ${PyNumbers.e(it)}") }
        limits.minCosine?.let { if (!(cos >= it)) failures.add("cos ${PyNumbers.f(cos, 6)} < ${PyNumbers.repr(it)}") }
        var top1: Pair<Int, Int>? = null
        var near: Pair<Int, Int>? = null
        if (rows) {
            val vocab = expectedShape.last()
            top1 = top1(actual, expected, vocab)
            val n = top1WithinNoise(actual, expected, vocab)
            near = n
            val minTop1 = limits.minTop1
            if (minTop1 != null && n.second > 0 && n.first < ceil(minTop1 * n.second - 1e-9).toInt()) {
                failures.add("top-1 ${n.first}/${n.second} (up to near ties) < ${PyNumbers.percent0(minTop1)}")
            }
        }
        return ComponentReport(
            component = component,
            passed = failures.isEmpty(),
            gated = gated,
            relL2 = PyNumbers.sig3(rel),
            cosine = PyNumbers.round(cos, 8),
            maxAbs = PyNumbers.sig3(diff),
            top1 = top1?.toList(),
            top1WithinNoise = near?.toList(),
            failures = failures,
            tolerance = limits,
        )
    }

    fun greedyComponent(actual: List<Int>, expected: List<Int>, limits: Tolerance, gated: Boolean): ComponentReport {
        val prefix = greedyAgreement(actual, expected)
        val needed = ceil((limits.minGreedyPrefix ?: 0.0) * prefix.second - 1e-9).toInt()
        val failures = if (prefix.first < needed) listOf("greedy prefix ${prefix.first}/${prefix.second} < $needed") else emptyList()
        return ComponentReport(
            component = GREEDY,
            passed = failures.isEmpty(),
            gated = gated,
            greedyPrefix = prefix.toList(),
            failures = failures,
            tolerance = limits,
        )
    }

    /** The PARITY_REPORT: passed = every gated component within its limits. */
    fun report(backend: String, precision: String, against: String, components: List<ComponentReport>, timings: ParityTimings): ParityReport {
        val failed = components.filter { it.gated && !it.passed }.map { it.component }
        return ParityReport(
            backend = backend,
            precision = precision,
            against = against,
            passed = failed.isEmpty(),
            failed = failed,
            components = LinkedHashMap<String, ComponentReport>().apply { for (c in components) put(c.component, c) },
            timings = timings,
        )
    }
}
