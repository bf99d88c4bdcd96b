package org.sfmobile.demo.video

/**
 * The presentation times of a video's frames, from the first frame (t = 0), and how long the video
 * lasts: sf_mobile/video/decode.py `_packet_timeline` + `_duration`, fed from MediaExtractor's
 * sample times instead of PyAV's packet pts. VFR-safe: no constant rate is assumed.
 *
 * @property presentationUs each frame's own timestamp in the stream (what the decoder is asked
 *   for), sorted; index i here is frame index i of the sampler.
 */
class Timeline(val presentationUs: List<Long>, val timesS: List<Double>, val durationS: Double) {
    val frameCount: Int get() = timesS.size

    companion object {
        /**
         * @param sampleTimesUs the video track's sample times in decode order (duplicates and
         *   negative times, which some muxers write for edit-list-hidden frames, are dropped, as
         *   decode.py drops `is_discard` packets).
         * @param trackDurationUs the track's KEY_DURATION, or null. Python uses the last packet's
         *   own duration; MediaExtractor does not expose it, but for an MP4 track it is the track
         *   duration minus the span of the presentation times, so that is used when it looks like
         *   one frame's duration (0 < d <= 2 x the mean interval); otherwise decode.py's own
         *   fallback (the mean frame interval) applies. Both agree on constant-rate video.
         * @param frameRate the track's KEY_FRAME_RATE, used only for a one-frame video.
         */
        fun fromSampleTimes(sampleTimesUs: List<Long>, trackDurationUs: Long?, frameRate: Double?): Timeline {
            val pts = sampleTimesUs.filter { it >= 0 }.distinct().sorted()
            require(pts.isNotEmpty()) { "the video track has no frames" }
            val first = pts[0]
            val times = pts.map { (it - first) / 1_000_000.0 }
            val span = times.last()
            val mean = if (times.size > 1) (times.last() - times.first()) / (times.size - 1) else null
            val lastDuration = trackDurationUs?.let { it / 1_000_000.0 - span }
                ?.takeIf { d -> d > 0 && (mean == null || d <= 2 * mean) }
            return Timeline(pts, times, duration(span, lastDuration, times, frameRate))
        }

        /** decode.py `_duration`: the last frame's start + how long it is shown. */
        fun duration(lastTime: Double, lastDuration: Double?, times: List<Double>, rate: Double?): Double {
            if (lastDuration != null && lastDuration > 0) return lastTime + lastDuration
            if (times.size > 1) return lastTime + (times.last() - times.first()) / (times.size - 1)
            return lastTime + if (rate != null && rate > 0) 1.0 / rate else 0.0
        }
    }
}
