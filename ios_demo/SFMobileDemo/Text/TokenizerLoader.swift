import Foundation
import Hub
import Tokenizers

/// The export's tokenizer.json through swift-transformers' `Tokenizers` (Swift Package Manager).
///
/// Why not `AutoTokenizer.from(modelFolder:)` on the export folder: that call needs a
/// tokenizer_config.json (or a config.json naming a model type), which an sf-export folder does
/// not have, and it would read the folder's chat_template.json as a Hugging Face one, which it is
/// not. So the tokenizer.json is parsed with the package's own parser (`HubApi.configuration`)
/// and paired with a minimal tokenizer config:
/// - `tokenizer_class`: PreTrainedTokenizer, i.e. the tokenizer.json's own model (BPE for every
///   mobile preset: Qwen2.5's byte-level BPE, or the stand-in BPE of random-weight exports);
/// - `clean_up_tokenization_spaces: false`: Python's `tokenizers.Tokenizer.decode`, which the
///   export's parity and the shared test vectors use, does no clean-up; swift-transformers'
///   default (true) would turn "a ." into "a.".
struct TokenizerLoader {
    static let fileName = "tokenizer.json"

    static func load(folder: URL) throws -> TextTokenizer {
        try load(tokenizerJSON: folder.appendingPathComponent(fileName))
    }

    static func load(tokenizerJSON url: URL) throws -> TextTokenizer {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExportError.missingFile("no \(url.lastPathComponent) in the export folder")
        }
        let data: Config
        do {
            data = try HubApi.shared.configuration(fileURL: url)
        } catch {
            throw ExportError.unsupported("\(url.lastPathComponent) cannot be parsed: \(error.localizedDescription)")
        }
        let modelType = data["model"]["type"].string() ?? "BPE"
        let settings: [String: Config] = [
            "tokenizer_class": Config(tokenizerClass(forModelType: modelType)),
            "clean_up_tokenization_spaces": Config(false),
        ]
        do {
            let tokenizer = try AutoTokenizer.from(tokenizerConfig: Config(settings), tokenizerData: data, strict: false)
            return SwiftTransformersTokenizer(tokenizer: tokenizer)
        } catch {
            throw ExportError.unsupported("swift-transformers cannot build a tokenizer from \(url.lastPathComponent): \(error.localizedDescription)")
        }
    }

    /// swift-transformers picks the tokenizing model from tokenizer_class: PreTrainedTokenizer
    /// maps to its BPE model; the others cover tokenizer.json files of other model types.
    static func tokenizerClass(forModelType type: String) -> String {
        switch type {
        case "WordPiece":
            return "BertTokenizer"
        case "Unigram":
            return "T5Tokenizer"
        default:
            return "PreTrainedTokenizer"
        }
    }
}

/// `TextTokenizer` over a swift-transformers `Tokenizer`.
struct SwiftTransformersTokenizer: TextTokenizer {
    let tokenizer: Tokenizer

    func encode(_ text: String) -> [Int] {
        // An empty string is no ids, as in Python (and skips the pre-tokenizer entirely).
        text.isEmpty ? [] : tokenizer.encode(text: text, addSpecialTokens: false)
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        ids.isEmpty ? "" : tokenizer.decode(tokens: ids, skipSpecialTokens: skipSpecialTokens)
    }

    func tokenId(_ token: String) -> Int? {
        tokenizer.convertTokenToId(token)
    }
}
