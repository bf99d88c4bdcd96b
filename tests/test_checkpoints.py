"""Checkpoints: save/load round trips, the supported weight-name layouts, config.json overrides,
every mismatch error, and random builds. Every checkpoint is built here from a tiny preset."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path

import pytest
import torch

import sf_mobile.checkpoints as checkpoints
from sf_mobile.checkpoints import (
    LoadedModel,
    build_random,
    load_checkpoint,
    load_or_build,
    save_checkpoint,
)
from sf_mobile.errors import CheckpointError, PresetError
from sf_mobile.model.slowfast_llava import build_model
from sf_mobile.presets import PRESETS, TINY, TINY_V1, get_preset
from sf_mobile.tokenizer import build_standin_tokenizer

# pytest puts tests/ on sys.path when it is not a package, the repo root when it is.
try:
    import checkpoint_helpers as helpers
except ModuleNotFoundError:
    from tests import checkpoint_helpers as helpers

TINY_PRESETS = ("tiny", "tiny-v1")
SEED = 3


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, tuple[LoadedModel, Path]]:
    """preset -> (the random model, its saved checkpoint folder); tests copy the folder before editing it."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for preset in TINY_PRESETS:
        loaded = build_random(preset, seed=SEED)
        out[preset] = (loaded, save_checkpoint(loaded, root / preset))
    return out


@pytest.fixture
def copy_of(saved, tmp_path):
    """A fresh, editable copy of a saved checkpoint: copy_of("tiny") -> folder."""

    def make(preset: str, name: str = "ckpt") -> Path:
        return helpers.copy_checkpoint(saved[preset][1], tmp_path / name)

    return make


def assert_same_weights(expected: torch.nn.Module, actual: torch.nn.Module) -> None:
    want, got = expected.state_dict(), actual.state_dict()
    assert sorted(want) == sorted(got)
    different = [name for name in want if not torch.equal(want[name], got[name])]
    assert different == []


