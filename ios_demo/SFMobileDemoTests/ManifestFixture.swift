import Foundation
@testable import SFMobileDemo

/// The manifest of a real tiny export (`sf-export --target coreml`, preset tiny, random
/// weights), trimmed of keys the app does not read (host timings, parity reports, library
/// versions), plus helpers that lay it out as an export folder on disk.
enum ManifestFixture {
    static let tinyJSON = #"""
        {
          "schema_version": 2,
          "tool": {
            "name": "sf-mobile",
            "version": "0.1.0"
          },
          "preset": "tiny",
          "config": {
            "name": "tiny",
            "vision": {
              "arch": "siglip",
              "image_size": 64,
              "patch_size": 8,
              "hidden_size": 32,
              "intermediate_size": 64,
              "num_layers": 2,
              "num_heads": 2,
              "select_layer": -1,
              "hidden_act": "gelu_pytorch_tanh",
              "layer_norm_eps": 1e-06,
              "resize": "squash",
              "image_mean": [0.5, 0.5, 0.5],
              "image_std": [0.5, 0.5, 0.5]
            },
            "slowfast": {
              "generation": "1.5",
              "num_slow": 4,
              "slow_pool": [2, 2],
              "slow_pool_op": "avg",
              "fast_grid": [2, 2],
              "order": "pool_then_project"
            },
            "sampling": {
              "strategy": "fps",
              "max_frames": 8,
              "fps": 2.0
            },
            "llm": {
              "arch": "qwen2",
              "hidden_size": 64,
              "intermediate_size": 128,
              "num_layers": 2,
              "num_heads": 4,
              "num_kv_heads": 2,
              "vocab_size": 512,
              "max_position_embeddings": 2048,
              "rope_theta": 10000.0,
              "tie_word_embeddings": true
            },
            "prompt": {
              "template": "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<video>\n{question}<|im_end|>\n<|im_start|>assistant\n",
              "system": "You are a helpful assistant.",
              "placeholder": "<video>",
              "bos_token": null,
              "stop_tokens": ["<|im_end|>", "<|endoftext|>"],
              "special_tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
            },
            "schema_version": 1
          },
          "weights": {
            "weights": "random",
            "tokenizer": "stand-in",
            "path": null,
            "sha256": null,
            "seed": 0
          },
          "target": "coreml",
          "backend": "mlprogram-ios18",
          "quantization": {
            "llm": "fp16",
            "block_size": null,
            "palette_group": null,
            "vision": "fp16",
            "embedding_table": "fp16",
            "compute": "fp16",
            "compute_units": {
              "vision": "CPU_AND_NE",
              "prefill": "CPU_AND_NE",
              "decode": "CPU_AND_GPU"
            },
            "prefill_chunk": 64,
            "max_context": 1280
          },
          "artifacts": [
            {
              "path": "vision.mlpackage",
              "sha256": "a7a6f67be3edf5aab96a5117531be1ba25c220eabcaf6f30dea8e3275490e9c8",
              "bytes": 103398,
              "functions": ["main"],
              "inputs": {
                "main": {
                  "frames": {"shape": [8, 3, 64, 64], "dtype": "float16","values": "0..255"}
                }
              },
              "outputs": {
                "main": {
                  "visual_embeds": {"shape": [1, 96, 64], "dtype": "float16"}
                }
              },
              "compute_units": "CPU_AND_NE"
            },
            {
              "path": "language_model.mlpackage",
              "sha256": "ee8d680efa75409093aaf10787abfc7717a4de16c64c6908f3056ab5ca0fb9d4",
              "bytes": 418810,
              "functions": ["prefill", "decode"],
              "inputs": {
                "prefill": {
                  "inputs_embeds": {"shape": [1, 64, 64], "dtype": "float16"},
                  "position_ids": {"shape": [64], "dtype": "int32"},
                  "causal_mask": {"shape": [1, 1, 64, 1280], "dtype": "float16"}
                },
                "decode": {
                  "inputs_embeds": {"shape": [1, 1, 64], "dtype": "float16"},
                  "position_ids": {"shape": [1], "dtype": "int32"},
                  "causal_mask": {"shape": [1, 1, 1, 1280], "dtype": "float16"}
                }
              },
              "outputs": {
                "prefill": {
                  "logits": {"shape": [1, 1, 512], "dtype": "float16"}
                },
                "decode": {
                  "logits": {"shape": [1, 1, 512], "dtype": "float16"}
                }
              },
              "states": {
                "keyCache": {"shape": [2, 1, 2, 1280, 32], "dtype": "float16"},
                "valueCache": {"shape": [2, 1, 2, 1280, 32], "dtype": "float16"}
              },
              "compute_units": {
                "prefill": "CPU_AND_NE",
                "decode": "CPU_AND_GPU"
              }
            },
            {
              "path": "token_embeddings.f16",
              "sha256": "6c0c9669e86671bffa64d8142bdd90d59ca59aaf69eba77d56559fa48300eed5",
              "bytes": 65536,
              "dtype": "float16",
              "shape": [512, 64],
              "layout": "row-major, little-endian"
            },
            {
              "path": "tokenizer.json",
              "sha256": "2ad8d9658f99217fc94226b88a98cb2df6c6f0d67ba4603a674fa1dfd6375300",
              "bytes": 21257
            },
            {
              "path": "chat_template.json",
              "sha256": "c10f3f5a7c4fa28b6941b910ce2e36d2f47eaa1022a5bc6bc6e6628a64e64078",
              "bytes": 747
            }
          ],
          "frame_geometry": {
            "frames": 8,
            "height": 64,
            "width": 64,
            "channels": 3,
            "packed_shape": [3, 512, 64],
            "dtype": "uint8",
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5]
          },
          "visual_tokens": {
            "total": 96,
            "slow": 64,
            "fast": 32
          },
          "special_tokens": {
            "<|endoftext|>": 0,
            "<|im_start|>": 1,
            "<|im_end|>": 2
          },
          "bos_id": null,
          "eos_ids": [2, 0],
          "max_context": 1280,
          "status": "ok"
        }
        """#

    static let chatTemplateJSON = #"""
        {
          "template": "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<video>\n{question}<|im_end|>\n<|im_start|>assistant\n",
          "system": "You are a helpful assistant.",
          "placeholder": "<video>",
          "bos_token": null,
          "stop_tokens": ["<|im_end|>", "<|endoftext|>"],
          "usage": "format(system=..., question=...), then split at the placeholder"
        }
        """#

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(tinyJSON.utf8))
    }

    /// A temporary export folder: the manifest, chat_template.json and empty stand-ins for the
    /// artifacts (ExportFolder.open checks that they exist; nothing here loads them).
    static func folder(manifestJSON: String = tinyJSON) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sf-fixture-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(manifestJSON.utf8).write(to: folder.appendingPathComponent("sf_manifest.json"))
        try Data(chatTemplateJSON.utf8).write(to: folder.appendingPathComponent("chat_template.json"))
        for package in ["vision.mlpackage", "language_model.mlpackage"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(package), withIntermediateDirectories: true)
        }
        try Data().write(to: folder.appendingPathComponent("token_embeddings.f16"))
        return folder
    }
}
