import AVFoundation
import CoreMedia
import CoreVideo
import Foundation

enum VideoError: Error, LocalizedError {
    case noVideoTrack(String)
    case unreadable(String)
    case noFrames(String)

    var errorDescription: String? {
        switch self {
        case .noVideoTrack(let name):
            return "\(name) has no video track (audio-only or not a video)"
        case .unreadable(let text):
            return text
        case .noFrames(let name):
            return "the video track of \(name) yields no decodable frames"
        }
    }
}

/// The frames the vision model gets, with where they came from.
struct SampledVideo {
    let frames: [UInt8]  // uint8 [T, 3, S, S], upright, resized
    let count: Int
    let timestamps: [Double]  // seconds of each sampled frame from the first frame
    let duration: Double
    let rotationDegrees: Int  // counter-clockwise degrees applied to make frames upright
}

/// Video file -> the sampled frames, with the same two passes as sf_mobile/video/decode.py:
///   1. no decoding: the presentation time of every sample (AVAssetReader passthrough, the
///      analogue of PyAV's demux), VFR-safe;
///   2. decode, converting only the picked frames, and stop once all are in hand.
/// When sample times are missing or do not match the decoded frames, the timeline comes from a
/// full decode instead and the picked frames from a second decode (Python's fallback).
///
/// Unavoidable numeric difference: AVFoundation converts YUV to RGB with the colour matrix the
/// stream declares (BT.709 for HD phone video, HDR tone-mapped to 8 bits), while PyAV's rgb24
/// goes through swscale with its defaults (BT.601, bilinear chroma). Pixels can differ by a few
/// levels; frame *indices* are identical. The parity check uses the bundle's frames, so it is
/// not affected.
struct FrameReader {
    let side: Int
    let resize: FramePreprocessor.ResizeMode
    let rule: FrameSampler.Rule
    let frames: Int  // the vision graph's fixed frame count

    private struct Timeline {
        var keys: [Int64]  // per frame, sorted by time: the pts in microseconds, or the decode index
        var times: [Double]
        var duration: Double
    }

    func read(_ url: URL) async throws -> SampledVideo {
        let asset = AVURLAsset(url: url)
        let name = url.lastPathComponent
        guard let track = try await asset.loadTracks(withMediaType: .video).first else {
            throw VideoError.noVideoTrack(name)
        }
        let (transform, nominalRate) = try await track.load(.preferredTransform, .nominalFrameRate)
        let rate: Double? = nominalRate > 0 ? Double(nominalRate) : nil
        let turns = FrameReader.quarterTurns(transform)

        var got: [Int64: [UInt8]] = [:]
        var timeline = try packetTimeline(asset: asset, track: track, rate: rate)
        var picked: [Int] = []
        if let packets = timeline {
            picked = pick(packets)
            let wanted = Set(picked.map { packets.keys[$0] })
            let result = try collect(asset: asset, track: track, turns: turns, wanted: wanted) { _, pts in pts }
            if result.decoded == 0 {
                throw VideoError.noFrames(name)
            }
            got = result.frames
            if got.count < wanted.count {
                timeline = nil  // decoded times disagree with the samples: trust the decoder
            }
        }
        if timeline == nil {
            guard let decoded = try decodedTimeline(asset: asset, track: track, rate: rate) else {
                throw VideoError.noFrames(name)
            }
            timeline = decoded
            picked = pick(decoded)
            let wanted = Set(picked.map { decoded.keys[$0] })
            got = try collect(asset: asset, track: track, turns: turns, wanted: wanted) { index, _ in Int64(index) }.frames
            if got.count < wanted.count {
                throw VideoError.unreadable("\(name) decoded differently on a second read")
            }
        }
        guard let chosen = timeline else { throw VideoError.noFrames(name) }
        var out: [UInt8] = []
        out.reserveCapacity(picked.count * 3 * side * side)
        for index in picked {
            guard let frame = got[chosen.keys[index]] else { throw VideoError.noFrames(name) }
            out += frame
        }
        return SampledVideo(frames: out, count: picked.count, timestamps: picked.map { chosen.times[$0] },
                            duration: chosen.duration, rotationDegrees: 90 * turns)
    }

    private func pick(_ timeline: Timeline) -> [Int] {
        let targets = FrameSampler.graphTargets(duration: timeline.duration, rule: rule, frames: frames)
        return FrameSampler.pickFrames(frameTimes: timeline.times, targets: targets)
    }

    // MARK: pass 1: sample times without decoding