def one_line_error(excinfo, *needles: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def fixed_embeds(hidden: int) -> torch.Tensor:
    return torch.randn(1, 7, hidden, generator=torch.Generator().manual_seed(11))


# ---------------------------------------------------------------------------------------------
# 1. Round trip


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_round_trip_restores_weights_config_tokenizer_and_logits(saved, preset):
    original, folder = saved[preset]
    loaded = load_checkpoint(folder, fallback_preset="1b")  # the saved config must win over 1b

    assert_same_weights(original.model, loaded.model)
    assert loaded.config == original.config == get_preset(preset)
    assert loaded.config != get_preset("1b")
    assert loaded.codec.tokenizer.get_vocab() == original.codec.tokenizer.get_vocab()
    assert loaded.codec.stop_ids == original.codec.stop_ids
    assert loaded.codec.bos_id == original.codec.bos_id

    embeds = fixed_embeds(original.config.llm.hidden_size)
    with torch.no_grad():
        want, got = original.model.logits(embeds), loaded.model.logits(embeds)
    assert want.shape == (1, 7, original.config.llm.vocab_size)
    assert torch.equal(want, got)

    assert loaded.origin.weights == "checkpoint"
    assert loaded.origin.tokenizer == "checkpoint"
    assert loaded.origin.path == str(folder)
    assert loaded.origin.seed is None
    assert loaded.origin.sha256 == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert loaded.origin.to_dict()["sha256"] == loaded.origin.sha256


def test_round_trip_of_a_tied_model_keeps_lm_head_tied(saved):
    loaded = load_checkpoint(saved["tiny"][1], fallback_preset="tiny")
    llm = loaded.model.llm
    assert llm.lm_head.weight.data_ptr() == llm.get_input_embeddings().weight.data_ptr()


def test_tied_checkpoint_that_also_stores_an_identical_lm_head_loads(saved, copy_of):
    original, _ = saved["tiny"]
    folder = copy_of("tiny")
    helpers.edit_weights(folder, lambda t: t.update({"lm_head.weight": t["model.embed_tokens.weight"].clone()}))
    loaded = load_checkpoint(folder, fallback_preset="tiny")
    assert_same_weights(original.model, loaded.model)


def test_tied_checkpoint_with_a_different_lm_head_keeps_the_stored_embeddings(saved, copy_of):
    original, _ = saved["tiny"]
    folder = copy_of("tiny")
    helpers.edit_weights(folder, lambda t: t.update({"lm_head.weight": -t["model.embed_tokens.weight"]}))
    try:
        loaded = load_checkpoint(folder, fallback_preset="tiny")
    except CheckpointError:  # refusing the inconsistent file is an acceptable fix too
        return
    assert torch.equal(loaded.model.llm.get_input_embeddings().weight, original.model.llm.get_input_embeddings().weight)


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_saved_names_are_llavas(saved, preset):
    original, folder = saved[preset]
    names = set(helpers.read_weights(folder))
    vision = "model.vision_tower.vision_tower.vision_model."
    assert {"model.mm_projector.0.weight", "model.mm_projector.0.bias", "model.mm_projector.2.weight"} <= names
    assert f"{vision}embeddings.patch_embedding.weight" in names
    assert f"{vision}encoder.layers.0.self_attn.q_proj.weight" in names
    assert {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"} <= names
    # Nothing under the package's own canonical names leaks into the file.
    assert not [n for n in names if n.startswith(("llm.", "projector.", "vision_tower."))]
    assert all(n.startswith((vision, "model.mm_projector.", "model.", "lm_head.")) for n in names)

    tied = original.config.llm.tie_word_embeddings
    assert tied is (preset == "tiny")
    assert ("lm_head.weight" in names) is (not tied)
    # One stored tensor per state-dict entry, less the tied lm_head.
    assert len(names) == len(original.model.state_dict()) - int(tied)


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_saved_config_json_is_llava_style_with_the_sf_mobile_block(saved, preset):
    original, folder = saved[preset]
    config = helpers.read_config(folder)
    llm = original.config.llm
    assert config["num_hidden_layers"] == llm.num_layers
    assert config["hidden_size"] == llm.hidden_size
    assert config["vocab_size"] == llm.vocab_size
    assert config["tie_word_embeddings"] is llm.tie_word_embeddings
    assert config["mm_hidden_size"] == original.config.vision.hidden_size
    assert config["mm_vision_select_layer"] == original.config.vision.select_layer
    assert config["model_type"] == {"tiny": "llava_qwen", "tiny-v1": "llava_llama"}[preset]
    assert config["sf_mobile"] == original.config.to_dict()


# ---------------------------------------------------------------------------------------------
# 2. transformers' Llava layouts and shards


@pytest.mark.parametrize(
    "rules", [helpers.TRANSFORMERS4_RULES, helpers.TRANSFORMERS5_RULES], ids=["transformers4", "transformers5"]
)
def test_transformers_llava_layout_loads_the_same_weights(saved, copy_of, rules):
    original, _ = saved["tiny-v1"]
    folder = copy_of("tiny-v1")
    helpers.to_transformers_layout(folder, rules)
    config = helpers.read_config(folder)
    assert "sf_mobile" not in config and "text_config" in config
    names = set(helpers.read_weights(folder))
    assert not [n for n in names if n.startswith("model.mm_projector.")]

    loaded = load_checkpoint(folder, fallback_preset="tiny-v1")
    assert_same_weights(original.model, loaded.model)
    assert loaded.config == TINY_V1


def test_transformers_layout_of_a_tied_qwen_model_loads(saved, copy_of):
    original, _ = saved["tiny"]
    folder = copy_of("tiny")
    helpers.to_transformers_layout(folder)
    loaded = load_checkpoint(folder, fallback_preset="tiny")
    assert loaded.config == TINY
    assert_same_weights(original.model, loaded.model)


def test_config_json_model_type_sets_the_llm_arch(copy_of):
    """A Llama model_type over the Qwen2 tiny preset builds a Llama LLM, which has no q/k/v biases:
    the Qwen2 weights' biases then have no place."""
    folder = copy_of("tiny")

    def edit(config):
        config.pop("sf_mobile")
        config["model_type"] = "llava_llama"

    helpers.edit_config(folder, edit)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "model.layers.0.self_attn.", "_proj.bias", "no place")


def test_sharded_checkpoint_loads_and_hashes_every_shard(saved, copy_of):
    original, _ = saved["tiny-v1"]
    folder = copy_of("tiny-v1")
    shards = helpers.shard(folder)
    assert len(list(folder.glob("*.safetensors"))) == 2
    assert all(len(helpers.load_file(str(s))) > 0 for s in shards)

    loaded = load_checkpoint(folder, fallback_preset="1b")
    assert_same_weights(original.model, loaded.model)
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in sorted(shards))).hexdigest()
    assert loaded.origin.sha256 == digest


