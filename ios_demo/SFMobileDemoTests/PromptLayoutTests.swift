import XCTest
@testable import SFMobileDemo

/// The prompt around the video against tests/vectors/prompt_layout.json: the tiny preset's
/// PromptCodec (prefix ids, N visual rows, suffix ids), tokenized by swift-transformers from
/// tests/vectors/tokenizer.json (byte for byte the tokenizer.json a tiny export writes).
///
/// If these fail while FrameSampler passes, suspect the tokenizer first: swift-transformers
/// re-implements the byte-level BPE (pre-tokenizer regex, merges) rather than running Hugging
/// Face's Rust `tokenizers`, and a difference in either shows up here as different ids.
final class PromptLayoutTests: XCTestCase {
    private struct Vectors: Decodable {
        let preset: String
        let bosId: Int?
        let eosIds: [Int]
        let visualTokens: Int
        let cases: [Case]

        enum CodingKeys: String, CodingKey {
            case preset, cases
            case bosId = "bos_id"
            case eosIds = "eos_ids"
            case visualTokens = "visual_tokens"
        }
    }

    private struct Case: Decodable {
        let question: String
        let rendered: String
        let prefixIds: [Int]
        let suffixIds: [Int]
        let rows: Int

        enum CodingKeys: String, CodingKey {
            case question, rendered, rows
            case prefixIds = "prefix_ids"
            case suffixIds = "suffix_ids"
        }
    }

    private func vectors() throws -> Vectors {
        let vectors = try VectorFiles.decode(Vectors.self, from: "prompt_layout.json")
        XCTAssertFalse(vectors.cases.isEmpty)
        return vectors
    }

    private func tokenizer() throws -> TextTokenizer {
        try TokenizerLoader.load(tokenizerJSON: VectorFiles.url("tokenizer.json"))
    }

    /// The tiny export's chat template (ManifestFixture holds a real tiny export's
    /// chat_template.json) renders every question exactly as Python's str.format did.
    func testTemplateRendersLikePython() throws {
        let template = try JSONDecoder().decode(ChatTemplateFile.self, from: Data(ManifestFixture.chatTemplateJSON.utf8))
        let vectors = try vectors()
        XCTAssertEqual(vectors.preset, "tiny")
        for c in vectors.cases {
            let builder = PromptBuilder(template: template, bosId: vectors.bosId, tokenizer: try tokenizer())
            XCTAssertEqual(try builder.render(question: c.question), c.rendered, "question \(c.question.debugDescription)")
        }
    }

    func testPrefixAndSuffixIdsMatchPython() throws {
        let template = try JSONDecoder().decode(ChatTemplateFile.self, from: Data(ManifestFixture.chatTemplateJSON.utf8))
        let vectors = try vectors()
        let builder = PromptBuilder(template: template, bosId: vectors.bosId, tokenizer: try tokenizer())
        for c in vectors.cases {
            let ids = try builder.encode(question: c.question)
            XCTAssertEqual(ids.prefix, c.prefixIds, "prefix of \(c.question.debugDescription)")
            XCTAssertEqual(ids.suffix, c.suffixIds, "suffix of \(c.question.debugDescription)")
            XCTAssertEqual(ids.rows(visualTokens: vectors.visualTokens), c.rows, "rows of \(c.question.debugDescription)")
        }
    }

    /// The split-and-encode step alone, from the rendered text the vectors give.
    func testSplittingTheRenderedPromptMatchesPython() throws {
        let vectors = try vectors()
        let tokenizer = try self.tokenizer()
        for c in vectors.cases {
            let (before, after) = try PromptBuilder.split(c.rendered, at: "<video>")
            let prefix = (vectors.bosId.map { [$0] } ?? []) + tokenizer.encode(before)
            XCTAssertEqual(prefix, c.prefixIds, c.question.debugDescription)
            XCTAssertEqual(tokenizer.encode(after), c.suffixIds, c.question.debugDescription)
        }
    }

    func testStopIdsAreTheTemplatesStopTokens() throws {
        let template = try JSONDecoder().decode(ChatTemplateFile.self, from: Data(ManifestFixture.chatTemplateJSON.utf8))
        let tokenizer = try self.tokenizer()
        XCTAssertEqual(template.stopTokens.map { tokenizer.tokenId($0) }, try vectors().eosIds.map { Optional($0) })
    }

    func testFormatFollowsPythonStrFormat() throws {
        XCTAssertEqual(try PromptBuilder.format("{{a}} {system}|{question}", ["system": "S", "question": "{system}"]), "{a} S|{system}")
        XCTAssertThrowsError(try PromptBuilder.format("{other}", ["system": "", "question": ""]))
        XCTAssertThrowsError(try PromptBuilder.format("oops }", [:]))
        XCTAssertThrowsError(try PromptBuilder.format("oops {", [:]))
    }

    func testAQuestionHoldingThePlaceholderIsRejected() throws {
        XCTAssertThrowsError(try PromptBuilder.split("a <video> b <video>", at: "<video>"))
        XCTAssertEqual(try PromptBuilder.split("a<video>b", at: "<video>").0, "a")
    }
}