    private func packetTimeline(asset: AVAsset, track: AVAssetTrack, rate: Double?) throws -> Timeline? {
        let reader = try AVAssetReader(asset: asset)
        let output = AVAssetReaderTrackOutput(track: track, outputSettings: nil)  // passthrough: no decode
        output.alwaysCopiesSampleData = false
        guard reader.canAdd(output) else { return nil }
        reader.add(output)
        guard reader.startReading() else { return nil }
        defer { reader.cancelReading() }
        var durations: [Int64: Double] = [:]
        var ptsSeconds: [Int64: Double] = [:]
        while let buffer = output.copyNextSampleBuffer() {
            try Task.checkCancellation()
            let count = CMSampleBufferGetNumSamples(buffer)
            if count == 0 { continue }  // marker buffers carry no frame
            let timings = FrameReader.timings(of: buffer, count: count)
            let hidden = FrameReader.hiddenSamples(of: buffer, count: count)
            for index in 0..<count {
                if hidden[index] { continue }  // edit-list priming frames: PyAV's is_discard
                let timing = timings[index]
                guard timing.presentationTimeStamp.isValid else { return nil }
                let seconds = timing.presentationTimeStamp.seconds
                let key = FrameReader.key(seconds)
                if ptsSeconds[key] != nil { return nil }  // ambiguous times: use the decoder's
                ptsSeconds[key] = seconds
                durations[key] = timing.duration.isValid ? timing.duration.seconds : 0
            }
        }
        if reader.status == .failed || ptsSeconds.isEmpty { return nil }
        let keys = ptsSeconds.keys.sorted()
        let first = ptsSeconds[keys[0]]!
        let times = keys.map { ptsSeconds[$0]! - first }
        let duration = FrameReader.duration(lastTime: times[times.count - 1], lastDuration: durations[keys[keys.count - 1]],
                                            times: times, rate: rate)
        return Timeline(keys: keys, times: times, duration: duration)
    }

    // MARK: fallback: the timeline from a full decode

    private func decodedTimeline(asset: AVAsset, track: AVAssetTrack, rate: Double?) throws -> Timeline? {
        let (reader, output) = try FrameReader.decoder(asset: asset, track: track)
        defer { reader.cancelReading() }
        var times: [Double] = []
        var lastDuration: Double?
        while let buffer = output.copyNextSampleBuffer() {
            try Task.checkCancellation()
            guard CMSampleBufferGetImageBuffer(buffer) != nil else { continue }
            let pts = CMSampleBufferGetPresentationTimeStamp(buffer)
            let length = CMSampleBufferGetDuration(buffer)
            times.append(pts.isValid ? pts.seconds : .nan)
            lastDuration = length.isValid && length.seconds > 0 ? length.seconds : nil
        }
        if times.isEmpty { return nil }
        let seconds: [Double]
        let ordered = times.allSatisfy { $0.isFinite } && zip(times, times.dropFirst()).allSatisfy { $0 < $1 }
        if ordered {
            seconds = times.map { $0 - times[0] }
        } else {
            // no usable timestamps: space frames at the stream rate (any rate gives the same uniform pick)
            let step = 1.0 / (rate ?? 30.0)
            seconds = (0..<times.count).map { Double($0) * step }
            lastDuration = step
        }
        let duration = FrameReader.duration(lastTime: seconds[seconds.count - 1], lastDuration: lastDuration, times: seconds, rate: rate)
        return Timeline(keys: (0..<seconds.count).map { Int64($0) }, times: seconds, duration: duration)
    }

    // MARK: pass 2: decode and convert the wanted frames

    /// Decodes until every wanted key is converted. `keyOf(decodeIndex, ptsKey)` names a frame.
    private func collect(asset: AVAsset, track: AVAssetTrack, turns: Int, wanted: Set<Int64>,
                         keyOf: (Int, Int64) -> Int64) throws -> (frames: [Int64: [UInt8]], decoded: Int) {
        let (reader, output) = try FrameReader.decoder(asset: asset, track: track)
        defer { reader.cancelReading() }
        var got: [Int64: [UInt8]] = [:]
        var index = 0
        while let buffer = output.copyNextSampleBuffer() {
            try Task.checkCancellation()
            guard let pixels = CMSampleBufferGetImageBuffer(buffer) else { continue }
            let key = keyOf(index, FrameReader.key(CMSampleBufferGetPresentationTimeStamp(buffer).seconds))
            index += 1
            if wanted.contains(key) && got[key] == nil {
                // Resize at once: holding 128 full-resolution frames would take gigabytes.
                let upright = FrameReader.rgb(from: pixels).rotated(quarterTurns: turns)
                got[key] = FramePreprocessor.preprocess(upright, side: side, mode: resize)
                if got.count == wanted.count { break }
            }
        }
        return (got, index)
    }

