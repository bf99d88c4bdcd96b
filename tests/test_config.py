"""Presets and config validation: the registry, cross-field rules, serialization."""

from __future__ import annotations

import dataclasses

import pytest

from sf_mobile.config import ModelConfig, PoolOp, ProjectorOrder, SlowFastConfig, VisionArch, VisionConfig
from sf_mobile.errors import PresetError
from sf_mobile.presets import PRESETS, get_preset

REQUIRED_PRESETS = ("tiny", "1b", "3b", "7b", "v1-7b")


def test_registry_holds_the_design_presets():
    assert set(REQUIRED_PRESETS) <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.name == name


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(PresetError) as caught:
        get_preset("2b")
    message = str(caught.value)
    assert "'2b'" in message and "\n" not in message
    for name in PRESETS:
        assert name in message


def test_presets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_preset("1b").llm.hidden_size = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", list(PRESETS))
def test_round_trip_through_dict(name):
    preset = get_preset(name)
    assert ModelConfig.from_dict(preset.to_dict()) == preset


def test_from_dict_rejects_unknown_fields_and_enum_values():
    data = get_preset("tiny").to_dict()
    data["llm"]["hidden_sizes"] = 3
    with pytest.raises(PresetError, match="hidden_sizes"):
        ModelConfig.from_dict(data)
    data = get_preset("tiny").to_dict()
    data["slowfast"]["slow_pool_op"] = "median"
    with pytest.raises(PresetError, match="median"):
        ModelConfig.from_dict(data)


def test_mobile_preset_shapes_follow_the_design():
    one_b, three_b = get_preset("1b"), get_preset("3b")
    assert (one_b.llm.hidden_size, one_b.llm.num_layers, one_b.llm.num_heads, one_b.llm.num_kv_heads) == (1536, 28, 12, 2)
    assert one_b.llm.vocab_size == 151936
    assert (three_b.llm.hidden_size, three_b.llm.num_layers, three_b.llm.num_heads, three_b.llm.num_kv_heads) == (2048, 36, 16, 2)
    assert one_b.vision.image_size == 384 and one_b.vision.grid == 24
    assert (one_b.vision.hidden_size, one_b.vision.num_layers, one_b.vision.patch_size) == (1152, 27, 16)


def test_fast_grid_must_fit_the_frame_grid():
    tiny = get_preset("tiny")
    with pytest.raises(PresetError, match="fast_grid"):
        dataclasses.replace(tiny, slowfast=dataclasses.replace(tiny.slowfast, fast_grid=(9, 9)))


def test_slow_pool_must_divide_the_frame_grid():
    tiny = get_preset("tiny")
    with pytest.raises(PresetError, match="slow_pool"):
        dataclasses.replace(tiny, slowfast=dataclasses.replace(tiny.slowfast, slow_pool=(3, 3)))


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(image_size=60), "image_size"),  # 60 is not a multiple of patch 8
        (dict(num_heads=3), "num_heads"),  # 32 wide, 3 heads
        (dict(select_layer=-3), "select_layer"),  # only 2 layers
    ],
)
def test_vision_cross_field_rules(change, field):
    with pytest.raises(PresetError, match=field):
        dataclasses.replace(get_preset("tiny").vision, **change)


def test_llm_heads_must_group_evenly():
    with pytest.raises(PresetError, match="num_kv_heads"):
        dataclasses.replace(get_preset("tiny").llm, num_kv_heads=3)


def test_slowfast_rules():
    with pytest.raises(PresetError, match="generation"):
        SlowFastConfig("v2", 4, (2, 2), PoolOp.MAX, (2, 2), ProjectorOrder.PROJECT_THEN_POOL)
    with pytest.raises(PresetError, match="num_slow"):
        SlowFastConfig("v1", 0, (2, 2), PoolOp.MAX, (2, 2), ProjectorOrder.PROJECT_THEN_POOL)


def test_prompt_placeholder_must_appear_once():
    prompt = get_preset("tiny").prompt
    with pytest.raises(PresetError, match="placeholder"):
        dataclasses.replace(prompt, template="{system} {question}")


def test_kv_cache_bytes():
    llm = get_preset("1b").llm
    # 2 (K and V) x 28 layers x 2 KV heads x 1024 slots x 128 head dim x 2 bytes
    assert llm.kv_cache_bytes(1024, 2) == 2 * 28 * 2 * 1024 * 128 * 2


def test_vision_config_derived_grid():
    vision = VisionConfig(arch=VisionArch.SIGLIP, image_size=64, patch_size=8, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2)
    assert vision.grid == 8 and vision.tokens_per_frame == 64


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_names_its_source(name):
    assert len(get_preset(name).source) > 40


def test_uncertain_preset_numbers_say_so():
    assert "Uncertain" in get_preset("1b").source and "0.5B" in get_preset("1b").source
    assert "assumption" in get_preset("3b").source  # the 1.5 pooling is not public
