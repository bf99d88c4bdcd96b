"""The reference model and the exportable modules, on the tiny presets (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch

from sf_mobile import slowfast
from sf_mobile.checkpoints import build_random
from sf_mobile.errors import SfError
from sf_mobile.exportable import DecoderStep, FrameEncoder, TokenEmbedding, decode_greedy, prefill, teacher_forced_logits
from sf_mobile.exportable.vision import pack_frames
from sf_mobile.model.generation import SamplingParams, generate

# fp32 on CPU, same ops in a different association (chunked attention over a zero-padded
# cache, incremental vs full-sequence decode): differences stay at float rounding level.
FP32 = dict(rtol=1e-5, atol=1e-5)
PRESET_NAMES = ("tiny", "tiny-v1")


@pytest.fixture(scope="module", params=PRESET_NAMES)
def loaded(request):
    return build_random(request.param, seed=1)


def _frames(config, count=None, seed=0):
    side = config.vision.image_size
    count = config.sampling.max_frames if count is None else count
    return torch.randint(0, 256, (count, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _prompt_embeds(loaded, seed=0):
    model = loaded.model
    visual = model.encode_frames(_frames(model.config, seed=seed))
    return model.prompt_embeddings(loaded.codec.encode("What moves in the video?"), visual)


def test_visual_embeddings_have_the_budgeted_shape(loaded):
    config = loaded.config
    for count in (1, 3, config.sampling.max_frames):
        visual = loaded.model.encode_frames(_frames(config, count))
        assert visual.shape == (config.visual_tokens(count).total, config.llm.hidden_size)


def test_projector_order_follows_the_preset(loaded):
    model, config = loaded.model, loaded.config
    features = model.frame_features(_frames(config))
    project_first = slowfast.pool(model.projector(features), config.slowfast)
    pool_first = model.projector(slowfast.pool(features, config.slowfast))
    expected = project_first if config.slowfast.order.value == "project_then_pool" else pool_first
    other = pool_first if expected is project_first else project_first
    torch.testing.assert_close(model.visual_tokens(features), expected, rtol=0, atol=0)
    assert (other - expected).abs().max() > 1e-3  # the two orders really differ (GELU is not linear)


def test_normalisation_uses_the_preset_mean_and_std(loaded):
    vision = loaded.config.vision
    frames = _frames(loaded.config, 2)
    mean = torch.tensor(vision.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(vision.image_std).view(1, 3, 1, 1)
    torch.testing.assert_close(loaded.model.normalize(frames), (frames.float() / 255 - mean) / std, **FP32)


def test_clip_drops_the_class_token_and_reads_the_selected_layer(loaded):
    model, vision = loaded.model, loaded.config.vision
    pixels = model.normalize(_frames(loaded.config, 2))
    hidden = model.vision_tower.model(pixels, output_hidden_states=True).hidden_states[vision.select_layer]
    if vision.arch.value == "clip":
        hidden = hidden[:, 1:]
    torch.testing.assert_close(model.vision_tower(pixels), hidden, **FP32)


def test_placeholder_is_replaced_by_the_visual_tokens(loaded):
    model = loaded.model
    prompt = loaded.codec.encode("Why?")
    visual = model.encode_frames(_frames(loaded.config))
    embeds = model.prompt_embeddings(prompt, visual)[0]
    start = len(prompt.prefix)
    assert embeds.shape[0] == len(prompt.prefix) + visual.shape[0] + len(prompt.suffix)
    torch.testing.assert_close(embeds[start : start + visual.shape[0]], visual, rtol=0, atol=0)
    torch.testing.assert_close(embeds[:start], model.embed_tokens(torch.tensor(prompt.prefix)), rtol=0, atol=0)


def test_cached_decode_matches_uncached(loaded):
    embeds = _prompt_embeds(loaded)
    cached = generate(loaded.model, embeds, 12, keep_logits=True)
    uncached = generate(loaded.model, embeds, 12, use_cache=False, keep_logits=True)
    assert cached.tokens == uncached.tokens
    torch.testing.assert_close(torch.stack(cached.step_logits), torch.stack(uncached.step_logits), **FP32)


def test_generation_stops_at_a_stop_token(loaded):
    embeds = _prompt_embeds(loaded)
    free = generate(loaded.model, embeds, 6)
    stopped = generate(loaded.model, embeds, 6, stop_ids=(free.tokens[2],))
    assert stopped.tokens == free.tokens[: free.tokens.index(free.tokens[2]) + 1] and stopped.stopped


def test_sampling_is_seeded_and_differs_from_greedy(loaded):
    embeds = _prompt_embeds(loaded)
    params = SamplingParams(temperature=1.5, top_k=50, top_p=0.95, seed=7)
    first = generate(loaded.model, embeds, 16, params=params).tokens
    assert generate(loaded.model, embeds, 16, params=params).tokens == first
    assert first != generate(loaded.model, embeds, 16).tokens


@pytest.mark.parametrize("chunk", [1, 16, 64, 4096])
def test_chunked_prefill_matches_the_reference_logits(loaded, chunk):
    embeds = _prompt_embeds(loaded)
    step = DecoderStep(loaded.model, max_context=1024, full_logits=True)
    torch.testing.assert_close(prefill(step, embeds, chunk), loaded.model.logits(embeds), **FP32)


def test_eager_attention_over_written_slots_equals_the_traced_whole_cache_form(loaded, monkeypatch):
    # Eagerly the decoder attends only to slots written so far; traced graphs attend to the whole
    # (masked) cache. Same logits, including a second chunk that reads the first one's slots.
    embeds = _prompt_embeds(loaded)

    def run():
        step = DecoderStep(loaded.model, max_context=1024, full_logits=True)
        return prefill(step, embeds, 16)

    sliced = run()
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)  # what torch.export sees
    torch.testing.assert_close(sliced, run(), **FP32)


def test_teacher_forced_decode_matches_the_reference(loaded):
    model = loaded.model
    embeds = _prompt_embeds(loaded)
    forced = [5, 17, 99, 3, 250, 42, 7, 8]
    step = DecoderStep(model, max_context=1024)
    prefill(step, embeds, 32)
    got = teacher_forced_logits(step, TokenEmbedding(model), forced, start=embeds.shape[1])
    full = torch.cat([embeds, model.embed_tokens(torch.tensor([forced]))], dim=1)
    # the logits after feeding forced[i] are the full sequence's logits at that position
    expected = model.logits(full)[0, embeds.shape[1] :]
    torch.testing.assert_close(got, expected, **FP32)


def test_exportable_greedy_decode_matches_generate(loaded):
    embeds = _prompt_embeds(loaded, seed=3)
    step = DecoderStep(loaded.model, max_context=1024)
    tokens = decode_greedy(step, TokenEmbedding(loaded.model), embeds, 16, chunk_size=32)
    assert tokens == generate(loaded.model, embeds, 16).tokens


def test_decoder_cache_is_written_by_position(loaded):
    step = DecoderStep(loaded.model, max_context=64)
    embeds, _ = step.example_inputs(4)
    step(embeds, torch.arange(10, 14))
    written = step.k_cache.abs().sum(dim=(0, 1, 2, 4))  # per slot
    assert bool((written[10:14] > 0).all()) and float(written[:10].sum()) == 0 and float(written[14:].sum()) == 0


def test_decoder_rejects_positions_past_the_cache(loaded):
    step = DecoderStep(loaded.model, max_context=16)
    embeds, _ = step.example_inputs(4)
    with pytest.raises(RuntimeError):  # torch._check in write_cache
        step(embeds, torch.arange(14, 18))
    with pytest.raises(SfError, match="exceed"):
        prefill(step, torch.zeros(1, 20, embeds.shape[-1]), 8)
    with pytest.raises(SfError, match="max context"):
        DecoderStep(loaded.model, max_context=loaded.config.llm.max_position_embeddings + 1)


def test_frame_encoder_packed_and_unpacked_agree(loaded):
    model, frames_count = loaded.model, loaded.config.sampling.max_frames
    frames = _frames(loaded.config)
    expected = model.encode_frames(frames).unsqueeze(0)
    torch.testing.assert_close(FrameEncoder(model, frames_count)(frames), expected, rtol=0, atol=0)
    packed = pack_frames(frames)
    assert packed.shape == (3, frames_count * loaded.config.vision.image_size, loaded.config.vision.image_size)
    torch.testing.assert_close(FrameEncoder(model, frames_count, packed=True)(packed), expected, rtol=0, atol=0)


def test_frames_in_passes_give_the_features_of_one_pass(loaded):
    # Eager runs push a few frames at a time through the tower (memory); the frames are independent.
    model, frames = loaded.model, _frames(loaded.config)
    whole = model.frame_features(frames)
    for per_pass in (1, 4):
        torch.testing.assert_close(model.frame_features(frames, per_pass), whole, **FP32)
    torch.testing.assert_close(FrameEncoder(model, len(frames), frames_per_pass=4)(frames), model.encode_frames(frames)[None], **FP32)


def test_token_embedding_module(loaded):
    ids = torch.tensor([[1, 2, 3, 300]])
    torch.testing.assert_close(TokenEmbedding(loaded.model)(ids), loaded.model.embed_tokens(ids), rtol=0, atol=0)


def test_exportable_modules_go_through_torch_export(loaded):
    model = loaded.model
    encoder = FrameEncoder(model, loaded.config.sampling.max_frames, packed=True)
    frames = encoder.example_input()
    exported = torch.export.export(encoder, (frames,))
    torch.testing.assert_close(exported.module()(frames), encoder(frames), **FP32)

    step = DecoderStep(model, max_context=128)
    seq = torch.export.Dim("seq", max=127)  # Dim upper bound must be max_context - 1
    program = torch.export.export(step, step.example_inputs(8), dynamic_shapes=({1: seq}, {0: seq}))
    program = program.run_decompositions({})  # functionalize: cache writes become buffer mutations
    assert set(program.graph_signature.buffers_to_mutate.values()) == {"k_cache", "v_cache"}
    embeds = torch.randn(1, 5, loaded.config.llm.hidden_size)
    positions = torch.arange(5)
    step.reset()
    expected = step(embeds, positions)
    exported_step = program.module()
    exported_step.k_cache.zero_()
    torch.testing.assert_close(exported_step(embeds, positions), expected, **FP32)
    assert float(step.k_cache.abs().sum()) > 0
    torch.testing.assert_close(exported_step.k_cache, step.k_cache, **FP32)  # the graph wrote its cache


def test_spelled_out_tanh_gelu_matches_the_fused_op():
    from sf_mobile.exportable.vision import spell_out_tanh_gelu, tanh_gelu

    x = torch.linspace(-8, 8, 10001)
    # same formula, different op order: float32 rounding only
    torch.testing.assert_close(tanh_gelu(x), torch.nn.functional.gelu(x, approximate="tanh"), rtol=1e-6, atol=1e-6)
    model = build_random("tiny", seed=2).model
    frames = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    before = model.encode_frames(frames)
    assert spell_out_tanh_gelu(model.vision_tower) == model.config.vision.num_layers
    torch.testing.assert_close(model.encode_frames(frames), before, rtol=1e-5, atol=1e-5)


def test_decoder_returns_only_the_last_position_by_default(loaded):
    embeds = _prompt_embeds(loaded)
    last = DecoderStep(loaded.model, max_context=1024)(embeds, torch.arange(embeds.shape[1]))
    full = DecoderStep(loaded.model, max_context=1024, full_logits=True)(embeds, torch.arange(embeds.shape[1]))
    assert last.shape == (1, 1, loaded.config.llm.vocab_size)
    torch.testing.assert_close(last[0, 0], full[0, -1], **FP32)  # a 1-row matmul takes another kernel path