def test_tensor_in_two_shards_is_refused(copy_of):
    folder = copy_of("tiny")
    shards = helpers.shard(folder)
    first = helpers.load_file(str(shards[0]))
    name = sorted(first)[0]
    second = helpers.load_file(str(shards[1]))
    second[name] = first[name]
    helpers.save_file(second, str(shards[1]))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, name, "twice")


def test_half_precision_checkpoint_loads_as_float32(saved, copy_of):
    original, _ = saved["tiny"]
    folder = copy_of("tiny")
    helpers.edit_weights(folder, lambda t: t.update({k: v.to(torch.bfloat16) for k, v in t.items()}))
    loaded = load_checkpoint(folder, fallback_preset="tiny")
    want = {k: v.to(torch.bfloat16).to(torch.float32) for k, v in original.model.state_dict().items()}
    got = loaded.model.state_dict()
    assert all(v.dtype == torch.float32 for v in got.values())
    assert [k for k in want if not torch.equal(want[k], got[k])] == []


def test_ignored_tensors_are_skipped(saved, copy_of):
    """A SigLIP attention-pool head and saved RoPE tables are present in real checkpoints and unused."""
    original, _ = saved["tiny"]
    folder = copy_of("tiny")
    extra = {
        "model.vision_tower.vision_tower.vision_model.head.probe": torch.ones(1, 1, 32),
        "model.vision_tower.vision_tower.vision_model.head.mlp.fc1.weight": torch.ones(64, 32),
        "model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(8),
    }
    helpers.edit_weights(folder, lambda t: t.update(extra))
    loaded = load_checkpoint(folder, fallback_preset="tiny")
    assert_same_weights(original.model, loaded.model)


# ---------------------------------------------------------------------------------------------
# 3. config.json overrides the fallback preset


def test_config_json_without_sf_mobile_block_overrides_the_llm_depth(tmp_path):
    one_layer = dataclasses.replace(TINY, llm=dataclasses.replace(TINY.llm, num_layers=1))
    source = build_random("tiny", seed=SEED)
    model = build_model(one_layer, seed=SEED)
    folder = save_checkpoint(LoadedModel(model=model, codec=source.codec, origin=source.origin), tmp_path / "one")
    helpers.edit_config(folder, lambda c: c.pop("sf_mobile"))
    config = helpers.read_config(folder)
    assert config["num_hidden_layers"] == 1 and "sf_mobile" not in config

    loaded = load_checkpoint(folder, fallback_preset="tiny")
    assert loaded.config.llm.num_layers == 1
    assert len(loaded.model.llm.model.layers) == 1
    assert loaded.config == one_layer
    assert_same_weights(model, loaded.model)


def test_config_json_select_layer_and_rope_theta_override_the_preset(copy_of):
    folder = copy_of("tiny-v1")

    def edit(config):
        config.pop("sf_mobile")
        config["mm_vision_select_layer"] = -1
        config["rope_parameters"] = {"rope_type": "default", "rope_theta": 500000.0}
        config.pop("rope_theta")

    helpers.edit_config(folder, edit)
    loaded = load_checkpoint(folder, fallback_preset="tiny-v1")
    assert loaded.config.vision.select_layer == -1
    assert loaded.config.llm.rope_theta == 500000.0
    assert loaded.config.vision.hidden_act == TINY_V1.vision.hidden_act  # the rest from the preset


