package org.sfmobile.demo

import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.sfmobile.demo.bench.BenchmarkArguments

/** The intent extras exactly as protocol.py android_extras() passes them. */
class BenchmarkArgumentsTest {
    private val good = mapOf<String, Any>(
        "folder" to "/data/local/tmp/sf-mobile/20261123-031000-a1b2c3/export",
        "result_dir" to "/sdcard/Android/data/org.sfmobile.demo/files/sf-bench/20261123-031000-a1b2c3",
        "repeats" to 5,
        "warmup" to 1,
        "run_id" to "20261123-031000-a1b2c3",
    )

    @Test
    fun parsesTheHostsExtras() {
        val args = BenchmarkArguments.parse { good[it] }
        assertEquals(File("/data/local/tmp/sf-mobile/20261123-031000-a1b2c3/export"), args.folder)
        assertEquals(File("/sdcard/Android/data/org.sfmobile.demo/files/sf-bench/20261123-031000-a1b2c3"), args.resultDir)
        assertEquals(5, args.repeats)
        assertEquals(1, args.warmup)
        assertEquals("20261123-031000-a1b2c3", args.runId)
    }

    @Test
    fun acceptsNumbersGivenAsStrings() {
        val args = BenchmarkArguments.parse { (good + mapOf("repeats" to "3", "warmup" to "0"))[it] }
        assertEquals(3, args.repeats)
        assertEquals(0, args.warmup)
    }

    @Test
    fun refusesWhatTheHostWouldRefuse() {
        invalid(good + ("repeats" to 0), "out of range")
        invalid(good + ("warmup" to -1), "out of range")
        invalid(good + ("run_id" to "a b"), "run id")
        invalid(good + ("run_id" to ".."), "run id")
        invalid(good - "folder", "folder")
        invalid(good - "repeats", "repeats")
    }

    @Test
    fun withoutAResultDirThereIsNowhereToReport() {
        try {
            BenchmarkArguments.parse { (good - "result_dir")[it] }
            fail("parsed without result_dir")
        } catch (e: BenchmarkArguments.Invalid) {
            assertNull(e.resultDir)
        }
    }

    private fun invalid(extras: Map<String, Any>, words: String) {
        try {
            BenchmarkArguments.parse { extras[it] }
            fail("parsed $extras")
        } catch (e: BenchmarkArguments.Invalid) {
            assertTrue("'${e.reason}' does not mention $words", words in e.reason)
            assertEquals("the failure can still be reported", File(good.getValue("result_dir") as String), e.resultDir)
        }
    }
}
