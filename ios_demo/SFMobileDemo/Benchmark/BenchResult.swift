import Foundation

/// The result file of benchmark mode: ONE backend entry of the sf-bench/1 schema
/// (protocol.py section 5, sf_mobile/reports/schema.py BACKEND). Every key is always written;
/// absent values are JSON null (custom `encode(to:)`: the synthesized one would omit them), and
/// the encoder refuses NaN and infinity, which the schema forbids.
struct BenchResult: Codable, Equatable {
    static let fileName = "sf_bench_result.json"
    static let doneMarker = "done"
    static let iosBackend = "ios-device"
    static let macBackend = "macos-app"

    var name: String
    var kind: String = "device"
    var status: String  // "ok" | "parity_failed" | "failed"
    var reason: String?
    var accuracyOnly: Bool = false
    var device: [String: JSONValue]?
    var parity: [ParityReport]
    var latency: LatencySummary?
    var stats: [String: JSONValue]?
    var memory: MemoryReport
    var roofline: JSONValue?  // the host fills it

    enum CodingKeys: String, CodingKey {
        case name, kind, status, reason
        case accuracyOnly = "accuracy_only"
        case device, parity, latency, stats, memory, roofline
    }

    init(name: String, status: String, reason: String?, device: [String: JSONValue]?, parity: [ParityReport],
         latency: LatencySummary?, stats: [String: JSONValue]?, memory: MemoryReport) {
        self.name = name
        self.status = status
        self.reason = reason
        self.device = device
        self.parity = parity
        self.latency = latency
        self.stats = stats
        self.memory = memory
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        kind = try container.decode(String.self, forKey: .kind)
        status = try container.decode(String.self, forKey: .status)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        accuracyOnly = try container.decode(Bool.self, forKey: .accuracyOnly)
        device = try container.decodeIfPresent([String: JSONValue].self, forKey: .device)
        parity = try container.decode([ParityReport].self, forKey: .parity)
        latency = try container.decodeIfPresent(LatencySummary.self, forKey: .latency)
        stats = try container.decodeIfPresent([String: JSONValue].self, forKey: .stats)
        memory = try container.decode(MemoryReport.self, forKey: .memory)
        let roof = try container.decodeIfPresent(JSONValue.self, forKey: .roofline)
        roofline = roof == .null ? nil : roof
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        try container.encode(status, forKey: .status)
        try container.encodeOrNull(reason, forKey: .reason)
        try container.encode(accuracyOnly, forKey: .accuracyOnly)
        try container.encodeOrNull(device, forKey: .device)
        try container.encode(parity, forKey: .parity)
        try container.encodeOrNull(latency, forKey: .latency)
        try container.encodeOrNull(stats, forKey: .stats)
        try container.encode(memory, forKey: .memory)
        try container.encodeOrNull(roofline, forKey: .roofline)
    }

    /// UTF-8 JSON with sorted keys; throws on NaN/infinity (the schema allows neither).
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .throw
        return try encoder.encode(self)
    }
}

/// PARITY_REPORT: sf_mobile/parity/compare.py ParityReport.to_dict.
struct ParityReport: Codable, Equatable {
    var backend: String
    var precision: String
    var against: String
    var passed: Bool
    var failed: [String]
    var components: [String: ComponentResult]
    var timings: StageTimings
}

/// One component: ComponentResult.to_dict. Measures a component does not have are null.
struct ComponentResult: Codable, Equatable {
    var component: String
    var passed: Bool
    var gated: Bool
    var relL2: Double?
    var cosine: Double?
    var maxAbs: Double?
    var top1: [Int]?
    var top1WithinNoise: [Int]?
    var greedyPrefix: [Int]?
    var failures: [String]
    var tolerance: Tolerance

    enum CodingKeys: String, CodingKey {
        case component, passed, gated
        case relL2 = "rel_l2"
        case cosine
        case maxAbs = "max_abs"
        case top1
        case top1WithinNoise = "top1_within_noise"
        case greedyPrefix = "greedy_prefix"
        case failures, tolerance
    }

    init(component: String, passed: Bool, gated: Bool, relL2: Double?, cosine: Double?, maxAbs: Double?, top1: [Int]?,
         top1WithinNoise: [Int]?, greedyPrefix: [Int]?, failures: [String], tolerance: Tolerance) {
        self.component = component
        self.passed = passed
        self.gated = gated
        self.relL2 = relL2
        self.cosine = cosine
        self.maxAbs = maxAbs
        self.top1 = top1
        self.top1WithinNoise = top1WithinNoise
        self.greedyPrefix = greedyPrefix
        self.failures = failures
        self.tolerance = tolerance
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        component = try container.decode(String.self, forKey: .component)
        passed = try container.decode(Bool.self, forKey: .passed)
        gated = try container.decode(Bool.self, forKey: .gated)
        relL2 = try container.decodeIfPresent(Double.self, forKey: .relL2)
        cosine = try container.decodeIfPresent(Double.self, forKey: .cosine)
        maxAbs = try container.decodeIfPresent(Double.self, forKey: .maxAbs)
        top1 = try container.decodeIfPresent([Int].self, forKey: .top1)
        top1WithinNoise = try container.decodeIfPresent([Int].self, forKey: .top1WithinNoise)
        greedyPrefix = try container.decodeIfPresent([Int].self, forKey: .greedyPrefix)
        failures = try container.decode([String].self, forKey: .failures)
        tolerance = try container.decode(Tolerance.self, forKey: .tolerance)
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(component, forKey: .component)
        try container.encode(passed, forKey: .passed)
        try container.encode(gated, forKey: .gated)
        try container.encodeOrNull(relL2, forKey: .relL2)
        try container.encodeOrNull(cosine, forKey: .cosine)
        try container.encodeOrNull(maxAbs, forKey: .maxAbs)
        try container.encodeOrNull(top1, forKey: .top1)
        try container.encodeOrNull(top1WithinNoise, forKey: .top1WithinNoise)
        try container.encodeOrNull(greedyPrefix, forKey: .greedyPrefix)
        try container.encode(failures, forKey: .failures)
        try container.encode(tolerance, forKey: .tolerance)
    }
}

