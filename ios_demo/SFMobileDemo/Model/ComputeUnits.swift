import CoreML
import Foundation

/// The compute-unit names the manifest uses (coremltools' ComputeUnit names, written by
/// export/coreml/options.py) and their MLComputeUnits. The export's default ("auto") runs the
/// vision model and prefill on the Neural Engine and decode on the GPU, because the Neural Engine
/// often refuses a stateful decode step.
enum ComputeUnitName: String, CaseIterable, Identifiable {
    case cpuOnly = "CPU_ONLY"
    case cpuAndGPU = "CPU_AND_GPU"
    case cpuAndNeuralEngine = "CPU_AND_NE"
    case all = "ALL"

    var id: String { rawValue }

    var units: MLComputeUnits {
        switch self {
        case .cpuOnly:
            return .cpuOnly
        case .cpuAndGPU:
            return .cpuAndGPU
        case .cpuAndNeuralEngine:
            return .cpuAndNeuralEngine
        case .all:
            return .all
        }
    }

    static func parse(_ name: String?) throws -> ComputeUnitName {
        guard let name, let units = ComputeUnitName(rawValue: name) else {
            throw ExportError.unsupported("unknown compute units \(name ?? "(none)"); expected one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return units
    }
}

/// Where each model runs: from the manifest unless the user overrides all three.
struct ComputePlan: Equatable {
    let vision: ComputeUnitName
    let prefill: ComputeUnitName
    let decode: ComputeUnitName

    /// The artifact entries' `compute_units`, else `quantization.compute_units`.
    static func fromManifest(_ export: ExportFolder, prefillFunction: String, decodeFunction: String) throws -> ComputePlan {
        let fallback = export.manifest.quantization?.computeUnits ?? [:]
        let vision = export.vision.computeUnits?.name(for: "main") ?? fallback["vision"]
        let prefill = export.languageModel.computeUnits?.name(for: prefillFunction) ?? fallback["prefill"]
        let decode = export.languageModel.computeUnits?.name(for: decodeFunction) ?? fallback["decode"]
        return ComputePlan(vision: try ComputeUnitName.parse(vision), prefill: try ComputeUnitName.parse(prefill),
                           decode: try ComputeUnitName.parse(decode))
    }

    static func uniform(_ units: ComputeUnitName) -> ComputePlan {
        ComputePlan(vision: units, prefill: units, decode: units)
    }

    var summary: String {
        "vision \(vision.rawValue), prefill \(prefill.rawValue), decode \(decode.rawValue)"
    }
}
