import XCTest
@testable import SFMobileDemo

/// The visual token count the app shows and checks the vision model against
/// (VisualTokenBudget, from the manifest's config) against tests/vectors/visual_tokens.json
/// (ModelConfig.visual_tokens per preset and frame count).
final class VisualTokenTests: XCTestCase {
    private struct Vectors: Decodable {
        let presets: [String: [Entry]]
    }

    private struct Entry: Decodable {
        let frames: Int
        let slowFrames: Int
        let slowTokens: Int
        let fastTokens: Int
        let total: Int

        enum CodingKeys: String, CodingKey {
            case frames, total
            case slowFrames = "slow_frames"
            case slowTokens = "slow_tokens"
            case fastTokens = "fast_tokens"
        }
    }

    private func presets() throws -> [String: [Entry]] {
        let vectors = try VectorFiles.decode(Vectors.self, from: "visual_tokens.json")
        XCTAssertFalse(vectors.presets.isEmpty)
        return vectors.presets
    }

    /// The tiny preset's config, as a real tiny export's manifest carries it, gives Python's
    /// budget at every frame count of the vectors.
    func testTinyManifestConfigMatchesPython() throws {
        let manifest = try ManifestFixture.manifest()
        let entries = try XCTUnwrap(try presets()[manifest.preset], "visual_tokens.json has no \(manifest.preset) preset")
        for entry in entries {
            let budget = try VisualTokenBudget(manifest: manifest, frames: entry.frames)
            XCTAssertEqual(budget.frames, entry.frames)
            XCTAssertEqual(budget.slowFrames, entry.slowFrames, "slow frames at T=\(entry.frames)")
            XCTAssertEqual(budget.slowTokens, entry.slowTokens, "slow tokens at T=\(entry.frames)")
            XCTAssertEqual(budget.fastTokens, entry.fastTokens, "fast tokens at T=\(entry.frames)")
            XCTAssertEqual(budget.total, entry.total, "total at T=\(entry.frames)")
        }
    }

    /// The export's own frame count gives the manifest's visual_tokens block.
    func testTinyManifestBudgetMatchesItsVisualTokens() throws {
        let manifest = try ManifestFixture.manifest()
        let budget = try VisualTokenBudget(manifest: manifest)
        XCTAssertEqual(budget.total, manifest.visualTokens.total)
        XCTAssertEqual(budget.slowTokens, manifest.visualTokens.slow)
        XCTAssertEqual(budget.fastTokens, manifest.visualTokens.fast)
    }

    /// What the app's formula assumes of every preset: the slow pathway does not depend on the
    /// frame count (linspace repeats frames when T < num_slow), the fast one grows linearly with it.
    func testEveryPresetFollowsTheSlowFastShape() throws {
        for (name, entries) in try presets() {
            let first = try XCTUnwrap(entries.first, "\(name) has no entries")
            let fastPerFrame = first.fastTokens / first.frames
            XCTAssertEqual(first.fastTokens % first.frames, 0, name)
            for entry in entries {
                XCTAssertEqual(entry.slowFrames, first.slowFrames, "\(name): slow frames change with T")
                XCTAssertEqual(entry.slowTokens, first.slowTokens, "\(name): slow tokens change with T")
                XCTAssertEqual(entry.fastTokens, entry.frames * fastPerFrame, "\(name) at T=\(entry.frames)")
                XCTAssertEqual(entry.total, entry.slowTokens + entry.fastTokens, "\(name) at T=\(entry.frames)")
                let budget = try VisualTokenBudget(frames: entry.frames, numSlow: first.slowFrames,
                                                   grid: 1, slowPool: [1, 1], fastGrid: [fastPerFrame, 1])
                XCTAssertEqual(budget.fastTokens, entry.fastTokens, "\(name) at T=\(entry.frames)")
            }
        }
    }
}
