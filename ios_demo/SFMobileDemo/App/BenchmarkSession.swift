import Foundation
import SwiftUI
#if os(iOS)
import UIKit
#endif

/// Benchmark mode's state for its progress screen, and the run itself.
@MainActor
final class BenchmarkSession: ObservableObject {
    @Published private(set) var lines: [String] = []
    @Published private(set) var finished = false

    private let arguments: BenchmarkArguments?
    private let invalidReason: String?
    private let resultDirPath: String?

    init(arguments: BenchmarkArguments) {
        self.arguments = arguments
        self.invalidReason = nil
        self.resultDirPath = arguments.resultDirPath
    }

    init(invalidReason: String, resultDirPath: String?) {
        self.arguments = nil
        self.invalidReason = invalidReason
        self.resultDirPath = resultDirPath
    }

    func start() {
        #if os(iOS)
        // The device must not lock mid-run: a suspended app stops computing.
        UIApplication.shared.isIdleTimerDisabled = true
        #endif
        Task { [weak self] in
            await self?.run()
        }
    }

    private func run() async {
        let wrote: Bool
        if let arguments {
            let runner = BenchmarkRunner(arguments: arguments) { [weak self] message in
                Task { @MainActor in self?.lines.append(message) }
            }
            // The heavy work runs off the main actor; the UI only shows progress lines.
            wrote = await Task.detached(priority: .userInitiated) { await runner.run() }.value
        } else {
            let reason = invalidReason ?? "invalid arguments"
            lines.append("invalid benchmark arguments: \(reason)")
            wrote = BenchmarkRunner.reportInvalidLaunch(reason: reason, resultDirPath: resultDirPath)
        }
        finished = true
        #if os(iOS)
        UIApplication.shared.isIdleTimerDisabled = false
        #endif
        #if os(macOS)
        // protocol.py section 3: on macOS the app exits when done, status 0 whenever it wrote a
        // result (even a "failed" one). The host then reads RESULT/done.
        exit(wrote ? 0 : 1)
        #else
        // iOS: the app stays on its progress screen; the host polls RESULT/done through devicectl
        // and the next run starts with --terminate-existing.
        lines.append(wrote ? "finished: result written" : "finished: NO result could be written")
        #endif
    }
}
