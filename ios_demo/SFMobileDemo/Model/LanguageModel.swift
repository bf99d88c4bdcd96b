import CoreML
import Foundation

/// language_model.mlpackage: a multifunction, stateful Core ML program (iOS 18 / macOS 15).
/// Two functions share every weight and the KV-cache states (keyCache / valueCache):
/// `prefill` takes C rows, `decode` takes one; both map
/// (inputs_embeds fp16 [1, rows, D], position_ids int32 [rows], causal_mask fp16 [1, 1, rows, ctx])
/// to the logits after the last row, fp16 [1, 1, V].
///
/// Each function is loaded as its own MLModel (`MLModelConfiguration.functionName`) on the
/// compute units the manifest names for it, and both run against ONE MLState made by the
/// prefill model, as sf_mobile/runtimes/coreml.py's PredictEngine does on macOS: the functions
/// declare identical states, and decode must read what prefill wrote.
final class LanguageModel {
    /// Names, shapes and constants of the exported program, all read from the manifest and the
    /// package's sf.* metadata.
    struct Spec: Equatable {
        let prefillFunction: String
        let decodeFunction: String
        let embedsName: String
        let positionsName: String
        let maskName: String
        let logitsName: String
        let chunk: Int  // rows per prefill call
        let hiddenSize: Int
        let vocabSize: Int
        let contextPadded: Int  // the cache's slot count (mask width), a multiple of 32
        let maxContext: Int  // positions the export promises (<= contextPadded)
    }

    let spec: Spec
    let maskValue: Float
    let prefillModel: MLModel
    let decodeModel: MLModel
    private var state: MLState
    private let maskBits: UInt16

    private init(spec: Spec, maskValue: Float, prefillModel: MLModel, decodeModel: MLModel) {
        self.spec = spec
        self.maskValue = maskValue
        self.prefillModel = prefillModel
        self.decodeModel = decodeModel
        self.maskBits = Half.bits(maskValue)
        self.state = prefillModel.makeState()
    }

    /// Reads the functions' inputs from the manifest: the rank-3 input is the embeddings, the
    /// rank-1 input the positions, the rank-4 input the mask; the function with more rows is prefill.
    static func spec(from export: ExportFolder) throws -> Spec {
        let lm = export.languageModel
        guard let functions = lm.functions, functions.count >= 2, let inputs = lm.inputs, let outputs = lm.outputs else {
            throw ExportError.unsupported("the language model must declare prefill and decode functions with inputs and outputs")
        }
        struct Function {
            let name: String
            let embeds: (String, [Int])
            let positions: String
            let mask: (String, [Int])
            let logits: (String, [Int])
        }
        var parsed: [Function] = []
        for name in functions {
            guard let values = inputs[name], let outs = outputs[name], outs.count == 1, let logits = outs.first,
                  let logitsShape = logits.value.fixedShape else {
                throw ExportError.unsupported("function \(name) of the language model has no declared inputs/outputs")
            }
            var embeds: (String, [Int])?
            var positions: String?
            var mask: (String, [Int])?
            for (key, spec) in values {
                guard let shape = spec.fixedShape else {
                    throw ExportError.unsupported("input \(key) of \(name) has no fixed shape")
                }
                switch shape.count {
                case 3: embeds = (key, shape)
                case 1: positions = key
                case 4: mask = (key, shape)
                default: throw ExportError.unsupported("unexpected input \(key) \(shape) in \(name)")
                }
            }
            guard let e = embeds, let p = positions, let m = mask else {
                throw ExportError.unsupported("function \(name) lacks the embeddings, positions or mask input")
            }
            parsed.append(Function(name: name, embeds: e, positions: p, mask: m, logits: (logits.key, logitsShape)))
        }
        let byRows = parsed.sorted { $0.embeds.1[1] > $1.embeds.1[1] }
        guard let prefill = byRows.first, let decode = byRows.last(where: { $0.embeds.1[1] == 1 && $0.name != prefill.name }) else {
            throw ExportError.unsupported("the language model has no one-row decode function")
        }
        guard prefill.embeds.0 == decode.embeds.0, prefill.positions == decode.positions, prefill.mask.0 == decode.mask.0,
              prefill.logits.0 == decode.logits.0 else {
            throw ExportError.unsupported("prefill and decode name their inputs differently")
        }
        let context = prefill.mask.1[3]
        let vocab = prefill.logits.1[prefill.logits.1.count - 1]
        let table = export.embeddingTable.shape ?? []
        guard table.count == 2, table[1] == prefill.embeds.1[2], table[0] == vocab else {
            throw ExportError.mismatch("the embedding table \(table) does not match hidden size \(prefill.embeds.1[2]) / vocab \(vocab)")
        }
        return Spec(prefillFunction: prefill.name, decodeFunction: decode.name, embedsName: prefill.embeds.0,
                    positionsName: prefill.positions, maskName: prefill.mask.0, logitsName: prefill.logits.0,
                    chunk: prefill.embeds.1[1], hiddenSize: prefill.embeds.1[2], vocabSize: vocab,
                    contextPadded: context, maxContext: min(export.manifest.maxContext, context))
    }

