import SwiftUI

/// Time to first token, tokens/s and the visual token count of the last answer.
struct StatsView: View {
    let stats: GenerationStats?
    let prepared: PromptInfoSummary?
    let timeToFirstTokenMs: Double?
    let budget: VisualTokenBudget?

    var body: some View {
        Group {
            if let budget {
                LabeledContent("Visual tokens", value: "\(budget.total) = \(budget.slowTokens) slow (\(budget.slowFrames) frames) + \(budget.fastTokens) fast (\(budget.frames) frames)")
            }
            if let prepared {
                LabeledContent("Frames", value: "\(prepared.frames) of a \(StatsView.seconds(prepared.videoDuration)) video")
                LabeledContent("Prompt", value: "\(prepared.promptRows) rows (\(prepared.visualTokens) visual)")
            }
            if let ttft = timeToFirstTokenMs {
                LabeledContent("Time to first token", value: StatsView.milliseconds(ttft))
            }
            if let stats {
                LabeledContent("Frame decode", value: StatsView.milliseconds(stats.frameDecodeMs))
                LabeledContent("Vision", value: StatsView.milliseconds(stats.visionMs))
                LabeledContent("Prefill", value: "\(StatsView.milliseconds(stats.prefillMs)), \(StatsView.rate(stats.prefillTokensPerSecond))")
                LabeledContent("Decode", value: "\(stats.generatedTokens) tokens, \(StatsView.rate(stats.decodeTokensPerSecond))")
            }
        }
        .font(.callout)
    }

    static func milliseconds(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.2f s", value / 1000) : String(format: "%.0f ms", value)
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.1f s", value)
    }

    static func rate(_ value: Double?) -> String {
        guard let value else { return "–" }
        return String(format: "%.1f tok/s", value)
    }
}
