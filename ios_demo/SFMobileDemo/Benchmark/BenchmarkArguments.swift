import Foundation

/// The benchmark-mode launch arguments of protocol "sf-bench-device/1"
/// (sf_mobile/bench/devices/protocol.py, section 3), in any order:
///   --sf-bench PATH  --repeats N (>= 1)  --warmup W (>= 0)  --result-dir PATH  --run-id ID  [--delete-export]
/// iOS gets paths relative to the app's data container (resolved against NSHomeDirectory());
/// macOS gets absolute paths. Arguments that are not ours (Xcode adds -NSDocumentRevisionsDebugMode
/// YES and the like) are ignored; ours must each appear once, with a value where one is needed.
struct BenchmarkArguments: Equatable {
    static let folderFlag = "--sf-bench"
    static let repeatsFlag = "--repeats"
    static let warmupFlag = "--warmup"
    static let resultDirFlag = "--result-dir"
    static let runIdFlag = "--run-id"
    static let deleteExportFlag = "--delete-export"

    let exportPath: String
    let repeats: Int
    let warmup: Int
    let resultDirPath: String
    let runId: String
    let deleteExport: Bool

    enum ParseError: Error, LocalizedError, Equatable {
        case missingValue(String)
        case missing(String)
        case invalid(String)
        case repeated(String)

        var errorDescription: String? {
            switch self {
            case .missingValue(let flag):
                return "\(flag) needs a value"
            case .missing(let flag):
                return "benchmark mode needs \(flag)"
            case .invalid(let text):
                return text
            case .repeated(let flag):
                return "\(flag) is given more than once"
            }
        }
    }

    /// What the process was launched for.
    enum Launch: Equatable {
        case interactive
        case benchmark(BenchmarkArguments)
        /// --sf-bench was given but the rest is unusable; `resultDirPath` when one was readable,
        /// so that a failed result can still be written there.
        case invalid(reason: String, resultDirPath: String?)
    }

    /// `arguments` without the executable (CommandLine.arguments.dropFirst()).
    static func launch(_ arguments: [String]) -> Launch {
        guard arguments.contains(folderFlag) else { return .interactive }
        do {
            return .benchmark(try parse(arguments))
        } catch {
            let resultDir = arguments.firstIndex(of: resultDirFlag).flatMap { index in
                index + 1 < arguments.count && !arguments[index + 1].hasPrefix("--") ? arguments[index + 1] : nil
            }
            return .invalid(reason: error.localizedDescription, resultDirPath: resultDir)
        }
    }

    static func parse(_ arguments: [String]) throws -> BenchmarkArguments {
        let valued: Set<String> = [folderFlag, repeatsFlag, warmupFlag, resultDirFlag, runIdFlag]
        var values: [String: String] = [:]
        var deleteExport = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if valued.contains(argument) {
                guard index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") else {
                    throw ParseError.missingValue(argument)
                }
                if values[argument] != nil { throw ParseError.repeated(argument) }
                values[argument] = arguments[index + 1]
                index += 2
                continue
            }
            if argument == deleteExportFlag {
                if deleteExport { throw ParseError.repeated(argument) }
                deleteExport = true
            }
            index += 1  // anything else is not ours
        }
        func required(_ flag: String) throws -> String {
            guard let value = values[flag], !value.isEmpty else { throw ParseError.missing(flag) }
            return value
        }
        let repeatsText = try required(repeatsFlag)
        let warmupText = try required(warmupFlag)
        guard let repeats = Int(repeatsText), repeats >= 1 else {
            throw ParseError.invalid("--repeats must be an integer >= 1, got \(repeatsText)")
        }
        guard let warmup = Int(warmupText), warmup >= 0 else {
            throw ParseError.invalid("--warmup must be an integer >= 0, got \(warmupText)")
        }
        let runId = try required(runIdFlag)
        guard isValidRunId(runId) else {
            throw ParseError.invalid("--run-id \(runId) is not made of letters, digits, '.', '_' and '-'")
        }
        return BenchmarkArguments(exportPath: try required(folderFlag), repeats: repeats, warmup: warmup,
                                  resultDirPath: try required(resultDirFlag), runId: runId, deleteExport: deleteExport)
    }

    /// protocol.RUN_ID_PATTERN: [A-Za-z0-9._-]+, and not "." or "..".
    static func isValidRunId(_ runId: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        return !runId.isEmpty && runId != "." && runId != ".." && runId.allSatisfy { allowed.contains($0) }
    }

    /// A path as the host gave it: absolute stays, relative is resolved against `home`
    /// (NSHomeDirectory(), the data container root on iOS).
    static func resolve(_ path: String, home: String = NSHomeDirectory()) -> URL {
        if path.hasPrefix("/") {
            return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        }
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(path, isDirectory: true).standardizedFileURL
    }

    func exportURL(home: String = NSHomeDirectory()) -> URL { BenchmarkArguments.resolve(exportPath, home: home) }
    func resultDirURL(home: String = NSHomeDirectory()) -> URL { BenchmarkArguments.resolve(resultDirPath, home: home) }
}
