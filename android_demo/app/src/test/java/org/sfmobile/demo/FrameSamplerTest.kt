package org.sfmobile.demo

import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.double
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.video.FrameSampler
import org.sfmobile.demo.video.Timeline

/** frame_sampling.json: sample_times + pick_frames, the app against Python, case by case. */
class FrameSamplerTest {
    @Test
    fun everyCaseGivesPythonsTargetsAndIndices() {
        val cases = Vectors.json("frame_sampling.json").getValue("cases").jsonArray
        assertTrue("frame_sampling.json holds no cases", cases.isNotEmpty())
        for (element in cases) {
            val case = element.jsonObject
            val name = case.getValue("name").jsonPrimitive.content
            val fps = case["fps"]?.takeIf { it !is JsonNull }?.jsonPrimitive?.double ?: 1.0
            val targets = FrameSampler.sampleTimes(
                durationS = case.getValue("duration_s").jsonPrimitive.double,
                strategy = FrameSampler.Strategy.parse(case.getValue("strategy").jsonPrimitive.content),
                maxFrames = case.getValue("max_frames").jsonPrimitive.int,
                fps = fps,
            )
            val expectedTargets = case.getValue("target_times_s").jsonArray.map { it.jsonPrimitive.double }
            // the same IEEE double operations in the same order: bit-identical, not merely close
            assertEquals("$name: target times", expectedTargets, targets)
            val frameTimes = case.getValue("frame_times_s").jsonArray.map { it.jsonPrimitive.double }
            val expectedIndices = case.getValue("indices").jsonArray.map { it.jsonPrimitive.int }
            assertEquals("$name: frame indices", expectedIndices, FrameSampler.pickFrames(frameTimes, targets))
        }
    }

    @Test
    fun exportTargetsAreUniformOverTheFrameBudget() {
        assertEquals(FrameSampler.uniform(10.0, 8), FrameSampler.exportTargets(10.0, 8))
        assertEquals(listOf(0.625, 1.875), FrameSampler.exportTargets(2.5, 2))
    }

    @Test
    fun bisectRightMatchesPython() {
        val xs = listOf(0.0, 1.0, 1.0, 2.0)
        assertEquals(0, FrameSampler.bisectRight(xs, -0.5))
        assertEquals(3, FrameSampler.bisectRight(xs, 1.0))
        assertEquals(4, FrameSampler.bisectRight(xs, 2.0))
    }

    @Test
    fun timelineFromSampleTimesIsRelativeSortedAndVfrSafe() {
        // decode order with B-frames, a 1000 us start offset, constant 40 ms frames
        val decodeOrder = listOf(1000L, 121_000L, 41_000L, 81_000L, 161_000L)
        val t = Timeline.fromSampleTimes(decodeOrder, trackDurationUs = 200_000L, frameRate = 25.0)
        assertEquals(listOf(1000L, 41_000L, 81_000L, 121_000L, 161_000L), t.presentationUs)
        assertEquals(listOf(0.0, 0.04, 0.08, 0.12, 0.16), t.timesS)
        assertEquals(0.2, t.durationS, 1e-12)
        // no usable track duration: decode.py's fallback, the mean frame interval
        val fallback = Timeline.fromSampleTimes(listOf(0L, 40_000L, 100_000L), trackDurationUs = null, frameRate = null)
        assertEquals(0.1 + 0.05, fallback.durationS, 1e-12)
        // one frame: 1 / rate
        assertEquals(0.04, Timeline.fromSampleTimes(listOf(0L), null, 25.0).durationS, 1e-12)
    }
}
