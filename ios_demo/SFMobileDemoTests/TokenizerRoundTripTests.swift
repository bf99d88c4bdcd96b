import XCTest
@testable import SFMobileDemo

/// swift-transformers on the tiny export's tokenizer.json against
/// tests/vectors/tokenizer_roundtrip.json: ids = encode(text, add_special_tokens=False),
/// decoded = decode(ids, skip_special_tokens=False) in Hugging Face's `tokenizers`.
/// The texts cover spaces at both ends, newlines/tabs/CRLF, digits and punctuation, accents,
/// Greek, CJK, emoji (4-byte UTF-8) and special tokens written in the text.
final class TokenizerRoundTripTests: XCTestCase {
    private struct Vectors: Decodable {
        let tokenizer: String
        let cases: [Case]
    }

    private struct Case: Decodable {
        let text: String
        let ids: [Int]
        let decoded: String
    }

    private func load() throws -> (TextTokenizer, [Case]) {
        let vectors = try VectorFiles.decode(Vectors.self, from: "tokenizer_roundtrip.json")
        let tokenizer = try TokenizerLoader.load(tokenizerJSON: VectorFiles.url(vectors.tokenizer))
        XCTAssertFalse(vectors.cases.isEmpty)
        return (tokenizer, vectors.cases)
    }

    func testEncodeMatchesPython() throws {
        let (tokenizer, cases) = try load()
        for c in cases {
            XCTAssertEqual(tokenizer.encode(c.text), c.ids, "encode \(c.text.debugDescription)")
        }
    }

    func testDecodeMatchesPython() throws {
        let (tokenizer, cases) = try load()
        for c in cases {
            XCTAssertEqual(tokenizer.decode(c.ids, skipSpecialTokens: false), c.decoded, "decode \(c.ids)")
        }
    }

    /// Streaming never shows half a character, and ends with the whole text.
    func testStreamingDetokenizerRebuildsTheText() throws {
        let (tokenizer, cases) = try load()
        for c in cases where !c.ids.isEmpty {
            var stream = StreamingDetokenizer(tokenizer: tokenizer, stopIds: [])
            var shown = ""
            for id in c.ids {
                let delta = stream.push(id)
                XCTAssertFalse(delta.contains("\u{FFFD}"), "a partial UTF-8 character was shown for \(c.text.debugDescription)")
                shown += delta
            }
            shown += stream.finish()
            XCTAssertEqual(shown, tokenizer.decode(c.ids, skipSpecialTokens: true), c.text.debugDescription)
        }
    }
}
