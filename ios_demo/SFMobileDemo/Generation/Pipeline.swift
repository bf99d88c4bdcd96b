import CoreML
import Foundation

/// Everything loaded from one export folder: the vision model, the stateful language model, the
/// embedding table, and (for the interactive app) the tokenizer and prompt builder.
///
/// Not thread-safe: one generation or benchmark at a time uses it (the UI disables "Ask" while a
/// run is going, benchmark mode is sequential). `@unchecked Sendable` lets it move into the
/// detached task that does the work.
final class Pipeline: @unchecked Sendable {
    struct LoadOptions {
        var compiler: ModelCompiler = .cached()
        var computeOverride: ComputeUnitName?
        var loadTokenizer = true
    }

    let export: ExportFolder
    let vision: VisionEncoder
    let languageModel: LanguageModel
    let embeddings: TokenEmbeddings
    let tokenizer: TextTokenizer?
    let prompt: PromptBuilder?
    let compute: ComputePlan
    let visualBudget: VisualTokenBudget
    /// Compiled models made in a temporary folder (uncached compiles); deleted by `discardCompiled`.
    private(set) var temporaryCompiled: [URL]

    private init(export: ExportFolder, vision: VisionEncoder, languageModel: LanguageModel, embeddings: TokenEmbeddings,
                 tokenizer: TextTokenizer?, compute: ComputePlan, visualBudget: VisualTokenBudget, temporaryCompiled: [URL]) {
        self.export = export
        self.vision = vision
        self.languageModel = languageModel
        self.embeddings = embeddings
        self.tokenizer = tokenizer
        self.prompt = tokenizer.map { PromptBuilder(template: export.chatTemplate, bosId: export.manifest.bosId, tokenizer: $0) }
        self.compute = compute
        self.visualBudget = visualBudget
        self.temporaryCompiled = temporaryCompiled
    }

    static func load(_ export: ExportFolder, options: LoadOptions = LoadOptions()) async throws -> Pipeline {
        let spec = try LanguageModel.spec(from: export)
        var compute = try ComputePlan.fromManifest(export, prefillFunction: spec.prefillFunction, decodeFunction: spec.decodeFunction)
        if let override = options.computeOverride {
            compute = .uniform(override)
        }
        let visionCompiled = try await options.compiler.compile(export.location(of: export.vision), sha256: export.vision.sha256)
        let lmCompiled = try await options.compiler.compile(export.location(of: export.languageModel), sha256: export.languageModel.sha256)
        let temporary = [visionCompiled, lmCompiled].filter { $0.temporary }.map { $0.url }
        do {
            let vision = try await VisionEncoder.load(artifact: export.vision, compiled: visionCompiled.url, units: compute.vision)
            let lm = try await LanguageModel.load(export: export, compiled: lmCompiled.url, plan: compute)
            let table = try TokenEmbeddings(url: export.location(of: export.embeddingTable), artifact: export.embeddingTable)
            guard table.hiddenSize == lm.spec.hiddenSize, vision.hiddenSize == lm.spec.hiddenSize else {
                throw ExportError.mismatch("hidden sizes differ: vision \(vision.hiddenSize), embeddings \(table.hiddenSize), language model \(lm.spec.hiddenSize)")
            }
            let budget = try VisualTokenBudget(manifest: export.manifest)
            guard budget.total == vision.tokens, vision.frames == export.manifest.frameGeometry.frames else {
                throw ExportError.mismatch("the vision model gives \(vision.tokens) tokens for \(vision.frames) frames; the manifest's config gives \(budget.total) for \(export.manifest.frameGeometry.frames)")
            }
            var tokenizer: TextTokenizer?
            if options.loadTokenizer {
                tokenizer = try TokenizerLoader.load(folder: export.url)
            }
            return Pipeline(export: export, vision: vision, languageModel: lm, embeddings: table, tokenizer: tokenizer,
                            compute: compute, visualBudget: budget, temporaryCompiled: temporary)
        } catch {
            temporary.forEach { try? FileManager.default.removeItem(at: $0) }
            throw error
        }
    }

    /// Deletes compiled models that were made for this run only.
    func discardCompiled() {
        temporaryCompiled.forEach { try? FileManager.default.removeItem(at: $0) }
        temporaryCompiled = []
    }

    /// prefix ids + visual embeddings + suffix ids as one fp16 buffer [rows x D]
    /// (parity driver `prompt_embeddings`: visual floats are rounded to fp16 like the Python
    /// Core ML runtime does before the language model).
    func promptEmbeddings(prefix: [Int], visual: [Float], suffix: [Int]) throws -> (bits: [UInt16], rows: Int) {
        let hidden = languageModel.spec.hiddenSize
        guard visual.count % hidden == 0 else {
            throw ModelError.shape("visual embeddings hold \(visual.count) values, not a multiple of \(hidden)")
        }
        let visualRows = visual.count / hidden
        let rows = prefix.count + visualRows + suffix.count
        var bits = [UInt16](repeating: 0, count: rows * hidden)
        try embeddings.append(prefix, to: &bits, at: 0)
        let visualBits = Half.fromFloat(visual)
        let visualStart = prefix.count * hidden
        for index in 0..<visualBits.count {
            bits[visualStart + index] = visualBits[index]
        }
        try embeddings.append(suffix, to: &bits, at: (prefix.count + visualRows) * hidden)
        return (bits, rows)
    }

    /// The embedding row of one token and the logits after feeding it at `position`.
    func decodeStep(token: Int, position: Int) throws -> [Float] {
        try languageModel.decode(try embeddings.rows([token]), position: position)
    }
}
