package org.sfmobile.demo.bench

import java.io.File

/**
 * The intent extras of BenchmarkActivity (protocol.py section 3):
 *   am start -W -S -n org.sfmobile.demo/.BenchmarkActivity
 *     --es folder EXPORT --es result_dir RESULT --ei repeats N --ei warmup W --es run_id RUN-ID
 * Parsed from a plain lookup so that the rules are tested without Android.
 */
data class BenchmarkArguments(
    val folder: File,
    val resultDir: File,
    val repeats: Int,
    val warmup: Int,
    val runId: String,
) {
    /** Why the extras cannot start a run; `resultDir` is set when there is still a place to say so. */
    class Invalid(val reason: String, val resultDir: File?) : Exception(reason)

    companion object {
        const val EXTRA_FOLDER = "folder"
        const val EXTRA_RESULT_DIR = "result_dir"
        const val EXTRA_REPEATS = "repeats"
        const val EXTRA_WARMUP = "warmup"
        const val EXTRA_RUN_ID = "run_id"
        private val RUN_ID = Regex("[A-Za-z0-9._-]+")

        /**
         * `extra(name)` returns the extra's value (Int for --ei, String for --es) or null when absent.
         * Numbers given as strings (--es repeats 3) are accepted too. Throws Invalid.
         */
        fun parse(extra: (String) -> Any?): BenchmarkArguments {
            val resultPath = (extra(EXTRA_RESULT_DIR) as? String)?.trim()?.takeIf { it.isNotEmpty() }
            val resultDir = resultPath?.let { File(it) }
            fun fail(reason: String): Nothing = throw Invalid(reason, resultDir)

            if (resultDir == null) fail("extra '$EXTRA_RESULT_DIR' is missing: nowhere to write the result")
            val folder = (extra(EXTRA_FOLDER) as? String)?.trim()?.takeIf { it.isNotEmpty() }
                ?: fail("extra '$EXTRA_FOLDER' (the export folder) is missing")
            val repeats = number(extra(EXTRA_REPEATS)) ?: fail("extra '$EXTRA_REPEATS' is missing or not a number")
            val warmup = number(extra(EXTRA_WARMUP)) ?: fail("extra '$EXTRA_WARMUP' is missing or not a number")
            val runId = (extra(EXTRA_RUN_ID) as? String)?.trim() ?: fail("extra '$EXTRA_RUN_ID' is missing")
            if (repeats < 1 || warmup < 0) fail("repeats $repeats and warmup $warmup are out of range (repeats >= 1, warmup >= 0)")
            if (!RUN_ID.matches(runId) || runId == "." || runId == "..") fail("run id '$runId' is not made of letters, digits, '.', '_' and '-'")
            return BenchmarkArguments(File(folder), resultDir, repeats, warmup, runId)
        }

        private fun number(value: Any?): Int? = when (value) {
            is Int -> value
            is Long -> value.toInt()
            is String -> value.trim().toIntOrNull()
            else -> null
        }
    }
}
