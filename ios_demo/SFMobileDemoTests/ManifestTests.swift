import XCTest
@testable import SFMobileDemo

/// Manifest decoding and everything the app derives from it without a Mac's Core ML:
/// artifact roles, the language model's functions and shapes, compute units, the chat template.
final class ManifestTests: XCTestCase {
    private var folders: [URL] = []

    override func tearDownWithError() throws {
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }

    private func tinyExport() throws -> ExportFolder {
        let folder = try ManifestFixture.folder()
        folders.append(folder)
        return try ExportFolder.open(folder)
    }

    func testDecodesTheTinyExportManifest() throws {
        let manifest = try ManifestFixture.manifest()
        XCTAssertEqual(manifest.schemaVersion, 2)
        XCTAssertEqual(manifest.target, "coreml")
        XCTAssertEqual(manifest.frameGeometry.frames, 8)
        XCTAssertEqual(manifest.frameGeometry.height, 64)
        XCTAssertEqual(manifest.specialTokens["<|im_end|>"], 2, "special token names must not be key-converted")
        XCTAssertNil(manifest.bosId)
        XCTAssertEqual(manifest.eosIds, [2, 0])
        XCTAssertEqual(manifest.config.sampling.strategy, "fps")
        XCTAssertEqual(FrameSampler.Rule(manifest.config.sampling), FrameSampler.Rule(strategy: .fps, fps: 2, maxFrames: 8))
        XCTAssertEqual(FramePreprocessor.ResizeMode(rawValue: manifest.config.vision.resize), .squash)
    }

    func testFindsArtifactsByRole() throws {
        let export = try tinyExport()
        XCTAssertEqual(export.vision.path, "vision.mlpackage")
        XCTAssertEqual(export.languageModel.path, "language_model.mlpackage")
        XCTAssertEqual(export.embeddingTable.path, "token_embeddings.f16")
        XCTAssertTrue(export.hasRandomWeights)
        XCTAssertEqual(export.chatTemplate.placeholder, "<video>")
    }

    func testLanguageModelSpecComesFromTheManifest() throws {
        let spec = try LanguageModel.spec(from: try tinyExport())
        XCTAssertEqual(spec, LanguageModel.Spec(prefillFunction: "prefill", decodeFunction: "decode", embedsName: "inputs_embeds",
                                                positionsName: "position_ids", maskName: "causal_mask", logitsName: "logits",
                                                chunk: 64, hiddenSize: 64, vocabSize: 512, contextPadded: 1280, maxContext: 1280))
    }

    func testComputeUnitsComeFromTheManifest() throws {
        let plan = try ComputePlan.fromManifest(try tinyExport(), prefillFunction: "prefill", decodeFunction: "decode")
        XCTAssertEqual(plan, ComputePlan(vision: .cpuAndNeuralEngine, prefill: .cpuAndNeuralEngine, decode: .cpuAndGPU))
    }

    func testRejectsOtherTargets() throws {
        let json = ManifestFixture.tinyJSON.replacingOccurrences(of: "\"target\": \"coreml\"", with: "\"target\": \"executorch\"")
        let folder = try ManifestFixture.folder(manifestJSON: json)
        folders.append(folder)
        XCTAssertThrowsError(try ExportFolder.open(folder)) { error in
            XCTAssertTrue(BenchmarkRunner.oneLine(error).contains("executorch"))
        }
    }

    func testRejectsOtherSchemaVersions() throws {
        let json = ManifestFixture.tinyJSON.replacingOccurrences(of: "\"schema_version\": 2", with: "\"schema_version\": 3")
        let folder = try ManifestFixture.folder(manifestJSON: json)
        folders.append(folder)
        XCTAssertThrowsError(try ExportFolder.open(folder))
    }

    func testReportsAMissingArtifact() throws {
        let folder = try ManifestFixture.folder()
        folders.append(folder)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("token_embeddings.f16"))
        XCTAssertThrowsError(try ExportFolder.open(folder)) { error in
            XCTAssertTrue(BenchmarkRunner.oneLine(error).contains("token_embeddings.f16"))
        }
    }

    func testNonNumericDimensionsDecodeAsNil() throws {
        let spec = try JSONDecoder().decode(TensorSpec.self, from: Data(#"{"shape": [1, "1..64", 64], "dtype": "float32"}"#.utf8))
        XCTAssertEqual(spec.shape, [1, nil, 64])
        XCTAssertNil(spec.fixedShape)
    }

    func testChatTemplateFallsBackToTheManifestPrompt() throws {
        let folder = try ManifestFixture.folder()
        folders.append(folder)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("chat_template.json"))
        let export = try ExportFolder.open(folder)
        XCTAssertEqual(export.chatTemplate.system, "You are a helpful assistant.")
        XCTAssertEqual(export.chatTemplate.stopTokens, ["<|im_end|>", "<|endoftext|>"])
    }
}
