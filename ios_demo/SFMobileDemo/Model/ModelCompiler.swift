import CoreML
import Foundation

/// .mlpackage -> compiled .mlmodelc, optionally cached.
///
/// An export ships source packages; Core ML runs compiled models. Compiling a 1b package takes
/// seconds to a minute, so the interactive app keeps compiled models in Caches, keyed by the
/// artifact's sha256 from the manifest. Benchmark mode compiles afresh every run (`cache: nil`):
/// its timed load is what a first launch costs, the same on every run.
struct ModelCompiler {
    /// Caches/SFMobileDemo/compiled, or nil to compile into a temporary folder every time.
    let cache: URL?

    static func cached() -> ModelCompiler {
        let caches = FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask).first
        return ModelCompiler(cache: caches?.appendingPathComponent("SFMobileDemo/compiled", isDirectory: true))
    }

    static let uncached = ModelCompiler(cache: nil)

    /// The compiled model for `package`. Returns (url, temporary): temporary ones are the
    /// caller's to delete when done.
    func compile(_ package: URL, sha256: String?) async throws -> (url: URL, temporary: Bool) {
        let name = package.deletingPathExtension().lastPathComponent + ".mlmodelc"
        if let cache, let sha256 {
            let target = cache.appendingPathComponent(String(sha256.prefix(32)), isDirectory: true).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: target.path) {
                return (target, false)
            }
            let compiled = try await compileNow(package)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.moveItem(at: compiled, to: target)
            return (target, false)
        }
        return (try await compileNow(package), true)
    }

    private func compileNow(_ package: URL) async throws -> URL {
        do {
            return try await MLModel.compileModel(at: package)
        } catch {
            throw ModelError.load("Core ML cannot compile \(package.lastPathComponent): \(error.localizedDescription) (iOS 18 / macOS 15 needed for stateful, multifunction models)")
        }
    }
}
