import Foundation

/// A component's limits from parity.json "tolerances" (sf_mobile/parity/tolerances.py); a null
/// limit does not apply.
struct Tolerance: Codable, Equatable {
    let maxRelL2: Double?
    let minCosine: Double?
    let minTop1: Double?
    let minGreedyPrefix: Double?
    let reason: String

    enum CodingKeys: String, CodingKey {
        case maxRelL2 = "max_rel_l2"
        case minCosine = "min_cosine"
        case minTop1 = "min_top1"
        case minGreedyPrefix = "min_greedy_prefix"
        case reason
    }

    init(maxRelL2: Double?, minCosine: Double?, minTop1: Double?, minGreedyPrefix: Double?, reason: String) {
        self.maxRelL2 = maxRelL2
        self.minCosine = minCosine
        self.minTop1 = minTop1
        self.minGreedyPrefix = minGreedyPrefix
        self.reason = reason
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxRelL2 = try container.decodeIfPresent(Double.self, forKey: .maxRelL2)
        minCosine = try container.decodeIfPresent(Double.self, forKey: .minCosine)
        minTop1 = try container.decodeIfPresent(Double.self, forKey: .minTop1)
        minGreedyPrefix = try container.decodeIfPresent(Double.self, forKey: .minGreedyPrefix)
        reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
    }

    /// Every key written, nulls included (the host reads the limits that were used).
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeOrNull(maxRelL2, forKey: .maxRelL2)
        try container.encodeOrNull(minCosine, forKey: .minCosine)
        try container.encodeOrNull(minTop1, forKey: .minTop1)
        try container.encodeOrNull(minGreedyPrefix, forKey: .minGreedyPrefix)
        try container.encode(reason, forKey: .reason)
    }
}

/// parity/parity.json (sf_mobile/parity/bundle.py, schema 1).
struct ParityDocument: Decodable {
    let schemaVersion: Int
    let question: String?
    let prefixIds: [Int]
    let suffixIds: [Int]
    let forcedTokens: [Int]
    let greedyTokens: [Int]
    let precision: String
    let tolerances: [String: Tolerance]
    let meta: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case question
        case prefixIds = "prefix_ids"
        case suffixIds = "suffix_ids"
        case forcedTokens = "forced_tokens"
        case greedyTokens = "greedy_tokens"
        case precision, tolerances, meta
    }

    /// protocol.py 4b: meta "against" when present, "float" when absent. sf-export's bundles
    /// (export/coreml/pipeline.py) record the reference as meta "reference" ("same-quantization
    /// eager" for compressed recipes) and write no "against": reading that too keeps a compressed
    /// export gated against the reference it was actually written with.
    var against: String {
        if case .string(let value)? = meta?["against"] {
            return value
        }
        if case .string(let reference)? = meta?["reference"], reference.hasPrefix("same-quantization") {
            return "same-quantization"
        }
        return "float"
    }
}

/// The whole bundle: fixed inputs and the reference outputs they must reproduce.
struct ParityBundle {
    static let folderName = "parity"
    static let supportedSchemaVersion = 1

    let document: ParityDocument
    let framesPacked: [UInt8]  // [3, T*S, S]
    let packedShape: [Int]
    let prefixIds: [Int]
    let suffixIds: [Int]
    let forcedTokens: [Int]
    let referenceVisual: [Float]
    let referenceVisualShape: [Int]
    let referencePrefillLogits: [Float]
    let referencePrefillShape: [Int]
    let referenceDecodeLogits: [Float]
    let referenceDecodeShape: [Int]
    let referenceGreedy: [Int]

    static func read(exportFolder: URL) throws -> ParityBundle {
        let folder = exportFolder.appendingPathComponent(folderName)
        let jsonURL = folder.appendingPathComponent("parity.json")
        guard FileManager.default.fileExists(atPath: jsonURL.path) else {
            throw ExportError.missingFile("the export has no parity/parity.json; re-run sf-export")
        }
        let document: ParityDocument
        do {
            document = try JSONDecoder().decode(ParityDocument.self, from: Data(contentsOf: jsonURL))
        } catch {
            throw ExportError.unsupported("parity/parity.json cannot be read: \(DecodingErrorText.describe(error))")
        }
        guard document.schemaVersion == supportedSchemaVersion else {
            throw ExportError.unsupported("parity/parity.json is schema \(document.schemaVersion); this app reads \(supportedSchemaVersion)")
        }
        let inputs = try SafetensorsFile(url: folder.appendingPathComponent("inputs.safetensors"))
        let reference = try SafetensorsFile(url: folder.appendingPathComponent("reference.safetensors"))
        let packed = try inputs.tensor("frames_packed")
        let visual = try reference.tensor("visual")
        let prefill = try reference.tensor("prefill_last_logits")
        let decode = try reference.tensor("decode_logits")
        let bundle = ParityBundle(
            document: document,
            framesPacked: try packed.bytes(), packedShape: packed.shape,
            prefixIds: try inputs.tensor("prefix_ids").ints(),
            suffixIds: try inputs.tensor("suffix_ids").ints(),
            forcedTokens: try inputs.tensor("forced_tokens").ints(),
            referenceVisual: try visual.floats(), referenceVisualShape: visual.shape,
            referencePrefillLogits: try prefill.floats(), referencePrefillShape: prefill.shape,
            referenceDecodeLogits: try decode.floats(), referenceDecodeShape: decode.shape,
            referenceGreedy: try reference.tensor("greedy_tokens").ints())
        // The JSON copy is what readers see first: it must agree with the tensors (bundle.py read_bundle).
        for (name, json, tensor) in [("prefix_ids", document.prefixIds, bundle.prefixIds),
                                     ("suffix_ids", document.suffixIds, bundle.suffixIds),
                                     ("forced_tokens", document.forcedTokens, bundle.forcedTokens)] where json != tensor {
            throw ExportError.mismatch("parity.json and inputs.safetensors disagree on \(name); re-run sf-export")
        }
        return bundle
    }

    /// Frames in the packed tensor ([3, T*S, S]).
    var frameCount: Int { packedShape.count == 3 && packedShape[2] > 0 ? packedShape[1] / packedShape[2] : 0 }
}
