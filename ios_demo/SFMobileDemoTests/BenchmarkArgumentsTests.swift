import XCTest
@testable import SFMobileDemo

/// The launch arguments of protocol.py section 3, as the host builds them (app_arguments).
final class BenchmarkArgumentsTests: XCTestCase {
    /// protocol.app_arguments(export, results, 3, 1, run_id, delete_export=True), in its order.
    private let hostOrder = ["--sf-bench", "Documents/sf-bench/20261123-031000-a1b2c3/export", "--repeats", "3", "--warmup", "1",
                             "--result-dir", "Documents/sf-bench/20261123-031000-a1b2c3", "--run-id", "20261123-031000-a1b2c3",
                             "--delete-export"]

    func testParsesTheHostsArguments() throws {
        let parsed = try BenchmarkArguments.parse(hostOrder)
        XCTAssertEqual(parsed, BenchmarkArguments(exportPath: "Documents/sf-bench/20261123-031000-a1b2c3/export", repeats: 3, warmup: 1,
                                                  resultDirPath: "Documents/sf-bench/20261123-031000-a1b2c3",
                                                  runId: "20261123-031000-a1b2c3", deleteExport: true))
    }

    func testAnyOrderAndForeignArguments() throws {
        let shuffled = ["-NSDocumentRevisionsDebugMode", "YES", "--delete-export", "--run-id", "r1", "--warmup", "0",
                        "--result-dir", "/tmp/res", "--repeats", "5", "--sf-bench", "/Users/me/export"]
        let parsed = try BenchmarkArguments.parse(shuffled)
        XCTAssertEqual(parsed.exportPath, "/Users/me/export")
        XCTAssertEqual(parsed.repeats, 5)
        XCTAssertEqual(parsed.warmup, 0)
        XCTAssertEqual(parsed.resultDirPath, "/tmp/res")
        XCTAssertTrue(parsed.deleteExport)
    }

    func testMacArgumentsHaveNoDeleteFlag() throws {
        let parsed = try BenchmarkArguments.parse(["--sf-bench", "/a", "--repeats", "1", "--warmup", "0", "--result-dir", "/b", "--run-id", "x"])
        XCTAssertFalse(parsed.deleteExport)
    }

    func testRejectsBadValues() {
        func rejects(_ arguments: [String], _ message: String) {
            XCTAssertThrowsError(try BenchmarkArguments.parse(arguments), message)
        }
        let base = ["--sf-bench", "/a", "--repeats", "1", "--warmup", "0", "--result-dir", "/b", "--run-id", "x"]
        rejects(base.map { $0 == "1" ? "0" : $0 }, "repeats 0")
        rejects(base.map { $0 == "0" ? "-1" : $0 }, "negative warmup")
        rejects(base.map { $0 == "x" ? "bad id" : $0 }, "space in run id")
        rejects(base.map { $0 == "x" ? ".." : $0 }, "run id ..")
        rejects(Array(base.dropLast(2)), "no run id")
        rejects(["--sf-bench", "--repeats", "1"], "missing value")
        rejects(base + ["--repeats", "2"], "repeated flag")
    }

    func testLaunchKinds() {
        XCTAssertEqual(BenchmarkArguments.launch([]), .interactive)
        XCTAssertEqual(BenchmarkArguments.launch(["-AppleLanguages", "(en)"]), .interactive)
        if case .benchmark(let parsed) = BenchmarkArguments.launch(hostOrder) {
            XCTAssertEqual(parsed.runId, "20261123-031000-a1b2c3")
        } else {
            XCTFail("the host's arguments must start benchmark mode")
        }
        if case .invalid(_, let resultDir) = BenchmarkArguments.launch(["--sf-bench", "/a", "--result-dir", "/r"]) {
            XCTAssertEqual(resultDir, "/r", "a failed result can still be written")
        } else {
            XCTFail("incomplete arguments are invalid, not interactive")
        }
    }

    func testPathsResolveAgainstTheContainerOnIOS() {
        let home = "/var/mobile/Containers/Data/Application/ABC"
        XCTAssertEqual(BenchmarkArguments.resolve("Documents/sf-bench/r1/export", home: home).path,
                       "/var/mobile/Containers/Data/Application/ABC/Documents/sf-bench/r1/export")
        XCTAssertEqual(BenchmarkArguments.resolve("/Users/me/export", home: home).path, "/Users/me/export")
    }

    func testRunIdPattern() {
        XCTAssertTrue(BenchmarkArguments.isValidRunId("20261123-031000-a1b2c3"))
        XCTAssertTrue(BenchmarkArguments.isValidRunId("a.b_c-1"))
        XCTAssertFalse(BenchmarkArguments.isValidRunId(""))
        XCTAssertFalse(BenchmarkArguments.isValidRunId("."))
        XCTAssertFalse(BenchmarkArguments.isValidRunId("a/b"))
    }
}
