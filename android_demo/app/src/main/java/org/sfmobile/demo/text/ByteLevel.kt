package org.sfmobile.demo.text

import java.io.ByteArrayOutputStream

/**
 * GPT-2's reversible byte <-> printable-character map, which byte-level BPE vocabularies (GPT-2,
 * Qwen2, the stand-in tokenizer sf-mobile trains) are written in: bytes that are printable Latin-1
 * map to themselves, the other 68 to U+0100 and up (HF tokenizers' `bytes_char`).
 */
object ByteLevel {
    private val byteToChar = CharArray(256)
    private val charToByte = HashMap<Char, Int>(512)

    init {
        // '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF: the bytes that print as themselves
        val printable = ((0x21..0x7E) + (0xA1..0xAC) + (0xAE..0xFF)).toSet()
        var next = 0
        for (b in 0 until 256) {
            val c = if (b in printable) b.toChar() else (256 + next++).toChar()
            byteToChar[b] = c
            charToByte[c] = b
        }
    }

    /** The UTF-8 bytes of `text`, each written as its mapped character. */
    fun encode(text: String): String {
        val bytes = text.toByteArray(Charsets.UTF_8)
        val out = StringBuilder(bytes.size)
        for (b in bytes) out.append(byteToChar[b.toInt() and 0xFF])
        return out.toString()
    }

    /**
     * Appends the bytes a token stands for: the mapped bytes when every character of it is in the
     * map, else the token's own UTF-8 (added tokens such as "<|im_end|>" are kept as written). This
     * is HF tokenizers' ByteLevel decoder rule.
     */
    fun appendTokenBytes(token: String, out: ByteArrayOutputStream) {
        val mapped = ByteArray(token.length)
        for ((i, c) in token.withIndex()) {
            val b = charToByte[c]
            if (b == null) {
                val raw = token.toByteArray(Charsets.UTF_8)
                out.write(raw, 0, raw.size)
                return
            }
            mapped[i] = b.toByte()
        }
        out.write(mapped, 0, mapped.size)
    }
}
