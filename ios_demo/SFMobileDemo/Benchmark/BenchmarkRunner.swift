import Foundation
import os

/// Benchmark mode, protocol "sf-bench-device/1" (sf_mobile/bench/devices/protocol.py, section 4):
///   a. read the manifest and parity.json, load the graphs (timed);
///   b. parity: the bundle through the app's own pipeline, compared with the reference;
///   c. latency: W warm-up repeats, then N timed ones;
///   d. peak memory (phys_footprint high-water mark);
///   e. write RESULT/sf_bench_result.json (temporary name, then rename), on iOS with
///      --delete-export remove EXPORT, then create RESULT/done LAST.
/// A run that cannot finish still writes a "failed" result with a one-line reason, then `done`.
/// No dialogs, no input; progress goes to os_log category "SfBench" and to `progress`.
final class BenchmarkRunner {
    static let logger = Logger(subsystem: "org.sfmobile.demo", category: "SfBench")

    let arguments: BenchmarkArguments
    let home: String
    private let progress: (String) -> Void

    init(arguments: BenchmarkArguments, home: String = NSHomeDirectory(), progress: @escaping (String) -> Void = { _ in }) {
        self.arguments = arguments
        self.home = home
        self.progress = progress
    }

    /// Runs the benchmark; true when a result (ok, parity_failed or failed) and `done` were written.
    func run() async -> Bool {
        let exportURL = arguments.exportURL(home: home)
        let resultDir = arguments.resultDirURL(home: home)
        say("run \(arguments.runId): \(exportURL.path) -> \(resultDir.path), \(arguments.repeats) repeats, \(arguments.warmup) warm-up")
        var pipeline: Pipeline?
        let result: BenchResult
        do {
            let measured = try await measure(exportURL: exportURL, loaded: { pipeline = $0 })
            result = measured
        } catch {
            let reason = BenchmarkRunner.oneLine(error)
            say("failed: \(reason)")
            result = BenchmarkRunner.failed(reason: reason, compute: pipeline?.compute)
        }
        pipeline?.discardCompiled()
        pipeline = nil
        return finish(result, resultDir: resultDir, exportURL: exportURL)
    }

    private func measure(exportURL: URL, loaded: (Pipeline) -> Void) async throws -> BenchResult {
        let backend = DeviceInfo.backendName
        // a. load, timed (compiling the packages included: benchmark mode never uses the cache)
        say("loading the export")
        let clock = Stopwatch()
        let export = try ExportFolder.open(exportURL)
        let bundle = try ParityBundle.read(exportFolder: exportURL)
        _ = clock.lap()
        let options = Pipeline.LoadOptions(compiler: .uncached, computeOverride: nil, loadTokenizer: false)
        let pipeline = try await Pipeline.load(export, options: options)
        let loadMs = clock.lap()
        loaded(pipeline)
        say("loaded in \(Int(loadMs)) ms on \(pipeline.compute.summary)")
        guard bundle.frameCount == pipeline.vision.frames else {
            throw ExportError.mismatch("the parity bundle has \(bundle.frameCount) frames, the vision model takes \(pipeline.vision.frames)")
        }
        let driver = PipelineDriver(pipeline: pipeline, bundle: bundle)

        // b. parity
        say("parity run")
        let outputs = try driver.parityOutputs()
        let report = try ParityCheck.report(backend: backend, outputs: outputs, bundle: bundle)
        say("parity \(report.passed ? "passed" : "FAILED: " + report.failed.joined(separator: ", "))")

        // c. latency
        for index in 0..<arguments.warmup {
            say("warm-up \(index + 1)/\(arguments.warmup)")
            _ = try driver.timeOnce()
        }
        var runs: [RunTimes] = []
        for index in 0..<arguments.repeats {
            say("repeat \(index + 1)/\(arguments.repeats)")
            let (run, _) = try driver.timeOnce()
            runs.append(run)
        }
        let latency = LatencyStats.summarize(runs, warmup: arguments.warmup)

        // d. memory
        return BenchResult(name: backend, status: report.passed ? "ok" : "parity_failed", reason: nil,
                           device: DeviceInfo.facts(compute: pipeline.compute), parity: [report], latency: latency,
                           stats: LatencyStats.runnerStats(runs, loadMs: loadMs),
                           memory: MemoryReport(peakRssMib: MemoryFootprint.peakMiB(), method: MemoryFootprint.method))
    }

