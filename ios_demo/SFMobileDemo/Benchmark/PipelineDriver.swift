import Foundation

/// Drives the app's own pipeline through the parity bundle in the order the Python parity driver
/// (sf_mobile/parity/driver.py) and latency runner (sf_mobile/bench/latency.py) use, so the numbers
/// line up with every other sf-bench backend.
struct PipelineDriver {
    let pipeline: Pipeline
    let bundle: ParityBundle

    /// vision on the packed frames -> prefix + visual + suffix embeddings -> reset -> chunked
    /// prefill -> greedy decode of len(greedy_tokens) tokens (no stop ids) -> teacher-forced decode
    /// of the forced tokens from the same prompt (run_backend: both continuations start at slot P,
    /// and each step reads only slots its own continuation wrote, so no second prefill is needed).
    func parityOutputs() throws -> ParityCheck.Outputs {
        let clock = Stopwatch()
        let visual = try vision()
        let visionMs = clock.lap()
        let prompt = try pipeline.promptEmbeddings(prefix: bundle.prefixIds, visual: visual, suffix: bundle.suffixIds)
        let embeddingMs = clock.lap()
        let lm = pipeline.languageModel
        lm.reset()
        _ = clock.lap()
        let prefillLogits = try lm.prefill(prompt.bits, length: prompt.rows)
        let prefillMs = clock.lap()
        let tokens = try greedy(from: prefillLogits, position: prompt.rows, count: bundle.referenceGreedy.count)
        let decodeMs = clock.lap()
        var decodeRows: [Float] = []
        for (index, token) in bundle.forcedTokens.enumerated() {
            decodeRows += try pipeline.decodeStep(token: token, position: prompt.rows + index)
        }
        let timings = StageTimings(visionMs: visionMs, embeddingMs: embeddingMs, prefillMs: prefillMs, prefillTokens: prompt.rows,
                                   decodeMs: decodeMs, decodeTokens: max(tokens.count - 1, 0))
        let vocab = lm.spec.vocabSize
        return ParityCheck.Outputs(
            visual: ParityCheck.Tensor(values: visual, shape: pipeline.vision.outputShape),
            prefillLastLogits: ParityCheck.Tensor(values: prefillLogits, shape: [vocab]),
            decodeLogits: ParityCheck.Tensor(values: decodeRows, shape: [bundle.forcedTokens.count, vocab]),
            greedyTokens: tokens, timings: timings)
    }

    /// One timed repeat (latency.py time_once, without frame decoding: the frames are the bundle's).
    func timeOnce() throws -> (RunTimes, [Int]) {
        let clock = Stopwatch()
        let visual = try vision()
        let visionMs = clock.lap()
        let prompt = try pipeline.promptEmbeddings(prefix: bundle.prefixIds, visual: visual, suffix: bundle.suffixIds)
        let embeddingMs = clock.lap()
        pipeline.languageModel.reset()
        _ = clock.lap()
        let logits = try pipeline.languageModel.prefill(prompt.bits, length: prompt.rows)
        let prefillMs = clock.lap()
        let tokens = try greedy(from: logits, position: prompt.rows, count: bundle.referenceGreedy.count)
        let decodeMs = clock.lap()
        let run = RunTimes(visionMs: visionMs, embeddingMs: embeddingMs, prefillMs: prefillMs, prefillTokens: prompt.rows,
                           decodeMs: decodeMs, decodeTokens: max(tokens.count - 1, 0), frames: pipeline.vision.frames)
        return (run, tokens)
    }

    private func vision() throws -> [Float] {
        let frames = try VisionEncoder.unpack(bundle.framesPacked, frames: bundle.frameCount, side: pipeline.vision.side)
        return try pipeline.vision.encode(frames: frames)
    }

    /// Argmax decode after a prefill whose last logits are `logits`; the first new token goes to
    /// `position` (driver.greedy_from).
    private func greedy(from logits: [Float], position: Int, count: Int) throws -> [Int] {
        guard count > 0 else { return [] }
        var tokens = [Argmax.index(logits)]
        while tokens.count < count {
            let next = try pipeline.decodeStep(token: tokens[tokens.count - 1], position: position + tokens.count - 1)
            tokens.append(Argmax.index(next))
        }
        return tokens
    }
}
