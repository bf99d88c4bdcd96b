import Foundation

/// Where the app finds export folders without a picker:
/// - bundled: subfolders of the app bundle's `BundledExports` folder (a folder reference in the
///   Xcode project: drop an `sf-export` output folder into ios_demo/SFMobileDemo/BundledExports/);
/// - Documents: folders copied into the app's Documents (Finder / Files app file sharing is on).
/// An explicit folder picked with the file importer is handled by `AppModel` (security scope).
enum ExportLibrary {
    static let bundledFolderName = "BundledExports"
    /// Benchmark runs live under Documents/sf-bench/<run-id>/export and are not offered in the UI.
    static let benchRunsFolderName = "sf-bench"

    struct Entry: Identifiable, Hashable {
        let url: URL
        let origin: String  // "bundled" or "Documents"
        var id: URL { url }
        var name: String { url.lastPathComponent }
    }

    static func entries(fileManager: FileManager = .default) -> [Entry] {
        var found: [Entry] = []
        if let bundled = Bundle.main.url(forResource: bundledFolderName, withExtension: nil) {
            found += exports(in: bundled, origin: "bundled", fileManager: fileManager)
        }
        if let documents = fileManager.urls(for: .documentDirectory, in: .userDomainMask).first {
            found += exports(in: documents, origin: "Documents", fileManager: fileManager)
        }
        return found
    }

    /// Immediate subfolders of `folder` that hold an sf_manifest.json.
    static func exports(in folder: URL, origin: String, fileManager: FileManager = .default) -> [Entry] {
        let children = (try? fileManager.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.isDirectoryKey],
                                                             options: [.skipsHiddenFiles])) ?? []
        return children
            .filter { $0.lastPathComponent != benchRunsFolderName }
            .filter { fileManager.fileExists(atPath: $0.appendingPathComponent(Manifest.fileName).path) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
            .map { Entry(url: $0, origin: origin) }
    }
}
