import Foundation

enum ExportError: Error, LocalizedError, Equatable {
    case notAnExport(String)
    case unsupported(String)
    case missingFile(String)
    case mismatch(String)

    var errorDescription: String? {
        switch self {
        case .notAnExport(let text), .unsupported(let text), .missingFile(let text), .mismatch(let text):
            return text
        }
    }
}

/// An `sf-export --target coreml` folder: the manifest, the chat template and where each
/// artifact lives. Artifacts are found by what the manifest says they are (a graph with states
/// is the language model, a graph without is the vision model, a 2-D raw tensor is the
/// embedding table), never by file name.
struct ExportFolder {
    let url: URL
    let manifest: Manifest
    let chatTemplate: ChatTemplateFile
    let vision: Artifact
    let languageModel: Artifact
    let embeddingTable: Artifact

    static func open(_ url: URL) throws -> ExportFolder {
        let manifest = try Manifest.read(from: url)
        let template = try ChatTemplateFile.read(from: url, manifest: manifest)
        let graphs = manifest.artifacts.filter { $0.inputs != nil && $0.outputs != nil }
        guard let lm = graphs.first(where: { !($0.states ?? [:]).isEmpty }) else {
            throw ExportError.notAnExport("the manifest lists no stateful language model")
        }
        guard let vision = graphs.first(where: { ($0.states ?? [:]).isEmpty }) else {
            throw ExportError.notAnExport("the manifest lists no vision model")
        }
        guard let table = manifest.artifacts.first(where: { $0.inputs == nil && $0.dtype != nil && ($0.shape?.count ?? 0) == 2 }) else {
            throw ExportError.notAnExport("the manifest lists no token embedding table")
        }
        let folder = ExportFolder(url: url, manifest: manifest, chatTemplate: template, vision: vision, languageModel: lm, embeddingTable: table)
        for artifact in [vision, lm, table] {
            let path = folder.location(of: artifact).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw ExportError.missingFile("\(artifact.path) is listed in \(Manifest.fileName) but missing from the folder; copy the whole export")
            }
        }
        return folder
    }

    var name: String { url.lastPathComponent }

    func location(of artifact: Artifact) -> URL {
        // Manifest paths are relative POSIX paths (sf_mobile/manifest.py rejects absolute ones).
        artifact.path.split(separator: "/").reduce(url) { $0.appendingPathComponent(String($1)) }
    }

    /// True when the export was built with random weights: answers are noise, timings are real.
    var hasRandomWeights: Bool { manifest.weights?.weights == "random" }

    var parityFolder: URL { url.appendingPathComponent("parity") }
}