def test_load_checkpoint_num_frames_overrides_the_budget(saved):
    loaded = load_checkpoint(saved["tiny"][1], fallback_preset="tiny", num_frames=3)
    assert loaded.config.sampling.max_frames == 3
    assert TINY.sampling.max_frames != 3


# ---------------------------------------------------------------------------------------------
# 4. Mismatch errors: one line, naming the problem


def test_wrong_shape_names_the_stored_tensor_and_both_shapes(copy_of):
    folder = copy_of("tiny")
    name = "model.layers.1.mlp.up_proj.weight"
    helpers.edit_weights(folder, lambda t: t.update({name: torch.zeros(127, 64)}))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, repr(name), "[127, 64]", "[128, 64]")


def test_wrong_shape_in_transformers_layout_names_the_name_as_stored(copy_of):
    folder = copy_of("tiny-v1")
    helpers.to_transformers_layout(folder)
    name = "multi_modal_projector.linear_1.weight"
    helpers.edit_weights(folder, lambda t: t.update({name: torch.zeros(64, 48)}))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny-v1")
    message = one_line_error(excinfo, repr(name), "[64, 48]", "[64, 32]")
    assert "projector.0.weight'" not in message.replace(name, "")  # the canonical name is not shown


@pytest.mark.parametrize(
    ("preset", "name"),
    [("tiny", "model.norm.weight"), ("tiny", "model.mm_projector.2.bias"), ("tiny-v1", "lm_head.weight")],
)
def test_missing_tensor_is_named(copy_of, preset, name):
    folder = copy_of(preset)
    helpers.edit_weights(folder, lambda t: t.pop(name))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset=preset)
    one_line_error(excinfo, repr(name), "lacks")


def test_unexpected_tensor_is_named(copy_of):
    folder = copy_of("tiny")
    name = "model.layers.0.self_attn.extra_proj.weight"
    helpers.edit_weights(folder, lambda t: t.update({name: torch.zeros(4, 4)}))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, repr(name), "no place")


@pytest.mark.parametrize("keep_block", [True, False], ids=["sf_mobile-block", "fallback-preset"])
def test_mm_hidden_size_not_matching_the_vision_width(copy_of, keep_block):
    folder = copy_of("tiny")

    def edit(config):
        config["mm_hidden_size"] = 48
        if not keep_block:
            config.pop("sf_mobile")

    helpers.edit_config(folder, edit)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "mm_hidden_size 48", "32")


def test_config_json_missing(copy_of):
    folder = copy_of("tiny")
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "config.json", str(folder))


@pytest.mark.parametrize("text", [b'{"hidden_size": 64,', b"\xff\xfe not utf-8"], ids=["truncated", "binary"])
def test_config_json_not_json(copy_of, text):
    folder = copy_of("tiny")
    (folder / "config.json").write_bytes(text)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "config.json", "not valid JSON")


def test_config_json_that_is_not_an_object(copy_of):
    folder = copy_of("tiny")
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "config.json")


def test_config_json_llm_field_of_the_wrong_type(copy_of):
    folder = copy_of("tiny")
    helpers.edit_config(folder, lambda c: c.update(num_hidden_layers="2"))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "num_hidden_layers")


def test_config_json_invalid_llm_shape(copy_of):
    folder = copy_of("tiny")
    helpers.edit_config(folder, lambda c: c.update(num_attention_heads=3))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "config.json describes an invalid model", "num_heads 3")


def test_pickled_weights_are_refused_and_never_unpickled(copy_of, monkeypatch):
    folder = copy_of("tiny")
    torch.save(helpers.read_weights(folder), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    calls = []

    def no_unpickling(*args, **kwargs):
        calls.append(args)
        raise AssertionError("torch.load must never be called on a checkpoint")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "pytorch_model.bin", "pickled")
    assert calls == []


