"""Tokenizers: the stand-in byte-level BPE, the prompt codec on both tiny presets, and
load_tokenizer's errors."""

from __future__ import annotations

import random

import pytest

from sf_mobile.errors import CheckpointError
from sf_mobile.presets import CHATML, ONE_B, TINY, TINY_V1, VICUNA_V1
from sf_mobile.tokenizer import PromptCodec, build_standin_tokenizer, load_tokenizer

QUESTION = "What is the man holding in his right hand?"


@pytest.fixture(scope="module")
def small():
    return build_standin_tokenizer(512, CHATML.special_tokens)


@pytest.fixture(scope="module")
def large():
    """The 1b preset's vocab: far more ids than the corpus yields, so most are padding."""
    return build_standin_tokenizer(ONE_B.llm.vocab_size, ONE_B.prompt.special_tokens)


@pytest.fixture(scope="module", params=["tiny", "tiny-v1"])
def codec(request):
    config = {"tiny": TINY, "tiny-v1": TINY_V1}[request.param]
    tokenizer = build_standin_tokenizer(config.llm.vocab_size, config.prompt.special_tokens)
    return PromptCodec(tokenizer, config.prompt, config.llm.vocab_size)


def assert_one_line(excinfo, *needles: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


# ---------------------------------------------------------------------------------------------
# build_standin_tokenizer


@pytest.mark.parametrize("which", ["small", "large"])
def test_standin_has_exactly_vocab_size_contiguous_ids(request, which):
    tokenizer = request.getfixturevalue(which)
    size = {"small": 512, "large": 151936}[which]
    assert tokenizer.get_vocab_size() == size
    vocab = tokenizer.get_vocab()
    assert len(vocab) == size
    assert sorted(vocab.values()) == list(range(size))  # no gaps, no duplicates
    assert tokenizer.id_to_token(size - 1) is not None
    assert tokenizer.id_to_token(size) is None


@pytest.mark.parametrize("which", ["small", "large"])
def test_special_tokens_are_the_first_single_ids(request, which):
    tokenizer = request.getfixturevalue(which)
    specials = CHATML.special_tokens
    assert [tokenizer.token_to_id(t) for t in specials] == list(range(len(specials)))
    for index, token in enumerate(specials):
        assert tokenizer.encode(token, add_special_tokens=False).ids == [index]
    text = f"{specials[1]}user\nhi{specials[2]}"
    assert tokenizer.encode(text, add_special_tokens=False).ids.count(1) == 1


def test_vicuna_special_tokens_are_the_first_single_ids():
    tokenizer = build_standin_tokenizer(512, VICUNA_V1.special_tokens)
    assert [tokenizer.token_to_id(t) for t in ("<unk>", "<s>", "</s>")] == [0, 1, 2]
    assert tokenizer.encode("</s>", add_special_tokens=False).ids == [2]


@pytest.mark.parametrize("which", ["small", "large"])
def test_every_id_decodes(request, which):
    tokenizer = request.getfixturevalue(which)
    size = tokenizer.get_vocab_size()
    rng = random.Random(0)
    ids = sorted({0, 1, 2, 3, 255, 256, 257, 258, size // 2, size - 2, size - 1, *rng.sample(range(size), 300)})
    for i in ids:
        text = tokenizer.decode([i], skip_special_tokens=False)
        assert isinstance(text, str) and text != "", i
    # A run of random ids decodes in one call too (what random weights generate).
    assert isinstance(tokenizer.decode(rng.sample(range(size), 64)), str)


def test_padding_ids_decode_to_their_names(large):
    last = large.get_vocab_size() - 1
    assert large.decode([last]) == f"<unused{last}>"


@pytest.mark.parametrize(
    "text",
    [
        "A person walks into the kitchen.",
        "Zebras quixotically juggle 12345 kumquats!? #@$%^&*()[]{}<>/\\|~`'\"",
        "  leading spaces,\ttabs,\nnewlines\r\n and trailing  ",
        "x",
    ],
)
@pytest.mark.parametrize("which", ["small", "large"])
def test_encode_decode_round_trips_ascii(request, which, text):
    tokenizer = request.getfixturevalue(which)
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    assert len(ids) > 0
    assert tokenizer.decode(ids) == text


def test_encode_decode_round_trips_non_ascii(small):
    text = "café — naïve 日本語 🎥"
    assert small.decode(small.encode(text, add_special_tokens=False).ids) == text


def test_standin_is_deterministic():
    first = build_standin_tokenizer(512, CHATML.special_tokens)
    second = build_standin_tokenizer(512, CHATML.special_tokens)
    assert first.to_str() == second.to_str()


def test_smallest_vocab_is_bytes_plus_specials():
    minimum = 256 + len(CHATML.special_tokens)
    tokenizer = build_standin_tokenizer(minimum, CHATML.special_tokens)
    assert tokenizer.get_vocab_size() == minimum
    assert tokenizer.decode(tokenizer.encode("any text", add_special_tokens=False).ids) == "any text"


@pytest.mark.parametrize("size", [0, 100, 256 + 3 - 1])
def test_too_small_vocab_raises(size):
    with pytest.raises(CheckpointError) as excinfo:
        build_standin_tokenizer(size, CHATML.special_tokens)
    assert_one_line(excinfo, f"vocab size {size}", "259")


# ---------------------------------------------------------------------------------------------
# PromptCodec


def test_encode_reconstructs_the_rendered_template_around_the_placeholder(codec):
    rendered = codec.render(QUESTION)
    assert rendered.count(codec.prompt.placeholder) == 1
    assert QUESTION in rendered
    before, after = rendered.split(codec.prompt.placeholder)
    ids = codec.encode(QUESTION)
    bos = [] if codec.prompt.bos_token is None else [codec.bos_id]
    assert ids.prefix[: len(bos)] == bos
    prefix_text = codec.tokenizer.decode(ids.prefix[len(bos) :], skip_special_tokens=False)
    assert prefix_text == before
    assert codec.tokenizer.decode(ids.suffix, skip_special_tokens=False) == after
    # No placeholder text survives in the ids: the visual tokens go between prefix and suffix.
    assert codec.prompt.placeholder not in prefix_text + codec.tokenizer.decode(ids.suffix, skip_special_tokens=False)


def test_chatml_markers_are_single_ids_in_the_prompt():
    tokenizer = build_standin_tokenizer(TINY.llm.vocab_size, TINY.prompt.special_tokens)
    codec = PromptCodec(tokenizer, TINY.prompt, TINY.llm.vocab_size)
    ids = codec.encode(QUESTION)
    im_start, im_end = tokenizer.token_to_id("<|im_start|>"), tokenizer.token_to_id("<|im_end|>")
    assert ids.prefix[0] == im_start  # no bos for Qwen
    assert ids.prefix.count(im_start) == 2 and ids.prefix.count(im_end) == 1
    assert ids.suffix.count(im_start) == 1 and ids.suffix.count(im_end) == 1


def test_llama_prefix_starts_with_bos_and_qwen_has_none():
    llama_tok = build_standin_tokenizer(TINY_V1.llm.vocab_size, TINY_V1.prompt.special_tokens)
    llama = PromptCodec(llama_tok, TINY_V1.prompt, TINY_V1.llm.vocab_size)
    assert TINY_V1.prompt.bos_token == "<s>"
    assert llama.bos_id == llama_tok.token_to_id("<s>") == 1
    prefix = llama.encode(QUESTION).prefix
    assert prefix[0] == llama.bos_id
    assert prefix.count(llama.bos_id) == 1

    qwen_tok = build_standin_tokenizer(TINY.llm.vocab_size, TINY.prompt.special_tokens)
    qwen = PromptCodec(qwen_tok, TINY.prompt, TINY.llm.vocab_size)
    assert qwen.bos_id is None
    before = qwen.render(QUESTION).split(TINY.prompt.placeholder)[0]
    assert qwen.encode(QUESTION).prefix == qwen_tok.encode(before, add_special_tokens=False).ids


def test_stop_ids_are_the_prompts_stop_tokens(codec):
    expected = tuple(codec.tokenizer.token_to_id(t) for t in codec.prompt.stop_tokens)
    assert codec.stop_ids == expected
    assert None not in expected
    assert len(codec.stop_ids) == len(codec.prompt.stop_tokens)
    assert {"tiny": (2, 0), "tiny-v1": (2,)}[codec_name(codec)] == codec.stop_ids


def codec_name(codec) -> str:
    return "tiny" if codec.prompt is TINY.prompt else "tiny-v1"


def test_decode_drops_stop_tokens(codec):
    answer = "A red umbrella."
    ids = codec.tokenizer.encode(answer, add_special_tokens=False).ids
    for stop in codec.stop_ids:
        assert codec.decode([*ids, stop]) == answer
        assert codec.decode([stop, *ids, stop, stop]) == answer
    assert codec.decode(list(codec.stop_ids)) == ""
    assert codec.decode(ids) == answer


def test_special_token_ids_cover_specials_and_stops(codec):
    ids = codec.special_token_ids()
    assert set(ids) == {*codec.prompt.special_tokens, *codec.prompt.stop_tokens}
    assert all(ids[t] == codec.tokenizer.token_to_id(t) for t in ids)


def test_codec_refuses_a_tokenizer_without_the_special_tokens():
    tokenizer = build_standin_tokenizer(512, ("<a>", "<b>", "<c>"))
    with pytest.raises(CheckpointError) as excinfo:
        PromptCodec(tokenizer, TINY.prompt, 512)
    assert_one_line(excinfo, "<|im_start|>", "<|im_end|>", "<|endoftext|>")


def test_codec_refuses_a_tokenizer_larger_than_the_llm_vocab(small):
    with pytest.raises(CheckpointError) as excinfo:
        PromptCodec(small, TINY.prompt, 511)
    assert_one_line(excinfo, "512", "511")
    assert PromptCodec(small, TINY.prompt, 512).stop_ids == (2, 0)  # equal sizes are fine


# ---------------------------------------------------------------------------------------------
# load_tokenizer


def test_load_tokenizer_round_trips_a_saved_file(small, tmp_path):
    path = tmp_path / "tokenizer.json"
    small.save(str(path))
    assert load_tokenizer(path).to_str() == small.to_str()


def test_load_tokenizer_missing_path(tmp_path):
    path = tmp_path / "tokenizer.json"
    with pytest.raises(CheckpointError) as excinfo:
        load_tokenizer(path)
    assert_one_line(excinfo, str(path), "no tokenizer")


def test_load_tokenizer_on_a_folder(tmp_path):
    with pytest.raises(CheckpointError) as excinfo:
        load_tokenizer(tmp_path)
    assert_one_line(excinfo, str(tmp_path))


@pytest.mark.parametrize(
    "data",
    [random.Random(1).randbytes(512), b"", b"{}", b"[1, 2]", b'{"model": {"type": "BPE", "vocab": '],
    ids=["random-bytes", "empty", "empty-object", "list", "truncated"],
)
def test_load_tokenizer_on_garbage(tmp_path, data):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as excinfo:
        load_tokenizer(path)
    assert_one_line(excinfo, str(path), "not a valid tokenizer.json")


def test_decode_drops_stop_tokens_that_are_not_special_tokens(small):
    """skip_special_tokens alone would keep a stop token the tokenizer holds as an ordinary entry."""
    import dataclasses

    stop = small.id_to_token(300)
    assert stop not in CHATML.special_tokens
    prompt = dataclasses.replace(CHATML, stop_tokens=(stop,))
    codec = PromptCodec(small, prompt, 512)
    assert codec.stop_ids == (300,)
    ids = small.encode("Left. Right.", add_special_tokens=False).ids
    assert 300 not in ids
    assert codec.decode([*ids, 300, *ids]) == "Left. Right." * 2
    assert small.decode([*ids, 300], skip_special_tokens=True) != "Left. Right."  # the filter matters
