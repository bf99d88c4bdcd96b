package org.sfmobile.demo.bench

import java.math.BigDecimal
import java.math.MathContext
import java.math.RoundingMode

/**
 * Number formatting and rounding exactly as the Python side writes them (the failure lines and
 * rounded values of sf_mobile/parity/compare.py): Python rounds the exact binary value half to
 * even, Java's Formatter rounds its shortest decimal half up, so both go through BigDecimal here.
 */
object PyNumbers {
    /** float(f"{x:.3g}"): 3 significant digits; null for inf/nan (JSON cannot hold them). */
    fun sig3(x: Double?): Double? =
        if (x == null || !x.isFinite()) null else if (x == 0.0) 0.0 else BigDecimal(x).round(MathContext(3, RoundingMode.HALF_EVEN)).toDouble()

    /** round(x, n); null for inf/nan. */
    fun round(x: Double?, digits: Int): Double? =
        if (x == null || !x.isFinite()) null else BigDecimal(x).setScale(digits, RoundingMode.HALF_EVEN).toDouble()

    /** f"{x:.Ne}" e.g. "3.2e-02", "inf", "nan". */
    fun e(x: Double, digits: Int = 1): String {
        special(x)?.let { return it }
        if (x == 0.0) return (if (1.0 / x < 0) "-" else "") + "0." + "0".repeat(digits) + "e+00"
        val rounded = BigDecimal(x).round(MathContext(digits + 1, RoundingMode.HALF_EVEN))
        val unscaled = rounded.unscaledValue().abs().toString()
        val exponent = unscaled.length - 1 - rounded.scale()
        val mantissa = unscaled.padEnd(digits + 1, '0').take(digits + 1)
        val sign = if (rounded.signum() < 0) "-" else ""
        val expSign = if (exponent < 0) "-" else "+"
        return sign + mantissa[0] + (if (digits > 0) "." + mantissa.substring(1) else "") + "e" + expSign + String.format("%02d", kotlin.math.abs(exponent))
    }

    /** f"{x:.Nf}". */
    fun f(x: Double, digits: Int): String = special(x) ?: BigDecimal(x).setScale(digits, RoundingMode.HALF_EVEN).toPlainString()

    /** f"{x:.0%}": x * 100 (a double product, as Python computes it) with no decimals, then "%". */
    fun percent0(x: Double): String = special(x * 100.0)?.let { "$it%" }
        ?: (BigDecimal(x * 100.0).setScale(0, RoundingMode.HALF_EVEN).toPlainString() + "%")

    /** str(x) for the limit values written into failure lines (0.99999, 0.9999, 1.0). */
    fun repr(x: Double): String {
        special(x)?.let { return it }
        val abs = kotlin.math.abs(x)
        if (abs == 0.0 || (abs >= 1e-4 && abs < 1e16)) {
            val plain = BigDecimal(x.toString()).toPlainString()
            return if (plain.contains('.')) plain else "$plain.0"
        }
        return x.toString() // scientific: rare for limits, kept in Java's spelling
    }

    private fun special(x: Double): String? = when {
        x.isNaN() -> "nan"
        x == Double.POSITIVE_INFINITY -> "inf"
        x == Double.NEGATIVE_INFINITY -> "-inf"
        else -> null
    }
}
