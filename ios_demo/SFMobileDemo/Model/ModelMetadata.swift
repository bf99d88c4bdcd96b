import CoreML
import Foundation

/// The `sf.*` user-defined metadata export/coreml/package.py writes into each .mlpackage: every
/// value is a string, JSON-encoded when it is not one (numbers, lists, objects).
struct ModelMetadata {
    let values: [String: String]

    init(_ model: MLModel) {
        let creator = model.modelDescription.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: String] ?? [:]
        var values: [String: String] = [:]
        for (key, value) in creator where key.hasPrefix("sf.") {
            values[String(key.dropFirst(3))] = value
        }
        self.values = values
    }

    init(values: [String: String]) {
        self.values = values
    }

    func int(_ key: String) -> Int? {
        values[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func double(_ key: String) -> Double? {
        values[key].flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    func requireInt(_ key: String) throws -> Int {
        guard let value = int(key) else {
            throw ModelError.load("the language model has no sf.\(key) metadata; re-export it with sf-export --target coreml")
        }
        return value
    }

    func requireDouble(_ key: String) throws -> Double {
        guard let value = double(key) else {
            throw ModelError.load("the language model has no sf.\(key) metadata; re-export it with sf-export --target coreml")
        }
        return value
    }
}