    private static func decoder(asset: AVAsset, track: AVAssetTrack) throws -> (AVAssetReader, AVAssetReaderTrackOutput) {
        let reader = try AVAssetReader(asset: asset)
        let settings: [String: Any] = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
        let output = AVAssetReaderTrackOutput(track: track, outputSettings: settings)
        output.alwaysCopiesSampleData = false
        guard reader.canAdd(output) else {
            throw VideoError.unreadable("AVAssetReader cannot decode this video track")
        }
        reader.add(output)
        guard reader.startReading() else {
            throw VideoError.unreadable("cannot read the video: \(reader.error?.localizedDescription ?? "unknown error")")
        }
        return (reader, output)
    }

    // MARK: helpers

    /// Frames never closer than a microsecond: a microsecond key identifies a frame across both passes.
    static func key(_ seconds: Double) -> Int64 {
        seconds.isFinite ? Int64((seconds * 1_000_000).rounded()) : Int64.min
    }

    /// Last frame's start + how long it is shown: its own duration, else the mean frame interval,
    /// else one period of the nominal rate (decode.py `_duration`).
    static func duration(lastTime: Double, lastDuration: Double?, times: [Double], rate: Double?) -> Double {
        if let last = lastDuration, last > 0 {
            return lastTime + last
        }
        if times.count > 1 {
            return lastTime + (times[times.count - 1] - times[0]) / Double(times.count - 1)
        }
        return lastTime + (rate.map { 1.0 / $0 } ?? 0.0)
    }

    /// Counter-clockwise quarter turns (numpy rot90's k) that make a frame upright. The track's
    /// preferred transform rotates the stored picture clockwise by atan2(b, a) on screen (y down);
    /// a phone's portrait clip reads 90, which is k = 3, as PyAV's rotation -90 gives in Python.
    /// Rotations between quarter turns snap to the nearest one; mirroring is not applied.
    static func quarterTurns(_ transform: CGAffineTransform) -> Int {
        let clockwise = atan2(Double(transform.b), Double(transform.a)) * 180 / Double.pi
        let turns = Int((-clockwise / 90).rounded())
        return ((turns % 4) + 4) % 4
    }

    private static func timings(of buffer: CMSampleBuffer, count: Int) -> [CMSampleTimingInfo] {
        var needed: CMItemCount = 0
        CMSampleBufferGetSampleTimingInfoArray(buffer, entryCount: 0, arrayToFill: nil, entriesNeededOut: &needed)
        if needed == 0 {
            let one = CMSampleTimingInfo(duration: CMSampleBufferGetDuration(buffer),
                                         presentationTimeStamp: CMSampleBufferGetPresentationTimeStamp(buffer),
                                         decodeTimeStamp: CMSampleBufferGetDecodeTimeStamp(buffer))
            return FrameReader.expand([one], count: count)
        }
        var infos = [CMSampleTimingInfo](repeating: CMSampleTimingInfo(), count: needed)
        CMSampleBufferGetSampleTimingInfoArray(buffer, entryCount: needed, arrayToFill: &infos, entriesNeededOut: &needed)
        return FrameReader.expand(infos, count: count)
    }

    /// One timing entry may stand for every sample of a buffer (evenly spaced).
    private static func expand(_ infos: [CMSampleTimingInfo], count: Int) -> [CMSampleTimingInfo] {
        if infos.count >= count { return infos }
        let first = infos[0]
        return (0..<count).map { index in
            var info = first
            info.presentationTimeStamp = CMTimeAdd(first.presentationTimeStamp, CMTimeMultiply(first.duration, multiplier: Int32(index)))
            return info
        }
    }

    /// Samples the container marks as not to be displayed (priming frames an edit list hides).
    private static func hiddenSamples(of buffer: CMSampleBuffer, count: Int) -> [Bool] {
        guard let attachments = CMSampleBufferGetSampleAttachmentsArray(buffer, createIfNecessary: false) as? [NSDictionary] else {
            return [Bool](repeating: false, count: count)
        }
        let key = kCMSampleAttachmentKey_DoNotDisplay as String
        return (0..<count).map { index in
            index < attachments.count && (attachments[index][key] as? Bool ?? false)
        }
    }

    /// A decoded BGRA pixel buffer as an RGB frame (row padding dropped).
    static func rgb(from buffer: CVPixelBuffer) -> RGBFrame {
        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        let width = CVPixelBufferGetWidth(buffer)
        let height = CVPixelBufferGetHeight(buffer)
        let rowBytes = CVPixelBufferGetBytesPerRow(buffer)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        guard let base = CVPixelBufferGetBaseAddress(buffer) else {
            return RGBFrame(width: width, height: height, pixels: pixels)
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                let row = bytes + y * rowBytes
                for x in 0..<width {
                    let dst = (y * width + x) * 3
                    out[dst] = row[x * 4 + 2]
                    out[dst + 1] = row[x * 4 + 1]
                    out[dst + 2] = row[x * 4]
                }
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }
}
