import Foundation

/// What the app needs from a tokenizer. The app's own code (prompt building, streaming, tests)
/// talks to this protocol; `TokenizerLoader` adapts swift-transformers to it, so the test target
/// never links swift-transformers a second time.
protocol TextTokenizer {
    /// Ids of `text` with no special tokens added (PromptCodec's add_special_tokens=False);
    /// special tokens written in the text become their single ids.
    func encode(_ text: String) -> [Int]
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    func tokenId(_ token: String) -> Int?
}

/// Turns a growing list of generated ids into text deltas for streaming.
///
/// Byte-level BPE tokens can split a UTF-8 character (an emoji is 4 bytes, often 2-4 tokens):
/// decoding all ids each step and holding back a trailing U+FFFD keeps half characters off the
/// screen. Stop ids are dropped, as PromptCodec.decode drops them.
struct StreamingDetokenizer {
    let tokenizer: TextTokenizer
    let stopIds: Set<Int>
    private(set) var ids: [Int] = []
    private(set) var emitted = ""

    init(tokenizer: TextTokenizer, stopIds: Set<Int>) {
        self.tokenizer = tokenizer
        self.stopIds = stopIds
    }

    /// Adds one id; returns the text that became final with it ("" when none did).
    mutating func push(_ id: Int) -> String {
        if stopIds.contains(id) { return "" }
        ids.append(id)
        let text = tokenizer.decode(ids, skipSpecialTokens: true)
        if text.hasSuffix("\u{FFFD}") || !text.hasPrefix(emitted) {
            return ""
        }
        let delta = String(text.dropFirst(emitted.count))
        emitted = text
        return delta
    }

    /// Whatever was held back, at the end of generation.
    mutating func finish() -> String {
        let text = tokenizer.decode(ids, skipSpecialTokens: true)
        guard text.hasPrefix(emitted) else { return "" }
        let delta = String(text.dropFirst(emitted.count))
        emitted = text
        return delta
    }
}
