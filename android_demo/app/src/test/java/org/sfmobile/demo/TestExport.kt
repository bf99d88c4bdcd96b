package org.sfmobile.demo

import java.io.File

/** A minimal sf_manifest.json as sf-export writes it (only the keys the app reads, plus a few it ignores). */
object TestExport {
    fun manifest(target: String, backend: String, artifacts: String, frames: Int = 2, side: Int = 2, hidden: Int = 2, vocab: Int = 5): String = """
        {
          "schema_version": 2,
          "tool": {"name": "sf-mobile", "version": "0.1.0"},
          "preset": "test",
          "config": {
            "name": "test",
            "vision": {"arch": "siglip", "image_size": $side, "patch_size": 1, "hidden_size": 4, "intermediate_size": 4,
                       "num_layers": 1, "num_heads": 1, "select_layer": -1, "hidden_act": "gelu_pytorch_tanh",
                       "layer_norm_eps": 1e-06, "resize": "squash", "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
            "slowfast": {"generation": "1.5", "num_slow": 1, "slow_pool": [1, 1], "slow_pool_op": "avg", "fast_grid": [1, 1], "order": "pool_then_project"},
            "sampling": {"strategy": "fps", "max_frames": $frames, "fps": 2.0},
            "llm": {"arch": "qwen2", "hidden_size": $hidden, "intermediate_size": 4, "num_layers": 1, "num_heads": 1, "num_kv_heads": 1,
                    "vocab_size": $vocab, "max_position_embeddings": 64, "rope_theta": 10000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": true},
            "prompt": {"template": "<|im_start|>{system}<video>{question}<|im_end|>", "system": "s", "placeholder": "<video>",
                       "bos_token": null, "stop_tokens": ["<|im_end|>"], "special_tokens": ["<|im_start|>", "<|im_end|>"]},
            "source": "", "schema_version": 1
          },
          "weights": {"weights": "random", "tokenizer": "stand-in", "path": null, "sha256": null, "seed": 0},
          "target": "$target",
          "backend": "$backend",
          "quantization": {"llm": "fp32", "max_context": 32},
          "artifacts": [$artifacts],
          "frame_geometry": {"frames": $frames, "height": $side, "width": $side, "channels": 3, "packed_shape": [3, ${frames * side}, $side],
                             "dtype": "uint8", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
          "visual_tokens": {"total": 4, "slow": 2, "fast": 2},
          "special_tokens": {"<|im_start|>": 0, "<|im_end|>": 1},
          "bos_id": null,
          "eos_ids": [1],
          "max_context": 32,
          "parity": [],
          "status": "ok",
          "created": "2026-11-23T00:00:00+00:00"
        }
    """.trimIndent()

    fun write(dir: File, target: String, backend: String, artifacts: String, files: List<String>): File {
        dir.mkdirs()
        File(dir, "sf_manifest.json").writeText(manifest(target, backend, artifacts))
        for (f in files) File(dir, f).also { it.parentFile?.mkdirs() }.writeText("x")
        return dir
    }
}