def test_pickled_weights_next_to_safetensors_are_ignored(saved, copy_of, monkeypatch):
    original, _ = saved["tiny"]
    folder = copy_of("tiny")
    torch.save({"junk": torch.zeros(1)}, folder / "pytorch_model.bin")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    loaded = load_checkpoint(folder, fallback_preset="tiny")
    assert_same_weights(original.model, loaded.model)


def test_no_weights_at_all(copy_of):
    folder = copy_of("tiny")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "no *.safetensors")


@pytest.mark.parametrize("size", [0, 7, 4096])
def test_corrupt_safetensors(copy_of, size):
    folder = copy_of("tiny")
    (folder / "model.safetensors").write_bytes(random.Random(size).randbytes(size))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "model.safetensors", "not a readable safetensors file")


def test_tokenizer_json_missing(copy_of):
    folder = copy_of("tiny")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "tokenizer.json", "no tokenizer")


@pytest.mark.parametrize(
    ("preset", "missing"), [("tiny", "<|im_end|>"), ("tiny-v1", "</s>")], ids=["chatml", "vicuna"]
)
def test_tokenizer_lacking_the_special_tokens(copy_of, preset, missing):
    folder = copy_of(preset)
    build_standin_tokenizer(512, ("<a>", "<b>", "<c>")).save(str(folder / "tokenizer.json"))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset=preset)
    one_line_error(excinfo, "special token", missing)


def test_tokenizer_with_more_ids_than_the_llm_vocab(copy_of):
    folder = copy_of("tiny")
    build_standin_tokenizer(600, TINY.prompt.special_tokens).save(str(folder / "tokenizer.json"))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, "600", "512")


@pytest.mark.parametrize("keep_block", [True, False], ids=["sf_mobile-block", "fallback-preset"])
def test_non_default_rope_is_refused(copy_of, keep_block):
    folder = copy_of("tiny-v1")

    def edit(config):
        config["rope_parameters"] = {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        }
        if not keep_block:
            config.pop("sf_mobile")

    helpers.edit_config(folder, edit)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny-v1")
    one_line_error(excinfo, "'llama3'", "RoPE")


def test_rope_scaling_with_rope_type_is_refused(copy_of):
    folder = copy_of("tiny-v1")
    helpers.edit_config(folder, lambda c: c.update(rope_scaling={"rope_type": "dynamic", "factor": 2.0}))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny-v1")
    one_line_error(excinfo, "'dynamic'", "RoPE")


def test_legacy_rope_scaling_type_key_is_refused(copy_of):
    folder = copy_of("tiny-v1")
    helpers.edit_config(folder, lambda c: c.update(rope_scaling={"type": "linear", "factor": 2.0}))
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny-v1")
    one_line_error(excinfo, "'linear'", "RoPE")


def test_checkpoint_folder_does_not_exist(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(folder, fallback_preset="tiny")
    one_line_error(excinfo, str(folder), "does not exist")


def test_checkpoint_path_that_is_a_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"x")
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(path, fallback_preset="tiny")
    one_line_error(excinfo, str(path))