    static func failed(reason: String, compute: ComputePlan?) -> BenchResult {
        BenchResult(name: DeviceInfo.backendName, status: "failed", reason: reason, device: DeviceInfo.facts(compute: compute),
                    parity: [], latency: nil, stats: nil,
                    memory: MemoryReport(peakRssMib: MemoryFootprint.peakMiB(), method: MemoryFootprint.method))
    }

    /// e. result (atomically), optional export removal, `done` last. False when nothing could be written.
    func finish(_ result: BenchResult, resultDir: URL, exportURL: URL) -> Bool {
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: resultDir, withIntermediateDirectories: true)
            let data: Data
            do {
                data = try result.encoded()
            } catch {
                // a NaN slipped into a measure: still report, as a failure
                data = try BenchmarkRunner.failed(reason: "the result could not be encoded: \(BenchmarkRunner.oneLine(error))", compute: nil).encoded()
            }
            let temporary = resultDir.appendingPathComponent(".\(BenchResult.fileName).\(ProcessInfo.processInfo.processIdentifier).tmp")
            let target = resultDir.appendingPathComponent(BenchResult.fileName)
            try data.write(to: temporary)
            // rename(2) replaces atomically; FileManager.moveItem refuses an existing target
            guard Darwin.rename(temporary.path, target.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path])
            }
            say("wrote \(target.path) (\(result.status))")
        } catch {
            say("cannot write the result into \(resultDir.path): \(BenchmarkRunner.oneLine(error))")
            return false
        }
        if arguments.deleteExport {
            if DeviceInfo.isMac {
                // On macOS EXPORT is the user's own folder, never a copy: it is never touched.
                say("--delete-export ignored on macOS: the export folder is the user's only copy")
            } else {
                do {
                    try manager.removeItem(at: exportURL)
                    say("deleted \(exportURL.path)")
                } catch {
                    say("could not delete \(exportURL.path): \(BenchmarkRunner.oneLine(error))")
                }
            }
        }
        let done = resultDir.appendingPathComponent(BenchResult.doneMarker)
        guard manager.createFile(atPath: done.path, contents: Data()) else {
            say("cannot create \(done.path)")
            return false
        }
        say("done")
        return true
    }

    /// Writes a failed result for arguments that could not be parsed, when a result dir is known.
    static func reportInvalidLaunch(reason: String, resultDirPath: String?, home: String = NSHomeDirectory()) -> Bool {
        logger.error("benchmark arguments: \(reason, privacy: .public)")
        guard let path = resultDirPath else { return false }
        let arguments = BenchmarkArguments(exportPath: "", repeats: 1, warmup: 0, resultDirPath: path, runId: "invalid", deleteExport: false)
        let runner = BenchmarkRunner(arguments: arguments, home: home)
        let dir = arguments.resultDirURL(home: home)
        return runner.finish(failed(reason: "invalid benchmark arguments: \(reason)", compute: nil), resultDir: dir, exportURL: dir)
    }

    /// The first line of an error's description, never empty.
    static func oneLine(_ error: Error) -> String {
        let text = (error as? LocalizedError)?.errorDescription ?? error.localizedDescription
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        return line.isEmpty ? String(describing: type(of: error)) : line
    }

    private func say(_ message: String) {
        BenchmarkRunner.logger.notice("\(message, privacy: .public)")
        progress(message)
        #if os(macOS)
        print("SfBench: \(message)")  // the host runs the macOS executable directly: stdout is its log
        fflush(stdout)
        #endif
    }
}
