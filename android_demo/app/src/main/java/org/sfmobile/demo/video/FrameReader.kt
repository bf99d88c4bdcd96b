package org.sfmobile.demo.video

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Matrix
import android.media.MediaExtractor
import android.media.MediaFormat
import android.media.MediaMetadataRetriever
import android.net.Uri
import android.os.Build
import org.sfmobile.demo.export.ExportError

/**
 * A video file -> the frames an exported graph takes, as sf_mobile/video/decode.py + preprocess.py
 * do on the host:
 *  1. MediaExtractor lists every frame's presentation time without decoding (VFR-safe);
 *  2. FrameSampler picks the frame indices from those times, exactly as Python does;
 *  3. MediaMetadataRetriever decodes each picked frame at its OWN timestamp with OPTION_CLOSEST,
 *     so the frame decoded is the frame picked (not the nearest key frame), upright;
 *  4. Preprocess resizes it as preprocess.py does (antialiased bicubic, squash or shortest-edge
 *     crop per the manifest) to [3, S, S] uint8.
 * Pixel values differ from the host's slightly (another decoder and YUV->RGB conversion), the
 * frame INDICES do not.
 */
class FrameReader(private val context: Context) {

    class Sampled(
        val frames: FrameBatch,
        val indices: List<Int>,
        val timesS: List<Double>,
        val durationS: Double,
        val frameCount: Int,
        val decodeMs: Double,
    )

    fun read(uri: Uri, frameBudget: Int, side: Int, mode: Preprocess.ResizeMode): Sampled {
        val t0 = System.nanoTime()
        val timeline = timeline(uri)
        val picks = FrameSampler.pickFrames(timeline.timesS, FrameSampler.exportTargets(timeline.durationS, frameBudget))
        val decoded = HashMap<Int, ByteArray>()
        val retriever = MediaMetadataRetriever()
        try {
            retriever.setDataSource(context, uri)
            for (index in picks.distinct()) {
                val bitmap = frameAt(retriever, timeline.presentationUs[index])
                    ?: throw ExportError("cannot decode frame $index (t = ${"%.3f".format(timeline.timesS[index])} s) of the video")
                decoded[index] = toModelInput(upright(bitmap, retriever), side, mode)
            }
        } finally {
            retriever.release()
        }
        val batch = FrameBatch.of(picks.map { decoded.getValue(it) }, side)
        return Sampled(batch, picks, picks.map { timeline.timesS[it] }, timeline.durationS, timeline.frameCount, (System.nanoTime() - t0) / 1e6)
    }

    /** Pass 1: the sample times of the first video track, demuxed only. */
    fun timeline(uri: Uri): Timeline {
        val extractor = MediaExtractor()
        try {
            extractor.setDataSource(context, uri, null)
            val track = (0 until extractor.trackCount).firstOrNull {
                extractor.getTrackFormat(it).getString(MediaFormat.KEY_MIME)?.startsWith("video/") == true
            } ?: throw ExportError("the file has no video track (audio-only or not a video)")
            val format = extractor.getTrackFormat(track)
            extractor.selectTrack(track)
            val times = ArrayList<Long>()
            while (true) {
                if (extractor.sampleSize < 0) break // end of stream
                if (extractor.sampleSize > 0) times.add(extractor.sampleTime)
                if (!extractor.advance()) break
            }
            if (times.isEmpty()) throw ExportError("the video track holds no frames")
            val duration = if (format.containsKey(MediaFormat.KEY_DURATION)) format.getLong(MediaFormat.KEY_DURATION) else null
            return Timeline.fromSampleTimes(times, duration, frameRate(format))
        } finally {
            extractor.release()
        }
    }

    private fun frameRate(format: MediaFormat): Double? {
        if (!format.containsKey(MediaFormat.KEY_FRAME_RATE)) return null
        // containers store it as an Integer or a Float depending on the extractor
        return try {
            format.getInteger(MediaFormat.KEY_FRAME_RATE).toDouble()
        } catch (e: ClassCastException) {
            format.getFloat(MediaFormat.KEY_FRAME_RATE).toDouble()
        }
    }

    private fun frameAt(retriever: MediaMetadataRetriever, timeUs: Long): Bitmap? =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            val params = MediaMetadataRetriever.BitmapParams().apply { preferredConfig = Bitmap.Config.ARGB_8888 }
            retriever.getFrameAtTime(timeUs, MediaMetadataRetriever.OPTION_CLOSEST, params)
        } else {
            retriever.getFrameAtTime(timeUs, MediaMetadataRetriever.OPTION_CLOSEST)
        }

    /**
     * MediaMetadataRetriever returns frames already turned by the track's rotation; should a
     * platform return the stored orientation (width and height not swapped for a 90/270 track),
     * turn it here, as decode.py applies the display matrix.
     */
    private fun upright(bitmap: Bitmap, retriever: MediaMetadataRetriever): Bitmap {
        val rotation = retriever.extractMetadata(MediaMetadataRetriever.METADATA_KEY_VIDEO_ROTATION)?.toIntOrNull() ?: 0
        val storedWidth = retriever.extractMetadata(MediaMetadataRetriever.METADATA_KEY_VIDEO_WIDTH)?.toIntOrNull() ?: return bitmap
        val storedHeight = retriever.extractMetadata(MediaMetadataRetriever.METADATA_KEY_VIDEO_HEIGHT)?.toIntOrNull() ?: return bitmap
        val quarter = rotation == 90 || rotation == 270
        val notTurned = quarter && storedWidth != storedHeight && bitmap.width == storedWidth && bitmap.height == storedHeight
        if (!notTurned) return bitmap
        val m = Matrix().apply { postRotate(rotation.toFloat()) }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, false).also { bitmap.recycle() }
    }

    private fun toModelInput(bitmap: Bitmap, side: Int, mode: Preprocess.ResizeMode): ByteArray {
        val w = bitmap.width
        val h = bitmap.height
        val pixels = IntArray(w * h)
        bitmap.getPixels(pixels, 0, w, 0, 0, w, h)
        bitmap.recycle()
        val rgb = ByteArray(w * h * 3)
        for (i in pixels.indices) {
            val p = pixels[i]
            rgb[i * 3] = (p shr 16).toByte()
            rgb[i * 3 + 1] = (p shr 8).toByte()
            rgb[i * 3 + 2] = p.toByte()
        }
        return Preprocess.toModelInput(rgb, h, w, side, mode)
    }
}