    static func load(export: ExportFolder, compiled: URL, plan: ComputePlan) async throws -> LanguageModel {
        let spec = try spec(from: export)
        let prefill = try await loadFunction(compiled, spec.prefillFunction, plan.prefill)
        let decode = try await loadFunction(compiled, spec.decodeFunction, plan.decode)
        let metadata = ModelMetadata(prefill)
        // The metadata and the manifest are written from the same values: disagreement means a
        // folder assembled from two exports.
        if let chunk = metadata.int("prefill_chunk"), chunk != spec.chunk {
            throw ExportError.mismatch("sf.prefill_chunk is \(chunk) but the manifest's prefill takes \(spec.chunk) rows")
        }
        if let padded = metadata.int("context_padded"), padded != spec.contextPadded {
            throw ExportError.mismatch("sf.context_padded is \(padded) but the manifest's mask is \(spec.contextPadded) wide")
        }
        // The additive mask value is only in the package metadata (sf.mask_value).
        let maskValue = Float(try metadata.requireDouble("mask_value"))
        try checkShapes(prefill, spec: spec, rows: spec.chunk)
        try checkShapes(decode, spec: spec, rows: 1)
        return LanguageModel(spec: spec, maskValue: maskValue, prefillModel: prefill, decodeModel: decode)
    }

    private static func loadFunction(_ compiled: URL, _ function: String, _ units: ComputeUnitName) async throws -> MLModel {
        let configuration = MLModelConfiguration()
        configuration.functionName = function
        configuration.computeUnits = units.units
        do {
            return try await MLModel.load(contentsOf: compiled, configuration: configuration)
        } catch {
            throw ModelError.load("cannot load function \(function) of the language model on \(units.rawValue): \(error.localizedDescription)")
        }
    }

    private static func checkShapes(_ model: MLModel, spec: Spec, rows: Int) throws {
        let inputs = model.modelDescription.inputDescriptionsByName
        let expected = [spec.embedsName: [1, rows, spec.hiddenSize], spec.positionsName: [rows],
                        spec.maskName: [1, 1, rows, spec.contextPadded]]
        for (name, shape) in expected {
            guard let declared = inputs[name]?.multiArrayConstraint?.shape.map({ $0.intValue }) else {
                throw ModelError.shape("the language model function has no input \(name)")
            }
            if declared != shape {
                throw ModelError.shape("input \(name) is \(declared) in the model but \(shape) in the manifest")
            }
        }
        if model.modelDescription.stateDescriptionsByName.isEmpty {
            throw ModelError.load("the language model declares no state (a KV cache); it needs an iOS 18 stateful export")
        }
    }

    /// Empties the KV cache: a fresh, zeroed state.
    func reset() {
        state = prefillModel.makeState()
    }

