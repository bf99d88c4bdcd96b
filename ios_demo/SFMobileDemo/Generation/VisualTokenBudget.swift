import Foundation

/// The slow/fast split of the visual tokens, computed from the manifest's config exactly as
/// ModelConfig.visual_tokens does (sf_mobile/config.py): slow = num_slow frames pooled by
/// slow_pool on the grid x grid patch grid (linspace repeats frames when T < num_slow, so the
/// slow count never depends on T); fast = every frame pooled to fast_grid.
struct VisualTokenBudget: Equatable {
    let frames: Int
    let slowFrames: Int
    let slowTokens: Int
    let fastTokens: Int

    var total: Int { slowTokens + fastTokens }

    init(frames: Int, numSlow: Int, grid: Int, slowPool: [Int], fastGrid: [Int]) throws {
        guard frames >= 1, numSlow >= 1, slowPool.count == 2, fastGrid.count == 2,
              slowPool.allSatisfy({ $0 >= 1 }), fastGrid.allSatisfy({ $0 >= 1 }) else {
            throw ExportError.unsupported("invalid SlowFast geometry: frames \(frames), num_slow \(numSlow), slow_pool \(slowPool), fast_grid \(fastGrid)")
        }
        self.frames = frames
        self.slowFrames = numSlow
        self.slowTokens = numSlow * (grid / slowPool[0]) * (grid / slowPool[1])
        self.fastTokens = frames * fastGrid[0] * fastGrid[1]
    }

    /// The budget of an export: its frame count and its config's vision and SlowFast geometry.
    init(manifest: Manifest, frames: Int? = nil) throws {
        let config = manifest.config
        guard config.vision.patchSize > 0 else {
            throw ExportError.unsupported("vision.patch_size is \(config.vision.patchSize)")
        }
        try self.init(frames: frames ?? manifest.frameGeometry.frames, numSlow: config.slowfast.numSlow,
                      grid: config.vision.imageSize / config.vision.patchSize,
                      slowPool: config.slowfast.slowPool, fastGrid: config.slowfast.fastGrid)
    }
}
