import Foundation

/// Which moments of a video to look at and which decoded frame shows each moment: a line-by-line
/// port of sf_mobile/video/sampling.py, so the app picks the same frame indices as the Python
/// front end (checked against tests/vectors/frame_sampling.json). Pure: no decoding.
/// Times are seconds relative to the first frame (t = 0); all arithmetic is IEEE double, as in Python.
enum FrameSampler {
    enum Strategy: String {
        case uniform
        case fps
    }

    struct Rule: Equatable {
        let strategy: Strategy
        let fps: Double
        let maxFrames: Int
    }

    /// Midpoints of `count` equal segments of [0, duration): never the very first or last
    /// instant, which are often black or a fade.
    static func uniformTimes(duration: Double, count: Int) -> [Double] {
        let step = max(duration, 0.0) / Double(count)
        return (0..<count).map { (Double($0) + 0.5) * step }
    }

    /// Midpoints of 1/fps windows inside [0, duration); stops once past `limit` (caller falls back).
    static func fpsTimes(duration: Double, fps: Double, limit: Int) -> [Double] {
        var times: [Double] = []
        var k = 0
        while true {
            let t = (Double(k) + 0.5) / fps
            if !(t < duration) { break }
            times.append(t)
            if times.count > limit { break }
            k += 1
        }
        return times
    }

    /// Target times: FPS midpoints, or `maxFrames` uniform midpoints. FPS falls back to uniform
    /// when it gives more than `maxFrames` times or none at all (sample_times in Python).
    static func sampleTimes(duration: Double, rule: Rule) -> [Double] {
        if rule.strategy == .fps {
            let times = fpsTimes(duration: duration, fps: rule.fps, limit: rule.maxFrames)
            if !times.isEmpty && times.count <= rule.maxFrames {
                return times
            }
        }
        return uniformTimes(duration: duration, count: rule.maxFrames)
    }

    /// For each target, the index of the frame on screen at that time: the last frame whose
    /// time is <= target (bisect_right - 1), clamped to [0, last]. `frameTimes` must be sorted.
    static func pickFrames(frameTimes: [Double], targets: [Double]) -> [Int] {
        precondition(!frameTimes.isEmpty, "pickFrames needs at least one frame time")
        let last = frameTimes.count - 1
        return targets.map { min(max(bisectRight(frameTimes, $0) - 1, 0), last) }
    }

    /// Python's bisect.bisect_right: the insertion point after any entries equal to `value`.
    static func bisectRight(_ sorted: [Double], _ value: Double) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if value < sorted[mid] {
                high = mid
            } else {
                low = mid + 1
            }
        }
        return low
    }

    /// Targets for an exported vision graph, which takes exactly `frames` frames.
    /// The preset's rule is used when it yields exactly that many; otherwise (FPS on a clip too
    /// short to fill the budget) uniform sampling of exactly `frames` frames, as sf-bench's
    /// frame source does for fixed-size graphs (sf_mobile/bench/runner.py `frame_source`).
    static func graphTargets(duration: Double, rule: Rule, frames: Int) -> [Double] {
        let times = sampleTimes(duration: duration, rule: Rule(strategy: rule.strategy, fps: rule.fps, maxFrames: frames))
        if times.count == frames {
            return times
        }
        return uniformTimes(duration: duration, count: frames)
    }
}

extension FrameSampler.Rule {
    /// The rule of the manifest's `config.sampling`; nil for a strategy this app does not know.
    init?(_ sampling: SamplingInfo) {
        guard let strategy = FrameSampler.Strategy(rawValue: sampling.strategy), sampling.maxFrames >= 1, sampling.fps > 0 else {
            return nil
        }
        self.init(strategy: strategy, fps: sampling.fps, maxFrames: sampling.maxFrames)
    }
}