def staging_leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def test_save_into_an_existing_folder_refuses_and_leaves_it_untouched(saved, tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    (folder / "config.json").write_text("{}")
    before = helpers.listing(folder)
    with pytest.raises(CheckpointError) as excinfo:
        save_checkpoint(saved["tiny"][0], folder)
    one_line_error(excinfo, str(folder), "already exists")
    assert helpers.listing(folder) == before
    assert staging_leftovers(tmp_path, "existing") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_save_into_an_existing_empty_folder_refuses(saved, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(CheckpointError):
        save_checkpoint(saved["tiny"][0], folder)
    assert list(folder.iterdir()) == []


def test_failing_weight_write_leaves_no_partial_folder(saved, tmp_path, monkeypatch):
    import safetensors.torch

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    target = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(saved["tiny"][0], target)
    assert not target.exists()
    assert staging_leftovers(tmp_path, "out") == []
    assert list(tmp_path.iterdir()) == []


def test_failure_after_the_weights_are_written_leaves_no_partial_folder(saved, tmp_path, monkeypatch):
    """config.json is written after model.safetensors: the staged weights must go too."""
    written = []

    def broken_config(config):
        written.extend(p.name for p in tmp_path.rglob("*.safetensors"))
        raise RuntimeError("config failed")

    monkeypatch.setattr(checkpoints, "llava_config_json", broken_config)
    target = tmp_path / "nested" / "out"
    with pytest.raises(RuntimeError, match="config failed"):
        save_checkpoint(saved["tiny"][0], target)
    assert written == ["model.safetensors"]  # the failure really came after the weights were staged
    assert not target.exists()
    assert staging_leftovers(target.parent, "out") == []


def test_saved_folder_has_ordinary_permissions(saved, tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    target = save_checkpoint(saved["tiny"][0], tmp_path / "perm")
    (tmp_path / "plain").mkdir()
    assert oct(target.stat().st_mode & 0o777) == oct((tmp_path / "plain").stat().st_mode & 0o777) == oct(0o777 & ~umask)


def test_save_creates_missing_parent_folders(saved, tmp_path):
    target = tmp_path / "a" / "b" / "ckpt"
    assert save_checkpoint(saved["tiny"][0], target) == target
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert staging_leftovers(target.parent, "ckpt") == []


# ---------------------------------------------------------------------------------------------
# 5. build_random and load_or_build


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_build_random_is_deterministic_per_seed(preset):
    first, again, other = (build_random(preset, seed=s) for s in (SEED, SEED, SEED + 1))
    assert_same_weights(first.model, again.model)
    params, other_params = dict(first.model.named_parameters()), dict(other.model.named_parameters())
    same = [name for name in params if torch.equal(params[name], other_params[name])]
    assert same == []  # every parameter is drawn from the seed

    assert first.origin.weights == "random"
    assert first.origin.tokenizer == "stand-in"
    assert first.origin.seed == SEED
    assert other.origin.seed == SEED + 1
    assert first.origin.path is None and first.origin.sha256 is None
    assert first.config == get_preset(preset)
    assert first.codec.tokenizer.get_vocab_size() == first.config.llm.vocab_size


def test_build_random_num_frames_override():
    assert build_random("tiny", num_frames=3).config.sampling.max_frames == 3
    assert build_random("tiny").config.sampling.max_frames == TINY.sampling.max_frames == 8


def test_load_or_build(saved):
    built = load_or_build("tiny", None, seed=SEED, num_frames=5)
    assert built.origin.weights == "random" and built.origin.seed == SEED
    assert built.config.sampling.max_frames == 5
    assert_same_weights(saved["tiny"][0].model, built.model)

    original, folder = saved["tiny-v1"]
    loaded = load_or_build("1b", folder, num_frames=2)
    assert loaded.origin.weights == "checkpoint" and loaded.origin.path == str(folder)
    assert loaded.config == TINY_V1.with_frames(2)
    assert_same_weights(original.model, loaded.model)


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(PresetError) as excinfo:
        build_random("tinyy")
    one_line_error(excinfo, "'tinyy'", *PRESETS)


def test_unknown_fallback_preset_without_a_config_block(copy_of):
    folder = copy_of("tiny")
    helpers.edit_config(folder, lambda c: c.pop("sf_mobile"))
    with pytest.raises(PresetError) as excinfo:
        load_checkpoint(folder, fallback_preset="huge")
    one_line_error(excinfo, "'huge'", *PRESETS)


def test_config_json_of_the_saved_checkpoint_is_plain_json(saved):
    """config.json must be readable by any JSON parser (no NaN / Infinity)."""
    text = (saved["tiny"][1] / "config.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
