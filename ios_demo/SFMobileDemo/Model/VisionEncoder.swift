import CoreML
import Foundation

/// vision.mlpackage: frames fp16 [T, 3, S, S] holding 0...255 -> visual embeddings [1, N_vis, D]
/// (the ViT, SlowFast pooling and projector in one graph). Names and shapes come from the
/// manifest's artifact entry and are checked against the compiled model's own description.
final class VisionEncoder {
    let model: MLModel
    let inputName: String
    let outputName: String
    let inputShape: [Int]  // [T, 3, S, S]
    let outputShape: [Int]  // [1, N_vis, D]

    var frames: Int { inputShape[0] }
    var side: Int { inputShape[2] }
    var tokens: Int { outputShape[1] }
    var hiddenSize: Int { outputShape[2] }

    /// fp16 bit patterns of 0...255: every uint8 value is exact in fp16.
    private static let byteToHalf: [UInt16] = Half.fromFloat((0..<256).map { Float($0) })

    private init(model: MLModel, inputName: String, outputName: String, inputShape: [Int], outputShape: [Int]) {
        self.model = model
        self.inputName = inputName
        self.outputName = outputName
        self.inputShape = inputShape
        self.outputShape = outputShape
    }

    static func load(artifact: Artifact, compiled: URL, units: ComputeUnitName) async throws -> VisionEncoder {
        let function = artifact.functions?.first ?? "main"
        guard let inputs = artifact.inputs?[function], inputs.count == 1, let input = inputs.first,
              let outputs = artifact.outputs?[function], outputs.count == 1, let output = outputs.first else {
            throw ExportError.unsupported("the vision artifact must declare one input and one output for function \(function)")
        }
        guard let inShape = input.value.fixedShape, inShape.count == 4, inShape[1] == 3, inShape[2] == inShape[3] else {
            throw ExportError.unsupported("the vision input \(input.key) is not [T, 3, S, S]: \(input.value.shape)")
        }
        guard let outShape = output.value.fixedShape, outShape.count == 3 else {
            throw ExportError.unsupported("the vision output \(output.key) is not [1, N, D]: \(output.value.shape)")
        }
        let configuration = MLModelConfiguration()
        configuration.computeUnits = units.units
        let model: MLModel
        do {
            model = try await MLModel.load(contentsOf: compiled, configuration: configuration)
        } catch {
            throw ModelError.load("cannot load the vision model on \(units.rawValue): \(error.localizedDescription)")
        }
        if let declared = model.modelDescription.inputDescriptionsByName[input.key]?.multiArrayConstraint?.shape.map({ $0.intValue }),
           declared != inShape {
            throw ModelError.shape("the vision model takes \(input.key) \(declared) but the manifest says \(inShape)")
        }
        return VisionEncoder(model: model, inputName: input.key, outputName: output.key, inputShape: inShape, outputShape: outShape)
    }

    /// uint8 frames [T, 3, S, S] -> visual embeddings, row-major [N_vis * D] floats.
    func encode(frames pixels: [UInt8]) throws -> [Float] {
        let count = inputShape.reduce(1, *)
        guard pixels.count == count else {
            throw ModelError.shape("the vision model takes \(count) values (\(inputShape)), got \(pixels.count)")
        }
        let table = VisionEncoder.byteToHalf
        let bits = pixels.map { table[Int($0)] }
        let input = try MultiArrays.float16(shape: inputShape, bits: bits)
        let provider = try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(multiArray: input)])
        let result: MLFeatureProvider
        do {
            result = try model.prediction(from: provider)
        } catch {
            throw ModelError.prediction("vision prediction failed: \(error.localizedDescription)")
        }
        guard let array = result.featureValue(for: outputName)?.multiArrayValue else {
            throw ModelError.prediction("the vision model returned no \(outputName)")
        }
        let values = try MultiArrays.floats(array)
        guard values.count == outputShape.reduce(1, *) else {
            throw ModelError.shape("the vision model returned \(array.shape) for \(outputName), the manifest says \(outputShape)")
        }
        return values
    }

    /// The protocol's packed frames uint8 [3, T*S, S] (frame t in rows t*S ..< (t+1)*S) ->
    /// [T, 3, S, S], as sf_mobile/runtimes/coreml.py unpacks them before the vision model.
    static func unpack(_ packed: [UInt8], frames: Int, side: Int) throws -> [UInt8] {
        let plane = side * side
        guard packed.count == 3 * frames * plane else {
            throw ModelError.shape("packed frames hold \(packed.count) values, expected 3 x \(frames) x \(side) x \(side)")
        }
        var out = [UInt8](repeating: 0, count: packed.count)
        for t in 0..<frames {
            for c in 0..<3 {
                let src = (c * frames + t) * plane  // packed[c, t*S + y, x]
                let dst = (t * 3 + c) * plane  // out[t, c, y, x]
                for i in 0..<plane {
                    out[dst + i] = packed[src + i]
                }
            }
        }
        return out
    }
}
