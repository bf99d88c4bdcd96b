import Foundation
import XCTest

/// The shared test vectors (the repository's tests/vectors/, written by `python -m sf_mobile.vectors`).
///
/// The Xcode project adds ../tests/vectors to this test target as a folder reference, so the
/// folder is copied into the test bundle as `vectors/` and the tests run on a simulator, a Mac
/// and a device alike. Run straight from the source tree, the #filePath fallback finds it too.
enum VectorFiles {
    private final class BundleToken {}

    static func folder(filePath: String = #filePath) throws -> URL {
        if let bundled = Bundle(for: BundleToken.self).url(forResource: "vectors", withExtension: nil) {
            return bundled
        }
        // ios_demo/SFMobileDemoTests/VectorFiles.swift -> <repo>/tests/vectors
        let source = URL(fileURLWithPath: filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/vectors", isDirectory: true)
        if FileManager.default.fileExists(atPath: source.path) {
            return source
        }
        throw XCTSkip("tests/vectors not found: neither in the test bundle nor at \(source.path)")
    }

    static func url(_ name: String) throws -> URL {
        let url = try folder().appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("\(name) is missing from tests/vectors; run python -m sf_mobile.vectors")
        }
        return url
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: url(name))
    }

    /// A vector file decoded, after checking its format version.
    static func decode<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        let data = try data(name)
        let header = try JSONDecoder().decode(VersionHeader.self, from: data)
        XCTAssertEqual(header.version, 1, "\(name) has version \(header.version ?? -1); these tests read version 1")
        return try JSONDecoder().decode(T.self, from: data)
    }

    private struct VersionHeader: Decodable {
        let version: Int?
    }
}