/// The parity run's stage timings: sf_mobile/parity/driver.py StageTimings.to_dict
/// (rates are null when a stage took no time, where Python would write NaN).
struct StageTimings: Codable, Equatable {
    var visionMs: Double
    var embeddingMs: Double
    var prefillMs: Double
    var prefillTokens: Int
    var prefillTokS: Double?
    var decodeMs: Double
    var decodeTokens: Int
    var decodeTokS: Double?
    var timeToFirstTokenMs: Double

    enum CodingKeys: String, CodingKey {
        case visionMs = "vision_ms"
        case embeddingMs = "embedding_ms"
        case prefillMs = "prefill_ms"
        case prefillTokens = "prefill_tokens"
        case prefillTokS = "prefill_tok_s"
        case decodeMs = "decode_ms"
        case decodeTokens = "decode_tokens"
        case decodeTokS = "decode_tok_s"
        case timeToFirstTokenMs = "time_to_first_token_ms"
    }

    init(visionMs: Double, embeddingMs: Double, prefillMs: Double, prefillTokens: Int, decodeMs: Double, decodeTokens: Int) {
        self.visionMs = Rounding.decimals(visionMs, 3)
        self.embeddingMs = Rounding.decimals(embeddingMs, 3)
        self.prefillMs = Rounding.decimals(prefillMs, 3)
        self.prefillTokens = prefillTokens
        self.prefillTokS = prefillMs > 0 ? Rounding.decimals(Double(prefillTokens) / (prefillMs / 1000), 2) : nil
        self.decodeMs = Rounding.decimals(decodeMs, 3)
        self.decodeTokens = decodeTokens
        self.decodeTokS = decodeMs > 0 ? Rounding.decimals(Double(decodeTokens) / (decodeMs / 1000), 2) : nil
        self.timeToFirstTokenMs = Rounding.decimals(visionMs + embeddingMs + prefillMs, 3)
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        visionMs = try container.decode(Double.self, forKey: .visionMs)
        embeddingMs = try container.decode(Double.self, forKey: .embeddingMs)
        prefillMs = try container.decode(Double.self, forKey: .prefillMs)
        prefillTokens = try container.decode(Int.self, forKey: .prefillTokens)
        prefillTokS = try container.decodeIfPresent(Double.self, forKey: .prefillTokS)
        decodeMs = try container.decode(Double.self, forKey: .decodeMs)
        decodeTokens = try container.decode(Int.self, forKey: .decodeTokens)
        decodeTokS = try container.decodeIfPresent(Double.self, forKey: .decodeTokS)
        timeToFirstTokenMs = try container.decode(Double.self, forKey: .timeToFirstTokenMs)
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(visionMs, forKey: .visionMs)
        try container.encode(embeddingMs, forKey: .embeddingMs)
        try container.encode(prefillMs, forKey: .prefillMs)
        try container.encode(prefillTokens, forKey: .prefillTokens)
        try container.encodeOrNull(prefillTokS, forKey: .prefillTokS)
        try container.encode(decodeMs, forKey: .decodeMs)
        try container.encode(decodeTokens, forKey: .decodeTokens)
        try container.encodeOrNull(decodeTokS, forKey: .decodeTokS)
        try container.encode(timeToFirstTokenMs, forKey: .timeToFirstTokenMs)
    }
}

/// `latency`: warm-up count, timed repeats, and per metric its samples, median and p90.
struct LatencySummary: Codable, Equatable {
    var repeats: Int
    var warmup: Int
    var metrics: [String: LatencyMetric]
}

struct LatencyMetric: Codable, Equatable {
    var unit: String  // "ms" | "tok/s"
    var median: Double
    var p90: Double
    var samples: [Double]
}

/// `memory`: peak resident memory in MiB (null when it could not be read) and how it was read.
struct MemoryReport: Codable, Equatable {
    var peakRssMib: Double?
    var method: String

    enum CodingKeys: String, CodingKey {
        case peakRssMib = "peak_rss_mib"
        case method
    }

    init(peakRssMib: Double?, method: String) {
        self.peakRssMib = peakRssMib
        self.method = method
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        peakRssMib = try container.decodeIfPresent(Double.self, forKey: .peakRssMib)
        method = try container.decode(String.self, forKey: .method)
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeOrNull(peakRssMib, forKey: .peakRssMib)
        try container.encode(method, forKey: .method)
    }
}

/// Python's round(x, n) and f"{x:.3g}", through printf's correctly rounded decimal conversion.
enum Rounding {
    static func decimals(_ value: Double, _ places: Int) -> Double {
        guard value.isFinite else { return value }
        return Double(String(format: "%.\(places)f", value)) ?? value
    }

    /// 3 significant digits (compare.py `_sig`); nil for inf/nan, which JSON cannot hold.
    static func significant3(_ value: Double?) -> Double? {
        guard let value, value.isFinite else { return nil }
        return Double(String(format: "%.3g", value))
    }
}
