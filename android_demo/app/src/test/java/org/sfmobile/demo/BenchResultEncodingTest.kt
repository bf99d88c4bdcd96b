package org.sfmobile.demo

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.jsonObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.sfmobile.demo.bench.BackendEntry
import org.sfmobile.demo.bench.Memory

/**
 * bench_result_android.json (a sample of what sf-bench's adb backend parses) through the app's own
 * result types: decoded, re-encoded, and the two JSON trees must be equal. A field the app drops,
 * renames or omits fails here before it fails on the host.
 */
class BenchResultEncodingTest {
    private val sampleText = Vectors.text("bench_result_android.json")

    @Test
    fun sampleRoundTripsThroughTheAppsTypes() {
        val entry = BackendEntry.decode(sampleText)
        assertEquals(BackendEntry.ANDROID_NAME, entry.name)
        assertEquals("device", entry.kind)
        val original = Json.parseToJsonElement(sampleText)
        val reencoded = Json.parseToJsonElement(BackendEntry.encode(entry))
        assertSameTree("$", original, reencoded)
    }

    @Test
    fun everyBackendKeyIsWrittenAndNullsAreExplicit() {
        val failed = BackendEntry(name = BackendEntry.ANDROID_NAME, status = BackendEntry.STATUS_FAILED, reason = "no sf_manifest.json", memory = Memory(null, "VmHWM from /proc/self/status"))
        val tree = Json.parseToJsonElement(BackendEntry.encode(failed)).jsonObject
        // sf_mobile/reports/schema.py BACKEND_KEYS: the host's validator requires every one
        val required = listOf("name", "kind", "status", "reason", "accuracy_only", "device", "parity", "latency", "stats", "memory", "roofline")
        for (key in required) assertTrue("'$key' is written", key in tree)
        for (key in listOf("device", "latency", "stats", "roofline")) assertEquals("'$key' is JSON null", JsonNull, tree[key])
        assertEquals(JsonNull, tree.getValue("memory").jsonObject["peak_rss_mib"])
        assertEquals(JsonPrimitive("device"), tree["kind"])
        assertEquals(JsonPrimitive(false), tree["accuracy_only"])
    }

    @Test
    fun nonFiniteNumbersAreRefusedNotWritten() {
        val bad = BackendEntry(name = BackendEntry.ANDROID_NAME, status = "ok", memory = Memory(Double.NaN, "x"))
        try {
            BackendEntry.encode(bad)
            fail("NaN was encoded; the schema allows no NaN/Infinity")
        } catch (e: IllegalArgumentException) {
            // kotlinx.serialization refuses NaN with allowSpecialFloatingPointValues = false
        }
    }

    /** JSON trees equal, numbers compared by value (Python writes 1.0 where Kotlin may write 1, and back). */
    private fun assertSameTree(path: String, expected: JsonElement, actual: JsonElement) {
        when (expected) {
            is JsonObject -> {
                val a = actual as? JsonObject ?: throw AssertionError("$path: expected an object, got $actual")
                assertEquals("$path: keys", expected.keys, a.keys)
                for ((k, v) in expected) assertSameTree("$path.$k", v, a.getValue(k))
            }
            is JsonArray -> {
                val a = actual as? JsonArray ?: throw AssertionError("$path: expected an array, got $actual")
                assertEquals("$path: length", expected.size, a.size)
                for (i in expected.indices) assertSameTree("$path[$i]", expected[i], a[i])
            }
            is JsonNull -> assertEquals(path, JsonNull, actual)
            is JsonPrimitive -> {
                val a = actual as? JsonPrimitive ?: throw AssertionError("$path: expected $expected, got $actual")
                when {
                    expected.isString -> assertEquals(path, expected, a)
                    expected.booleanOrNull != null -> assertEquals(path, expected.booleanOrNull, a.booleanOrNull)
                    else -> assertEquals(path, expected.doubleOrNull!!, a.doubleOrNull ?: Double.NaN, 0.0)
                }
            }
        }
    }
}
