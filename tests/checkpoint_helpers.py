"""Helpers that build and rewrite checkpoint folders for tests/test_checkpoints.py.

Every checkpoint is made inside the test: `save_checkpoint(build_random(...))`, then rewritten
here (renamed tensors, edited config.json, shards) with plain safetensors and json calls.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

# LLaVA (original repo) names -> transformers 4 LlavaForConditionalGeneration names.
TRANSFORMERS4_RULES = (
    ("model.vision_tower.vision_tower.vision_model.", "vision_tower.vision_model."),
    ("model.mm_projector.0.", "multi_modal_projector.linear_1."),
    ("model.mm_projector.2.", "multi_modal_projector.linear_2."),
    ("model.", "language_model.model."),
    ("lm_head.", "language_model.lm_head."),
)
# LLaVA (original repo) names -> transformers 5 LlavaForConditionalGeneration names.
TRANSFORMERS5_RULES = (
    ("model.vision_tower.vision_tower.vision_model.", "model.vision_tower.vision_model."),
    ("model.mm_projector.0.", "model.multi_modal_projector.linear_1."),
    ("model.mm_projector.2.", "model.multi_modal_projector.linear_2."),
    ("model.", "model.language_model."),
    ("lm_head.", "lm_head."),
)


def rename(name: str, rules) -> str:
    for prefix, replacement in rules:
        if name.startswith(prefix):
            return replacement + name[len(prefix) :]
    raise AssertionError(f"no rule for {name}")


def copy_checkpoint(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def write_weights(folder: Path, tensors: dict[str, torch.Tensor]) -> None:
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))


def edit_weights(folder: Path, edit) -> None:
    """Apply `edit(dict) -> None` to model.safetensors in place."""
    tensors = read_weights(folder)
    edit(tensors)
    write_weights(folder, tensors)


def read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def write_config(folder: Path, config) -> None:
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def edit_config(folder: Path, edit) -> None:
    config = read_config(folder)
    edit(config)
    write_config(folder, config)


def to_transformers_layout(folder: Path, rules=TRANSFORMERS4_RULES) -> None:
    """Rename every tensor to transformers' Llava names and nest the LLM config under
    `text_config`, dropping the `sf_mobile` block (the fallback preset then supplies vision)."""
    tensors = read_weights(folder)
    write_weights(folder, {rename(k, rules): v for k, v in tensors.items()})
    llava = read_config(folder)
    llm_keys = (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "vocab_size",
        "max_position_embeddings",
        "rms_norm_eps",
        "tie_word_embeddings",
        "rope_theta",
        "hidden_act",
    )
    text_config = {key: llava[key] for key in llm_keys}
    text_config["model_type"] = "qwen2" if llava["model_type"] == "llava_qwen" else "llama"
    config = {
        "architectures": ["LlavaForConditionalGeneration"],
        "model_type": "llava",
        "projector_hidden_act": "gelu",
        "vision_feature_select_strategy": "default",
        "text_config": text_config,
        "vision_config": {"hidden_size": llava["mm_hidden_size"]},
    }
    write_config(folder, config)


def shard(folder: Path) -> list[Path]:
    """Split model.safetensors into two shards (with an index) and remove the single file."""
    tensors = read_weights(folder)
    names = sorted(tensors)
    half = len(names) // 2
    parts = [names[:half], names[half:]]
    files = [folder / f"model-0000{i + 1}-of-00002.safetensors" for i in range(2)]
    weight_map = {}
    for part, path in zip(parts, files):
        save_file({n: tensors[n].contiguous() for n in part}, str(path))
        weight_map.update({n: path.name for n in part})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "model.safetensors").unlink()
    return files


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes): a snapshot to compare before/after."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
