import Foundation

enum PromptError: Error, LocalizedError, Equatable {
    case template(String)
    case placeholder(String)

    var errorDescription: String? {
        switch self {
        case .template(let text), .placeholder(let text):
            return text
        }
    }
}

/// The prompt around the video, as sf_mobile/tokenizer.py's PromptCodec builds it:
/// render the template with `str.format(system=..., question=...)`, split the text at the
/// placeholder, encode each side with no special tokens added, put the BOS id first when the
/// export has one. The model then sees prefix ids, the N visual embeddings, suffix ids.
struct PromptBuilder {
    let template: ChatTemplateFile
    let bosId: Int?
    let tokenizer: TextTokenizer

    struct Ids: Equatable {
        let prefix: [Int]
        let suffix: [Int]

        func rows(visualTokens: Int) -> Int { prefix.count + visualTokens + suffix.count }
    }

    func render(question: String) throws -> String {
        try PromptBuilder.format(template.template, ["system": template.system, "question": question])
    }

    func encode(question: String) throws -> Ids {
        let (before, after) = try PromptBuilder.split(try render(question: question), at: template.placeholder)
        var prefix = tokenizer.encode(before)
        if let bosId {
            prefix.insert(bosId, at: 0)
        }
        return Ids(prefix: prefix, suffix: tokenizer.encode(after))
    }

    /// The text before and after the placeholder; Python's `before, after = text.split(p)`
    /// fails unless the placeholder occurs exactly once, and so does this.
    static func split(_ text: String, at placeholder: String) throws -> (String, String) {
        let parts = text.components(separatedBy: placeholder)
        guard parts.count == 2 else {
            throw PromptError.placeholder("the prompt holds the video placeholder \(placeholder) \(parts.count - 1) times; it must appear exactly once (do not type it in the question)")
        }
        return (parts[0], parts[1])
    }

    /// Python's `str.format` with keyword fields only: `{name}` is replaced by its value (values
    /// are inserted verbatim, never re-formatted), `{{` and `}}` are literal braces. Conversions,
    /// format specs and positional fields are errors, as unknown names are (KeyError in Python).
    static func format(_ template: String, _ values: [String: String]) throws -> String {
        var out = ""
        var index = template.startIndex
        while index < template.endIndex {
            let char = template[index]
            let next = template.index(after: index)
            if char == "{" {
                if next < template.endIndex && template[next] == "{" {
                    out.append("{")
                    index = template.index(after: next)
                    continue
                }
                guard let close = template[next...].firstIndex(of: "}") else {
                    throw PromptError.template("single '{' encountered in the chat template")
                }
                let name = String(template[next..<close])
                guard let value = values[name] else {
                    throw PromptError.template("the chat template uses the field {\(name)}; only {system} and {question} exist")
                }
                out += value
                index = template.index(after: close)
            } else if char == "}" {
                guard next < template.endIndex && template[next] == "}" else {
                    throw PromptError.template("single '}' encountered in the chat template")
                }
                out.append("}")
                index = template.index(after: next)
            } else {
                out.append(char)
                index = next
            }
        }
        return out
    }
}
