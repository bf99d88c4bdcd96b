import CoreTransferable
import Foundation
import UniformTypeIdentifiers

/// A video handed over by PhotosPicker, copied into the app's temporary folder: the file the
/// picker provides is only valid during the import closure, and AVFoundation reads it later.
struct PickedMovie: Transferable {
    let url: URL

    static var transferRepresentation: some TransferRepresentation {
        FileRepresentation(contentType: .movie) { movie in
            SentTransferredFile(movie.url)
        } importing: { received in
            try PickedMovie(url: PickedMovie.copyToTemporary(received.file))
        }
    }

    /// Copies `source` to a fresh name in the temporary folder (the original name is kept for display).
    static func copyToTemporary(_ source: URL) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("picked-videos", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = folder.appendingPathComponent(UUID().uuidString, isDirectory: true)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let copy = target.appendingPathComponent(source.lastPathComponent)
        try FileManager.default.copyItem(at: source, to: copy)
        return copy
    }
}
