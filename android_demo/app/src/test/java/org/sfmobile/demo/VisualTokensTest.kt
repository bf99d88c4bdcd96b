package org.sfmobile.demo

import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.video.VisualTokenBudget

/** visual_tokens.json: the app's count (from a manifest's config) against ModelConfig.visual_tokens. */
class VisualTokensTest {
    /**
     * The geometry the count depends on, per preset (sf_mobile/presets.py): patch grid, num_slow,
     * slow_pool, fast_grid. On a phone these come from sf_manifest.json config; the vectors hold
     * only the counts, so the presets' values are restated here.
     */
    private class Geometry(val grid: Int, val numSlow: Int, val slowPool: List<Int>, val fastGrid: List<Int>)

    private val presets = mapOf(
        "tiny" to Geometry(64 / 8, 4, listOf(2, 2), listOf(2, 2)),
        "tiny-v1" to Geometry(56 / 7, 10, listOf(1, 2), listOf(4, 4)),
        "1b" to Geometry(384 / 16, 32, listOf(2, 2), listOf(6, 6)),
        "3b" to Geometry(384 / 16, 32, listOf(2, 2), listOf(6, 6)),
        "7b" to Geometry(384 / 16, 32, listOf(2, 2), listOf(6, 6)),
        "v1-7b" to Geometry(336 / 14, 10, listOf(1, 2), listOf(4, 4)),
    )

    @Test
    fun countsMatchPythonForEveryPresetAndFrameCount() {
        val vectors = Vectors.json("visual_tokens.json").getValue("presets").jsonObject
        assertTrue("the mobile presets are covered", "tiny" in vectors && "1b" in vectors)
        for ((name, entries) in vectors) {
            val g = presets[name] ?: throw AssertionError("preset '$name' is new: add its geometry to this test")
            for (element in entries.jsonArray) {
                val e = element.jsonObject
                val frames = e.getValue("frames").jsonPrimitive.int
                val budget = VisualTokenBudget.of(g.grid, g.numSlow, g.slowPool, g.fastGrid, frames)
                assertEquals("$name @ $frames frames: slow_frames", e.getValue("slow_frames").jsonPrimitive.int, budget.slowFrames)
                assertEquals("$name @ $frames frames: slow_tokens", e.getValue("slow_tokens").jsonPrimitive.int, budget.slowTokens)
                assertEquals("$name @ $frames frames: fast_tokens", e.getValue("fast_tokens").jsonPrimitive.int, budget.fastTokens)
                assertEquals("$name @ $frames frames: total", e.getValue("total").jsonPrimitive.int, budget.total)
            }
        }
    }
}
