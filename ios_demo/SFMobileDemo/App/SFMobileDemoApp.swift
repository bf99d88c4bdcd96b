import SwiftUI

/// Entry point. Launched with `--sf-bench EXPORT ...` (sf-bench's iOS / macOS backends) the app
/// runs benchmark mode: no dialogs, a progress screen, results under --result-dir, and on macOS
/// it exits when done. Otherwise it is the interactive demo.
@main
struct SFMobileDemoApp: App {
    private let launch: BenchmarkArguments.Launch
    @StateObject private var model = AppModel()
    private let session: BenchmarkSession?

    init() {
        let launch = BenchmarkArguments.launch(Array(CommandLine.arguments.dropFirst()))
        self.launch = launch
        switch launch {
        case .interactive:
            session = nil
        case .benchmark(let arguments):
            // Started here, not from a view's .task: the run must not depend on a window appearing.
            let session = BenchmarkSession(arguments: arguments)
            session.start()
            self.session = session
        case .invalid(let reason, let resultDirPath):
            let session = BenchmarkSession(invalidReason: reason, resultDirPath: resultDirPath)
            session.start()
            self.session = session
        }
    }

    var body: some Scene {
        WindowGroup {
            if let session {
                BenchmarkView(session: session)
            } else {
                ContentView()
                    .environmentObject(model)
            }
        }
    }
}
