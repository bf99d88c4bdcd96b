package org.sfmobile.demo.video

import org.sfmobile.demo.export.ModelConfig

/**
 * The slow/fast split of the visual tokens for T frames: sf_mobile/config.py
 * ModelConfig.visual_tokens. The slow pathway always keeps num_slow frames (linspace repeats
 * frames when T < num_slow), each pooled by slow_pool over the patch grid; the fast pathway keeps
 * all T frames at fast_grid. The app shows the count and checks it against the manifest.
 */
data class VisualTokenBudget(val frames: Int, val slowFrames: Int, val slowTokens: Int, val fastTokens: Int) {
    val total: Int get() = slowTokens + fastTokens

    companion object {
        fun of(grid: Int, numSlow: Int, slowPool: List<Int>, fastGrid: List<Int>, frames: Int): VisualTokenBudget {
            require(frames >= 1) { "frame count is $frames; use at least one frame" }
            val slowPerFrame = (grid / slowPool[0]) * (grid / slowPool[1])
            return VisualTokenBudget(
                frames = frames,
                slowFrames = numSlow,
                slowTokens = numSlow * slowPerFrame,
                fastTokens = frames * fastGrid[0] * fastGrid[1],
            )
        }

        fun of(config: ModelConfig, frames: Int): VisualTokenBudget =
            of(config.vision.grid, config.slowfast.numSlow, config.slowfast.slowPool, config.slowfast.fastGrid, frames)
    }
}
