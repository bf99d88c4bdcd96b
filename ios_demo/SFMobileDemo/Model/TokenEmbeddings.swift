import Foundation

/// token_embeddings.f16: the LLM's input embedding table, raw little-endian fp16 [V, D],
/// row-major (shape and dtype from the manifest's artifact entry).
///
/// The file is memory-mapped: only the pages of the rows a prompt uses are ever read, so a
/// 151936 x 1536 table (445 MiB) costs a few KiB of resident memory per prompt.
final class TokenEmbeddings {
    let vocabSize: Int
    let hiddenSize: Int
    private let data: Data

    init(url: URL, artifact: Artifact) throws {
        guard artifact.dtype == "float16", let shape = artifact.shape, shape.count == 2 else {
            throw ExportError.unsupported("the embedding table must be float16 [V, D], the manifest says \(artifact.dtype ?? "?") \(artifact.shape ?? [])")
        }
        vocabSize = shape[0]
        hiddenSize = shape[1]
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ExportError.missingFile("cannot map \(url.lastPathComponent): \(error.localizedDescription)")
        }
        let expected = vocabSize * hiddenSize * MemoryLayout<UInt16>.size
        guard data.count == expected else {
            throw ExportError.mismatch("\(url.lastPathComponent) has \(data.count) bytes, [\(vocabSize), \(hiddenSize)] fp16 needs \(expected)")
        }
    }

    /// The rows of `ids`, concatenated: fp16 bits, ids.count x D.
    func rows(_ ids: [Int]) throws -> [UInt16] {
        var out = [UInt16](repeating: 0, count: ids.count * hiddenSize)
        try append(ids, to: &out, at: 0)
        return out
    }

    /// Writes the rows of `ids` into `buffer` from element `offset` on.
    func append(_ ids: [Int], to buffer: inout [UInt16], at offset: Int) throws {
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw ModelError.shape("token id \(bad) is outside the \(vocabSize)-row embedding table")
        }
        let hidden = hiddenSize
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            buffer.withUnsafeMutableBufferPointer { out in
                for (index, id) in ids.enumerated() {
                    let row = raw.baseAddress!.advanced(by: id * hidden * 2)
                    for column in 0..<hidden {
                        // little-endian on disk; loadUnaligned: mapped rows have no alignment promise
                        let value = row.loadUnaligned(fromByteOffset: column * 2, as: UInt16.self)
                        out[offset + index * hidden + column] = UInt16(littleEndian: value)
                    }
                }
            }
        }
    }
}
