package org.sfmobile.demo.engine

/**
 * IEEE 754 binary16 <-> float32, for fp16 ONNX exports (graph I/O, KV cache and the
 * token_embeddings.f16 table are fp16 there). Round to nearest even, subnormals and infinities
 * kept; android.util.Half would do the same but is not available in JVM unit tests.
 */
object Half {
    fun toFloat(bits: Short): Float {
        val h = bits.toInt() and 0xFFFF
        val sign = (h and 0x8000) shl 16
        val exp = (h ushr 10) and 0x1F
        val mant = h and 0x3FF
        val f = when {
            exp == 0 && mant == 0 -> sign
            exp == 0 -> { // subnormal: normalise
                var e = -1
                var m = mant
                while (m and 0x400 == 0) {
                    m = m shl 1
                    e++
                }
                sign or ((127 - 15 - e) shl 23) or ((m and 0x3FF) shl 13)
            }
            exp == 0x1F -> sign or 0x7F800000 or (mant shl 13)
            else -> sign or ((exp - 15 + 127) shl 23) or (mant shl 13)
        }
        return java.lang.Float.intBitsToFloat(f)
    }

    fun fromFloat(value: Float): Short {
        val f = java.lang.Float.floatToRawIntBits(value)
        val sign = (f ushr 16) and 0x8000
        val exp = (f ushr 23) and 0xFF
        var mant = f and 0x7FFFFF
        if (exp == 0xFF) return (sign or 0x7C00 or (if (mant != 0) 0x200 else 0)).toShort() // inf / nan
        val e = exp - 127 + 15
        if (e >= 0x1F) return (sign or 0x7C00).toShort() // overflow -> inf
        if (e <= 0) {
            if (e < -10) return sign.toShort() // underflows to signed zero
            mant = mant or 0x800000
            val shift = 14 - e
            var half = mant ushr shift
            val rest = mant and ((1 shl shift) - 1)
            val halfway = 1 shl (shift - 1)
            if (rest > halfway || (rest == halfway && (half and 1) == 1)) half++
            return (sign or half).toShort()
        }
        var half = (e shl 10) or (mant ushr 13)
        val rest = mant and 0x1FFF
        if (rest > 0x1000 || (rest == 0x1000 && (half and 1) == 1)) half++ // may carry into the exponent: correct
        return (sign or half).toShort()
    }
}
