import Foundation

/// `chat_template.json` as `sf-export` writes it (export/common.py `write_prompt_files`):
/// a Python `str.format` template with `{system}` and `{question}`, the system text, and the
/// placeholder where the video's embeddings go.
///
/// This is the project's own format, not a Hugging Face Jinja chat template, which is why the
/// prompt is built by `PromptBuilder` and not by swift-transformers' `applyChatTemplate`.
struct ChatTemplateFile: Decodable, Equatable {
    static let fileName = "chat_template.json"

    let template: String
    let system: String
    let placeholder: String
    let bosToken: String?
    let stopTokens: [String]

    enum CodingKeys: String, CodingKey {
        case template, system, placeholder
        case bosToken = "bos_token"
        case stopTokens = "stop_tokens"
    }

    init(template: String, system: String, placeholder: String, bosToken: String?, stopTokens: [String]) {
        self.template = template
        self.system = system
        self.placeholder = placeholder
        self.bosToken = bosToken
        self.stopTokens = stopTokens
    }

    init(_ prompt: PromptInfo) {
        self.init(template: prompt.template, system: prompt.system, placeholder: prompt.placeholder,
                  bosToken: prompt.bosToken, stopTokens: prompt.stopTokens)
    }

    /// The folder's chat_template.json, else the manifest's `config.prompt` (the same fields).
    static func read(from folder: URL, manifest: Manifest) throws -> ChatTemplateFile {
        let url = folder.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                return try JSONDecoder().decode(ChatTemplateFile.self, from: Data(contentsOf: url))
            } catch {
                throw ExportError.unsupported("\(fileName) cannot be read: \(DecodingErrorText.describe(error))")
            }
        }
        if let prompt = manifest.config.prompt {
            return ChatTemplateFile(prompt)
        }
        throw ExportError.notAnExport("the export has neither \(fileName) nor config.prompt in its manifest; re-run sf-export")
    }
}
