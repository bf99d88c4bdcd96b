package org.sfmobile.demo.video

/**
 * Which moments of a video to look at and which decoded frame shows each: a line-for-line port of
 * sf_mobile/video/sampling.py, so that the app picks the same frame indices as Python for the same
 * frame times (tests/vectors/frame_sampling.json holds both sides to it). Times are seconds from
 * the first frame; the arithmetic is the same IEEE double operations in the same order, so the
 * targets are bit-identical, not merely close.
 */
object FrameSampler {
    enum class Strategy(val wire: String) {
        UNIFORM("uniform"),
        FPS("fps");

        companion object {
            fun parse(name: String): Strategy =
                entries.firstOrNull { it.wire == name } ?: throw IllegalArgumentException("unknown sampling strategy '$name'")
        }
    }

    /** Midpoints of `count` equal segments of [0, duration): never the very first or last instant. */
    fun uniform(durationS: Double, count: Int): List<Double> {
        val step = maxOf(durationS, 0.0) / count
        return List(count) { i -> (i + 0.5) * step }
    }

    /** Midpoints of 1/fps windows inside [0, duration); stops once past `limit` (the caller falls back). */
    fun fps(durationS: Double, fps: Double, limit: Int): List<Double> {
        val times = ArrayList<Double>()
        var k = 0
        while (true) {
            val t = (k + 0.5) / fps
            if (!(t < durationS)) break
            times.add(t)
            if (times.size > limit) break
            k += 1
        }
        return times
    }

    /**
     * Target times: FPS midpoints, or `maxFrames` uniform midpoints when FPS gives more than the
     * frame budget (the exported graph has a fixed frame count) or none at all.
     */
    fun sampleTimes(durationS: Double, strategy: Strategy, maxFrames: Int, fps: Double): List<Double> {
        require(maxFrames >= 1) { "max frames must be >= 1, got $maxFrames" }
        if (strategy == Strategy.FPS) {
            val times = fps(durationS, fps, maxFrames)
            if (times.isNotEmpty() && times.size <= maxFrames) return times
        }
        return uniform(durationS, maxFrames)
    }

    /**
     * For each target, the index of the frame on screen at that time: the last frame whose time is
     * <= target (Python's bisect_right - 1), frame 0 for a target before the first frame. Indices
     * repeat when there are fewer frames than targets. `frameTimes` must be sorted ascending.
     */
    fun pickFrames(frameTimes: List<Double>, targets: List<Double>): List<Int> {
        require(frameTimes.isNotEmpty()) { "pickFrames needs at least one frame time" }
        val last = frameTimes.size - 1
        return targets.map { t -> (bisectRight(frameTimes, t) - 1).coerceIn(0, last) }
    }

    /** Python's bisect.bisect_right: the insertion point after any entries equal to `x`. */
    fun bisectRight(sorted: List<Double>, x: Double): Int {
        var lo = 0
        var hi = sorted.size
        while (lo < hi) {
            val mid = (lo + hi) ushr 1
            if (x < sorted[mid]) hi = mid else lo = mid + 1
        }
        return lo
    }

    /**
     * The target times for an exported graph, which takes exactly `frameBudget` frames
     * (frame_geometry.frames): `frameBudget` uniform midpoints, as sf-bench samples a video for an
     * export (sf_mobile/bench/runner.py frame_source). The preset's FPS strategy can give fewer
     * frames than a fixed-shape graph takes, so it applies to the eager reference only.
     */
    fun exportTargets(durationS: Double, frameBudget: Int): List<Double> =
        sampleTimes(durationS, Strategy.UNIFORM, frameBudget, 1.0)
}
