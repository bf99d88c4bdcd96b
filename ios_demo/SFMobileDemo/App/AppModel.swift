import Foundation
import PhotosUI
import SwiftUI

/// The interactive app's state: the chosen export and its loaded pipeline, the video, the
/// question, the streamed answer and its numbers.
@MainActor
final class AppModel: ObservableObject {
    enum ComputeChoice: Hashable {
        case manifest
        case override(ComputeUnitName)

        var label: String {
            switch self {
            case .manifest:
                return "As exported"
            case .override(let units):
                return units.rawValue
            }
        }
    }

    @Published private(set) var export: ExportFolder?
    @Published private(set) var pipeline: Pipeline?
    @Published private(set) var library: [ExportLibrary.Entry] = []
    @Published private(set) var status = "Pick an export folder"
    @Published private(set) var busy = false
    @Published var computeChoice: ComputeChoice = .manifest
    @Published private(set) var videoURL: URL?
    @Published var question = "Describe what happens in the video."
    @Published var maxNewTokens = 128
    @Published private(set) var answer = ""
    @Published private(set) var stats: GenerationStats?
    @Published private(set) var prepared: PromptInfoSummary?
    @Published private(set) var timeToFirstTokenMs: Double?
    @Published var errorMessage: String?

    private var scopedFolder: URL?  // a folder from the file importer, held open for the session
    private var generation: Task<Void, Never>?
    private static let bookmarkKey = "lastExportBookmark"

    init() {
        refreshLibrary()
    }

    func refreshLibrary() {
        library = ExportLibrary.entries()
    }

    // MARK: export

    /// A folder chosen with the file importer: security-scoped outside the app's container, so
    /// access is started here and kept until another export is chosen; a bookmark brings it back
    /// on the next launch.
    func openPicked(_ url: URL) {
        releaseScope()
        if url.startAccessingSecurityScopedResource() {
            scopedFolder = url
        }
        if let bookmark = try? url.bookmarkData(options: [], includingResourceValuesForKeys: nil, relativeTo: nil) {
            UserDefaults.standard.set(bookmark, forKey: AppModel.bookmarkKey)
        }
        open(url)
    }

    func reopenLastPicked() {
        guard export == nil, let data = UserDefaults.standard.data(forKey: AppModel.bookmarkKey) else { return }
        var stale = false
        guard let url = try? URL(resolvingBookmarkData: data, options: [], relativeTo: nil, bookmarkDataIsStale: &stale) else { return }
        // A folder that has since been deleted or moved is forgotten quietly, not reported at launch.
        let scoped = url.startAccessingSecurityScopedResource()
        let present = FileManager.default.fileExists(atPath: url.appendingPathComponent(Manifest.fileName).path)
        if scoped { url.stopAccessingSecurityScopedResource() }
        guard present else {
            UserDefaults.standard.removeObject(forKey: AppModel.bookmarkKey)
            return
        }
        openPicked(url)
    }

    func open(_ url: URL) {
        do {
            let folder = try ExportFolder.open(url)
            export = folder
            pipeline = nil
            resetAnswer()
            loadPipeline()
        } catch {
            report(error)
        }
    }

    /// (Re)loads the models on the chosen compute units; compiled models are cached by sha256.
    func loadPipeline() {
        guard let export, !busy else { return }
        busy = true
        status = "Compiling and loading \(export.name)…"
        var options = Pipeline.LoadOptions()
        if case .override(let units) = computeChoice {
            options.computeOverride = units
        }
        let chosen = options
        Task {
            do {
                let loaded = try await Task.detached(priority: .userInitiated) {
                    try await Pipeline.load(export, options: chosen)
                }.value
                pipeline = loaded
                status = "Ready: \(export.manifest.preset), \(loaded.compute.summary)"
            } catch {
                report(error)
                status = "Could not load \(export.name)"
            }
            busy = false
        }
    }

    private func releaseScope() {
        scopedFolder?.stopAccessingSecurityScopedResource()
        scopedFolder = nil
    }

    // MARK: video

    func usePickedItem(_ item: PhotosPickerItem?) {
        guard let item else { return }
        status = "Importing the video…"
        Task {
            do {
                guard let movie = try await item.loadTransferable(type: PickedMovie.self) else {
                    throw VideoError.unreadable("the picked item is not a video file")
                }
                videoURL = movie.url
                status = "Video: \(movie.url.lastPathComponent)"
            } catch {
                report(error)
            }
        }
    }

    /// A video chosen with the file importer (Files app / Finder).
    func useVideoFile(_ url: URL) {
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        do {
            videoURL = try PickedMovie.copyToTemporary(url)
            status = "Video: \(url.lastPathComponent)"
        } catch {
            report(error)
        }
    }

    // MARK: generation

    var canAsk: Bool { pipeline != nil && videoURL != nil && !busy && !question.isEmpty }

    func ask() {
        guard let pipeline, let videoURL, canAsk else { return }
        resetAnswer()
        busy = true
        let stream = Generator.run(pipeline: pipeline, video: videoURL, question: question, maxNewTokens: maxNewTokens)
        generation = Task {
            do {
                for try await event in stream {
                    switch event {
                    case .stage(let text):
                        status = text
                    case .prepared(let info):
                        prepared = info
                    case .firstToken(let ms):
                        timeToFirstTokenMs = ms
                    case .text(let delta):
                        answer += delta
                    case .finished(let summary):
                        stats = summary
                        status = summary.stoppedOnEos ? "Done" : "Done (token limit)"
                    }
                }
            } catch is CancellationError {
                status = "Stopped"
            } catch {
                report(error)
            }
            busy = false
        }
    }

    func stop() {
        generation?.cancel()
    }

    private func resetAnswer() {
        answer = ""
        stats = nil
        prepared = nil
        timeToFirstTokenMs = nil
    }

    private func report(_ error: Error) {
        errorMessage = BenchmarkRunner.oneLine(error)
        status = "Error"
    }
}
