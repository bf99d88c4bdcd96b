import Foundation

/// What a generation reports while it runs.
enum GenerationEvent {
    case stage(String)
    case prepared(PromptInfoSummary)
    case firstToken(timeToFirstTokenMs: Double)
    case text(String)
    case finished(GenerationStats)
}

struct PromptInfoSummary {
    let frames: Int
    let frameTimes: [Double]
    let videoDuration: Double
    let visualTokens: Int
    let promptRows: Int
}

struct GenerationStats {
    var frameDecodeMs: Double = 0
    var visionMs: Double = 0
    var embeddingMs: Double = 0
    var prefillMs: Double = 0
    var decodeMs: Double = 0
    var promptRows = 0
    var visualTokens = 0
    var generatedTokens = 0
    var stoppedOnEos = false

    /// vision + embedding + prefill (+ the first argmax), as the benchmark's
    /// time_to_first_token_ms; frame decoding is reported apart.
    var timeToFirstTokenMs: Double { visionMs + embeddingMs + prefillMs }
    var prefillTokensPerSecond: Double? { prefillMs > 0 ? Double(promptRows) / (prefillMs / 1000) : nil }
    /// Tokens after the first (which comes from the prefill) over the decode time.
    var decodeTokensPerSecond: Double? {
        decodeMs > 0 && generatedTokens > 1 ? Double(generatedTokens - 1) / (decodeMs / 1000) : nil
    }
}

/// One question about one video: frames -> vision -> prompt embeddings -> chunked prefill ->
/// greedy decode until a stop id, the token limit or the end of the KV cache, streamed.
enum Generator {
    static func run(pipeline: Pipeline, video: URL, question: String, maxNewTokens: Int) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached(priority: .userInitiated) {
                do {
                    try await Generator.generate(pipeline: pipeline, video: video, question: question, maxNewTokens: maxNewTokens) {
                        continuation.yield($0)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private static func generate(pipeline: Pipeline, video: URL, question: String, maxNewTokens: Int,
                                 emit: (GenerationEvent) -> Void) async throws {
        guard let prompt = pipeline.prompt, let tokenizer = pipeline.tokenizer else {
            throw ModelError.load("the pipeline was loaded without a tokenizer")
        }
        let manifest = pipeline.export.manifest
        guard let rule = FrameSampler.Rule(manifest.config.sampling),
              let mode = FramePreprocessor.ResizeMode(rawValue: manifest.config.vision.resize) else {
            throw ExportError.unsupported("unknown sampling strategy \(manifest.config.sampling.strategy) or resize mode \(manifest.config.vision.resize)")
        }
        var stats = GenerationStats()
        let clock = Stopwatch()

        emit(.stage("Reading frames"))
        let reader = FrameReader(side: pipeline.vision.side, resize: mode, rule: rule, frames: pipeline.vision.frames)
        let sampled = try await reader.read(video)
        stats.frameDecodeMs = clock.lap()

        emit(.stage("Vision encoder"))
        let visual = try pipeline.vision.encode(frames: sampled.frames)
        stats.visionMs = clock.lap()

        let ids = try prompt.encode(question: question)
        let embedded = try pipeline.promptEmbeddings(prefix: ids.prefix, visual: visual, suffix: ids.suffix)
        stats.embeddingMs = clock.lap()
        stats.promptRows = embedded.rows
        stats.visualTokens = pipeline.vision.tokens
        emit(.prepared(PromptInfoSummary(frames: sampled.count, frameTimes: sampled.timestamps, videoDuration: sampled.duration,
                                         visualTokens: pipeline.vision.tokens, promptRows: embedded.rows)))

        let room = pipeline.languageModel.spec.maxContext - embedded.rows
        guard room >= 1 else {
            throw ModelError.shape("the prompt needs \(embedded.rows) positions but the export's KV cache holds \(pipeline.languageModel.spec.maxContext)")
        }
        emit(.stage("Prefill (\(embedded.rows) rows)"))
        try Task.checkCancellation()
        pipeline.languageModel.reset()
        var logits = try pipeline.languageModel.prefill(embedded.bits, length: embedded.rows)
        stats.prefillMs = clock.lap()

        var token = Argmax.index(logits)
        emit(.firstToken(timeToFirstTokenMs: stats.timeToFirstTokenMs))
        let stopIds = Set(manifest.eosIds)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, stopIds: stopIds)
        let limit = min(maxNewTokens, room)
        var generated = 1
        emit(.stage("Decoding"))
        while true {
            if stopIds.contains(token) {
                stats.stoppedOnEos = true
                break
            }
            let delta = detokenizer.push(token)
            if !delta.isEmpty { emit(.text(delta)) }
            if generated >= limit { break }
            try Task.checkCancellation()
            // the token just chosen sits at slot rows + generated - 1
            logits = try pipeline.decodeStep(token: token, position: embedded.rows + generated - 1)
            token = Argmax.index(logits)
            generated += 1
        }
        let tail = detokenizer.finish()
        if !tail.isEmpty { emit(.text(tail)) }
        stats.decodeMs = clock.lap()
        stats.generatedTokens = generated
        emit(.finished(stats))
    }
}

/// Wall-clock laps in milliseconds (monotonic).
final class Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds

    /// Milliseconds since the previous lap (or creation), and starts the next lap.
    func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1_000_000
    }
}