    /// Feeds `rows` consecutive embedding rows (fp16 bits, rows x D) at slots start ..< start + rows
    /// through one function; returns the logits after the last row.
    func run(_ function: PrefillPlan.Function, rows: UnsafeBufferPointer<UInt16>, count: Int, start: Int) throws -> [Float] {
        let expectedRows = function == .prefill ? spec.chunk : 1
        guard count == expectedRows, rows.count == count * spec.hiddenSize else {
            throw ModelError.shape("\(function) takes \(expectedRows) rows of \(spec.hiddenSize), got \(count) (\(rows.count) values)")
        }
        guard start >= 0, start + count <= spec.maxContext else {
            throw ModelError.shape("positions \(start)..<\(start + count) exceed the export's \(spec.maxContext)-position KV cache; re-export with a larger --max-context")
        }
        let embeds = try MultiArrays.float16(shape: [1, count, spec.hiddenSize], bits: rows)
        let positions = try MultiArrays.int32((start..<(start + count)).map { Int32($0) })
        let mask = try MultiArrays.float16(shape: [1, 1, count, spec.contextPadded], bits: maskRows(start: start, count: count))
        let provider = try MLDictionaryFeatureProvider(dictionary: [
            spec.embedsName: MLFeatureValue(multiArray: embeds),
            spec.positionsName: MLFeatureValue(multiArray: positions),
            spec.maskName: MLFeatureValue(multiArray: mask),
        ])
        let model = function == .prefill ? prefillModel : decodeModel
        let output: MLFeatureProvider
        do {
            output = try model.prediction(from: provider, using: state)
        } catch {
            throw ModelError.prediction("\(function == .prefill ? spec.prefillFunction : spec.decodeFunction) prediction failed: \(error.localizedDescription)")
        }
        guard let logits = output.featureValue(for: spec.logitsName)?.multiArrayValue else {
            throw ModelError.prediction("the language model returned no \(spec.logitsName)")
        }
        let values = try MultiArrays.floats(logits)
        guard values.count >= spec.vocabSize else {
            throw ModelError.shape("logits have \(values.count) values, expected \(spec.vocabSize)")
        }
        return Array(values.suffix(spec.vocabSize))  // the last row's logits
    }

    /// The additive causal mask of rows at slots start ..< start + count: 0 where slot j <= the
    /// row's position, the export's mask value elsewhere (sf_mobile/runtimes/coreml.py `_mask`).
    func maskRows(start: Int, count: Int) -> [UInt16] {
        let width = spec.contextPadded
        var bits = [UInt16](repeating: maskBits, count: count * width)
        for row in 0..<count {
            let visible = min(start + row + 1, width)
            for slot in 0..<visible {
                bits[row * width + slot] = 0  // +0.0 in fp16
            }
        }
        return bits
    }

    /// A whole prompt (fp16 bits, length x D) from slot 0, with the chunk rule of `PrefillPlan`;
    /// returns the logits after the last row. Call `reset()` first for a new sequence.
    func prefill(_ embeddings: [UInt16], length: Int) throws -> [Float] {
        let hidden = spec.hiddenSize
        guard embeddings.count == length * hidden, length > 0 else {
            throw ModelError.shape("the prompt has \(embeddings.count) values for \(length) rows of \(hidden)")
        }
        var logits: [Float] = []
        try embeddings.withUnsafeBufferPointer { all in
            for step in PrefillPlan.steps(length: length, chunk: spec.chunk) {
                let slice = UnsafeBufferPointer(rebasing: all[(step.start * hidden)..<((step.start + step.rows) * hidden)])
                logits = try run(step.function, rows: slice, count: step.rows, start: step.start)
            }
        }
        return logits
    }

    /// One row (fp16 bits, D values) at `position` through decode.
    func decode(_ row: [UInt16], position: Int) throws -> [Float] {
        try row.withUnsafeBufferPointer { try run(.decode, rows: $0, count: 1, start: position) }
    }
}
