import Foundation

/// The parts of `sf_manifest.json` (schema 2, written by `sf-export`) that the app needs.
///
/// Decoding is deliberately partial: unknown keys are ignored, so a newer exporter that adds
/// keys still loads. Every key is spelled out in `CodingKeys` instead of using
/// `.convertFromSnakeCase`, because that strategy also rewrites dictionary keys such as the
/// special token `<|im_end|>` in `special_tokens`.
struct Manifest: Decodable {
    static let fileName = "sf_manifest.json"
    static let supportedSchemaVersion = 2

    let schemaVersion: Int
    let preset: String
    let target: String
    let backend: String?
    let status: String?
    let weights: WeightsOrigin?
    let config: ModelConfigInfo
    let quantization: Quantization?
    let artifacts: [Artifact]
    let frameGeometry: FrameGeometry
    let visualTokens: VisualTokenCounts
    let specialTokens: [String: Int]
    let bosId: Int?
    let eosIds: [Int]
    let maxContext: Int

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case preset, target, backend, status, weights, config, quantization, artifacts
        case frameGeometry = "frame_geometry"
        case visualTokens = "visual_tokens"
        case specialTokens = "special_tokens"
        case bosId = "bos_id"
        case eosIds = "eos_ids"
        case maxContext = "max_context"
    }

    /// Reads and decodes `folder/sf_manifest.json`, checking the schema version and target first
    /// (an ExecuTorch or ONNX manifest declares other shapes, which this app cannot run).
    static func read(from folder: URL) throws -> Manifest {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExportError.notAnExport("\(folder.lastPathComponent) has no \(fileName); pick a folder written by sf-export --target coreml")
        }
        let data = try Data(contentsOf: url)
        let probe = try JSONDecoder().decode(ManifestProbe.self, from: data)
        guard probe.schemaVersion == supportedSchemaVersion else {
            throw ExportError.unsupported("\(fileName) has schema_version \(probe.schemaVersion.map(String.init) ?? "none"); this app reads version \(supportedSchemaVersion): re-export with the matching sf-mobile")
        }
        guard probe.target == "coreml" else {
            throw ExportError.unsupported("the export targets \(probe.target ?? "nothing"), not coreml: export with sf-export --target coreml")
        }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw ExportError.unsupported("\(fileName) cannot be read: \(DecodingErrorText.describe(error))")
        }
    }
}

/// The two keys checked before the full decode.
private struct ManifestProbe: Decodable {
    let schemaVersion: Int?
    let target: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case target
    }
}

struct WeightsOrigin: Decodable {
    /// "random" (a preset built with seeded random weights: the answers are noise) or "checkpoint".
    let weights: String
    let tokenizer: String?
}

/// `config`: the model configuration the export was built from (sf_mobile/config.py).
struct ModelConfigInfo: Decodable {
    let name: String
    let vision: VisionInfo
    let slowfast: SlowFastInfo
    let sampling: SamplingInfo
    let prompt: PromptInfo?
}

struct VisionInfo: Decodable {
    let imageSize: Int
    let patchSize: Int
    let resize: String

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case resize
    }
}

struct SlowFastInfo: Decodable {
    let generation: String?
    let numSlow: Int
    let slowPool: [Int]
    let fastGrid: [Int]

    enum CodingKeys: String, CodingKey {
        case generation
        case numSlow = "num_slow"
        case slowPool = "slow_pool"
        case fastGrid = "fast_grid"
    }
}

struct SamplingInfo: Decodable {
    let strategy: String
    let maxFrames: Int
    let fps: Double

    enum CodingKeys: String, CodingKey {
        case strategy
        case maxFrames = "max_frames"
        case fps
    }
}

/// `config.prompt`: the same fields as chat_template.json (which the app prefers when present).
struct PromptInfo: Decodable {
    let template: String
    let system: String
    let placeholder: String
    let bosToken: String?
    let stopTokens: [String]

    enum CodingKeys: String, CodingKey {
        case template, system, placeholder
        case bosToken = "bos_token"
        case stopTokens = "stop_tokens"
    }
}

struct Quantization: Decodable {
    let llm: String?
    let prefillChunk: Int?
    let maxContext: Int?
    let computeUnits: [String: String]?

    enum CodingKeys: String, CodingKey {
        case llm
        case prefillChunk = "prefill_chunk"
        case maxContext = "max_context"
        case computeUnits = "compute_units"
    }
}

/// One entry of `artifacts`: a graph (with functions, inputs, outputs, states) or a plain file.
struct Artifact: Decodable {
    let path: String
    let sha256: String?
    let bytes: Int?
    let functions: [String]?
    /// function -> value name -> shape and dtype
    let inputs: [String: [String: TensorSpec]]?
    let outputs: [String: [String: TensorSpec]]?
    let states: [String: TensorSpec]?
    let computeUnits: ComputeUnitsField?
    /// Raw tensor files (token_embeddings.f16) carry their own dtype and shape.
    let dtype: String?
    let shape: [Int]?

    enum CodingKeys: String, CodingKey {
        case path, sha256, bytes, functions, inputs, outputs, states, dtype, shape
        case computeUnits = "compute_units"
    }
}

/// `{"shape": [...], "dtype": "float16"}`. A dimension that is not a number (an ExecuTorch
/// export writes ranges such as "1..64") decodes as nil instead of failing the whole manifest.
struct TensorSpec: Decodable {
    let shape: [Int?]
    let dtype: String

    enum CodingKeys: String, CodingKey {
        case shape, dtype
    }

    init(shape: [Int?], dtype: String) {
        self.shape = shape
        self.dtype = dtype
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dtype = try container.decode(String.self, forKey: .dtype)
        var dims = try container.nestedUnkeyedContainer(forKey: .shape)
        var shape: [Int?] = []
        while !dims.isAtEnd {
            if let value = try? dims.decode(Int.self) {
                shape.append(value)
            } else {
                _ = try? dims.decode(String.self)
                shape.append(nil)
            }
        }
        self.shape = shape
    }

    /// The shape when every dimension is fixed.
    var fixedShape: [Int]? {
        let dims = shape.compactMap { $0 }
        return dims.count == shape.count ? dims : nil
    }
}

/// The vision artifact names one compute-units string; the language model names one per function.
enum ComputeUnitsField: Decodable {
    case single(String)
    case perFunction([String: String])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let name = try? container.decode(String.self) {
            self = .single(name)
        } else {
            self = .perFunction(try container.decode([String: String].self))
        }
    }

    func name(for function: String) -> String? {
        switch self {
        case .single(let name):
            return name
        case .perFunction(let names):
            return names[function]
        }
    }
}

struct FrameGeometry: Decodable {
    let frames: Int
    let height: Int
    let width: Int
    let channels: Int
}

struct VisualTokenCounts: Decodable {
    let total: Int
    let slow: Int
    let fast: Int
}

/// A readable one-liner for a DecodingError (the default description is a wall of text).
enum DecodingErrorText {
    static func describe(_ error: Error) -> String {
        guard let decoding = error as? DecodingError else { return error.localizedDescription }
        switch decoding {
        case .keyNotFound(let key, let context):
            return "missing key \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "unexpected value at \(path(context.codingPath)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return "invalid JSON at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return error.localizedDescription
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { key in key.intValue.map { index in "[\(index)]" } ?? key.stringValue }.joined(separator: ".")
    }
}
