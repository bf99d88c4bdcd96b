"""Checkpoint folders that must be refused, each a saved tiny checkpoint changed in one way."""

from __future__ import annotations

import builtins
import pickle
import shutil
from pathlib import Path

import torch

from checkpoint_helpers import edit_config, edit_weights
from sf_mobile.checkpoints import build_random, save_checkpoint
from sf_mobile.presets import TINY
from sf_mobile.tokenizer import build_standin_tokenizer

NORM = "model.norm.weight"  # a small float tensor every Qwen2/Llama LLM has
UNPICKLED_MARKER = "UNPICKLED"  # the pickle below creates this file beside itself if anything unpickles it


class _OpensAFile:
    """What a hostile pickle does: run a call on load. This one only creates an empty file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return builtins.open, (self.path, "w")


def _saved(ws, preset: str) -> Path:
    path = ws.inputs / "checkpoint" / f"saved-{preset}"
    if not path.exists():
        save_checkpoint(build_random(preset), path)
    return path


def _variant(edit):
    def build(ws, path: Path) -> None:
        shutil.copytree(_saved(ws, "tiny"), path)
        edit(ws, path)

    return build


def _set_weight(name: str, tensor_of):
    return lambda ws, path: edit_weights(path, lambda tensors: tensors.__setitem__(name, tensor_of(tensors[name])))


def _pickled_only(ws, path: Path) -> None:
    (path / "model.safetensors").unlink()
    (path / "pytorch_model.bin").write_bytes(pickle.dumps(_OpensAFile(path / UNPICKLED_MARKER)))


def _llava_config_of_another_vision(ws, path: Path) -> None:
    """A checkpoint's config.json as LLaVA writes it (no sf-mobile block), for a vision tower of
    another width: the weights are --size tiny's, the config is not."""
    def edit(config):
        config.pop("sf_mobile")
        config["mm_hidden_size"] = 1152  # the 1b preset's Oryx-ViT width
    edit_config(path, edit)


CHECKPOINTS = {
    "is-a-file": lambda ws, path: path.write_text("not a folder"),
    "no-config": _variant(lambda ws, path: (path / "config.json").unlink()),
    "config-not-json": _variant(lambda ws, path: (path / "config.json").write_text("{'hidden_size': 64")),
    "config-field-type": _variant(lambda ws, path: edit_config(path, lambda c: c.__setitem__("hidden_size", "64"))),
    "config-other-preset": _variant(lambda ws, path: shutil.copy(_saved(ws, "tiny-v1") / "config.json", path / "config.json")),
    "config-other-vision": _variant(_llava_config_of_another_vision),
    "rope-scaling": _variant(lambda ws, path: edit_config(path, lambda c: c.__setitem__("rope_scaling", {"rope_type": "linear", "factor": 2.0}))),
    "missing-tensor": _variant(lambda ws, path: edit_weights(path, lambda tensors: tensors.pop(NORM))),
    "unexpected-tensor": _variant(lambda ws, path: edit_weights(path, lambda t: t.__setitem__("model.extra.weight", torch.ones(4)))),
    "wrong-shape": _variant(_set_weight(NORM, lambda t: torch.ones(t.shape[0] + 1))),
    "wrong-dtype": _variant(_set_weight(NORM, lambda t: torch.ones_like(t, dtype=torch.int64))),
    "nan-weights": _variant(_set_weight(NORM, lambda t: torch.full_like(t, float("nan")))),
    "corrupt-safetensors": _variant(lambda ws, path: (path / "model.safetensors").write_bytes(b"\x08\x00" * 512)),
    "pickle-only": _variant(_pickled_only),
    "no-tokenizer": _variant(lambda ws, path: (path / "tokenizer.json").unlink()),
    "tokenizer-not-json": _variant(lambda ws, path: (path / "tokenizer.json").write_text("{\"model\": ")),
    "tokenizer-other-preset": _variant(
        lambda ws, path: shutil.copy(_saved(ws, "tiny-v1") / "tokenizer.json", path / "tokenizer.json")
    ),
    "tokenizer-bigger-vocab": _variant(
        lambda ws, path: build_standin_tokenizer(TINY.llm.vocab_size + 88, TINY.prompt.special_tokens).save(str(path / "tokenizer.json"))
    ),
}


def checkpoint(ws, name: str) -> Path:
    return ws.build("checkpoint", name, CHECKPOINTS)

