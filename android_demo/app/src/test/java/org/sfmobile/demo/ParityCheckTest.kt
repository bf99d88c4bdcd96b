package org.sfmobile.demo

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.bench.ParityCheck
import org.sfmobile.demo.bench.ParityTimings
import org.sfmobile.demo.bench.PyNumbers
import org.sfmobile.demo.bench.Tolerance

/** Protocol.py 4b measures and gates, against values worked out by hand from metrics.py / compare.py. */
class ParityCheckTest {
    private val fp32Logits = Tolerance(maxRelL2 = 1e-4, minCosine = 0.99999, minTop1 = 1.0, minGreedyPrefix = null, reason = "fp32")

    @Test
    fun measures() {
        val e = floatArrayOf(3f, 4f)
        val a = floatArrayOf(3f, 4.5f)
        assertEquals(0.1, ParityCheck.relativeL2(a, e), 1e-12)
        assertEquals((9 + 18) / (5.0 * Math.sqrt(9 + 20.25)), ParityCheck.cosine(a, e), 1e-12)
        assertEquals(0.5, ParityCheck.maxAbs(a, e), 0.0)
        assertEquals(0.0, ParityCheck.relativeL2(floatArrayOf(0f), floatArrayOf(0f)), 0.0)
        assertEquals(Double.POSITIVE_INFINITY, ParityCheck.relativeL2(floatArrayOf(1f), floatArrayOf(0f)), 0.0)
        assertEquals(1.0, ParityCheck.cosine(floatArrayOf(0f), floatArrayOf(0f)), 0.0)
        assertEquals(0.0, ParityCheck.cosine(floatArrayOf(1f), floatArrayOf(0f)), 0.0)
    }

    @Test
    fun top1AndNearTies() {
        // row 0: argmax 1 vs 1; row 1: actual picks 0, reference prefers 2 by 0.1 with RMS error 0.2
        val e = floatArrayOf(0f, 5f, 1f, /**/ 1.0f, 0f, 1.1f)
        val a = floatArrayOf(0f, 5f, 1f, /**/ 1.3f, 0f, 0.8f)
        assertEquals(1 to 2, ParityCheck.top1(a, e, 3))
        assertEquals(2 to 2, ParityCheck.top1WithinNoise(a, e, 3))
        assertEquals(1 to 2, ParityCheck.top1WithinNoise(a, e, 3, noiseRms = 0.1))
    }

    @Test
    fun greedyPrefixStopsAtTheFirstMiss() {
        assertEquals(2 to 4, ParityCheck.greedyAgreement(listOf(1, 2, 9, 4), listOf(1, 2, 3, 4)))
        assertEquals(0 to 0, ParityCheck.greedyAgreement(emptyList(), emptyList()))
    }

    @Test
    fun failureLinesAreWordedAsOnTheHost() {
        val e = FloatArray(4) { it + 1f }
        val a = e.copyOf().also { it[3] += 0.2f }
        val c = ParityCheck.tensorComponent("prefill_logits", a, listOf(4), e, listOf(4), fp32Logits, gated = true, rows = true)
        assertFalse(c.passed)
        assertEquals(listOf("rel L2 3.7e-02 > 1.0e-04", "cos 0.999705 < 0.99999"), c.failures)
        assertEquals(0.0365, c.relL2!!, 0.0)
        assertEquals(listOf(1, 1), c.top1)
    }

    @Test
    fun shapeMismatchIsTheOnlyFailureAndMeasuresAreNull() {
        val c = ParityCheck.tensorComponent("vision", FloatArray(2), listOf(1, 2), FloatArray(2), listOf(2, 1), fp32Logits, gated = true, rows = false)
        assertEquals(listOf("shape [1, 2] != reference [2, 1]"), c.failures)
        assertNull(c.relL2)
        assertNull(c.cosine)
    }

    @Test
    fun top1GateCountsNearTiesAndRoundsTheLimitUp() {
        val limits = Tolerance(maxRelL2 = null, minCosine = null, minTop1 = 0.875, minGreedyPrefix = null)
        // 8 rows of V = 10, the reference's best is token 1; a flipped row puts 1.5 on token 0: its RMS
        // error (0.47) is too small to call the 1.0 gap a near tie. 7/8 >= ceil(0.875 * 8) = 7 passes.
        val e = FloatArray(80) { if (it % 10 == 1) 1f else 0f }
        val a = e.copyOf().also { it[70] = 1.5f }
        assertTrue(ParityCheck.tensorComponent("decode_logits", a, listOf(8, 10), e, listOf(8, 10), limits, true, rows = true).passed)
        val worse = a.copyOf().also { it[60] = 1.5f }
        val c = ParityCheck.tensorComponent("decode_logits", worse, listOf(8, 10), e, listOf(8, 10), limits, true, rows = true)
        assertEquals(listOf("top-1 6/8 (up to near ties) < 88%"), c.failures)
    }

    @Test
    fun greedyGateAndGating() {
        val limits = Tolerance(minGreedyPrefix = 0.5)
        assertTrue(ParityCheck.greedyComponent(listOf(1, 2, 0, 0), listOf(1, 2, 3, 4), limits, true).passed)
        assertEquals(listOf("greedy prefix 1/4 < 2"), ParityCheck.greedyComponent(listOf(1, 0), listOf(1, 2, 3, 4), limits, true).failures)
        assertTrue(ParityCheck.isGated("fp32", "float"))
        assertTrue(ParityCheck.isGated("8da4w", "same-quantization"))
        assertFalse("weight-quantized vs float is reported, not gated", ParityCheck.isGated("a16w8", "float"))
    }

    @Test
    fun reportPassesWhenOnlyUngatedComponentsFail() {
        val failing = ParityCheck.greedyComponent(listOf(0), listOf(1), Tolerance(minGreedyPrefix = 1.0), gated = false)
        val timings = ParityTimings(1.0, 0.1, 2.0, 10, 5000.0, 3.0, 2, 666.67, 3.1)
        val report = ParityCheck.report("android-adb", "a16w8", "float", listOf(failing), timings)
        assertTrue(report.passed)
        assertEquals(emptyList<String>(), report.failed)
        assertEquals(listOf("greedy"), report.components.keys.toList())
    }

    @Test
    fun numbersAreRoundedAndFormattedAsPython() {
        assertEquals(0.0123, PyNumbers.sig3(0.012345)!!, 0.0)
        assertNull(PyNumbers.sig3(Double.POSITIVE_INFINITY))
        assertEquals("1.4e-02", PyNumbers.e(0.0135000001))
        assertEquals("1.3e-02", PyNumbers.e(0.0135)) // 0.0135 is stored just below the tie
        assertEquals("1.0e-04", PyNumbers.e(1e-4))
        assertEquals("inf", PyNumbers.e(Double.POSITIVE_INFINITY))
        assertEquals("0.999635", PyNumbers.f(0.99963512, 6))
        assertEquals("88%", PyNumbers.percent0(0.875))
        assertEquals("94%", PyNumbers.percent0(0.9375))
        assertEquals("0.99999", PyNumbers.repr(0.99999))
        assertEquals("1.0", PyNumbers.repr(1.0))
        assertEquals(0.12345679, PyNumbers.round(0.123456789, 8)!!, 0.0)
    }
}
