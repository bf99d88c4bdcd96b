"""Shared test vectors: what the demo apps' Swift and Kotlin code must compute exactly as Python does.

`python -m sf_mobile.vectors` writes them under `tests/vectors/`; `--check` regenerates them in
memory and names every file that no longer matches the code. The apps' XCTest and JUnit tests
read the same files, so a change to sampling, presets, prompts or the tokenizer shows up on both
sides: here as a stale vector, there as a failing app test once the vectors are rewritten.

Every file is generated from the project's own code (never hand-edited):
  frame_sampling.json   sample_times + pick_frames over constant and variable frame rates
  visual_tokens.json    ModelConfig.visual_tokens per preset and frame count
  prompt_layout.json    the tiny preset's PromptCodec: prefix ids, N visual rows, suffix ids
  tokenizer.json        the tiny stand-in tokenizer, byte for byte as the tiny export writes it
  tokenizer_roundtrip.json  text -> ids -> text through that tokenizer
The bench_result_*.json samples beside them are hand-written and not generated (tests check them).
"""

from __future__ import annotations

import dataclasses
import json
import random
from fractions import Fraction
from pathlib import Path

from sf_mobile.config import SamplingConfig, SamplingStrategy
from sf_mobile.presets import PRESETS, get_preset
from sf_mobile.tokenizer import PromptCodec, build_standin_tokenizer
from sf_mobile.video.sampling import pick_frames, sample_times

VERSION = 1
GENERATED_BY = "python -m sf_mobile.vectors"
# In a source checkout: <repo>/tests/vectors (an installed copy has no tests/: pass a folder)
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors"

NTSC = Fraction(30000, 1001)  # 29.97 fps, as containers store it
RATES = (Fraction(24), Fraction(25), NTSC, Fraction(30), Fraction(60))
TOKEN_FRAME_COUNTS = (1, 2, 8, 16, 32, 64, 128)
QUESTIONS = (
    "Describe what happens in the video.",  # the CLI's and the export's default question
    "How many people appear in the video?",
    "Qu'est-ce que la personne tient ? 手に何を持っていますか？ 🎬",  # accents, CJK, an emoji (4 UTF-8 bytes)
    "",  # an empty question still renders the whole template
)
ROUNDTRIP_TEXTS = (
    "Describe what happens in the video.",
    " leading space, trailing space ",
    "Line one\nLine two\ttabbed\r\nwindows line",
    "Numbers 0123456789 and punctuation: !?.,;:'\"()[]{}",
    "Crème brûlée, naïve café, Straße, Ελληνικά, 日本語, 🎬🐕",
    "<|im_start|>user\nWhat is the dog doing?<|im_end|>\n",  # special tokens written in the text
    "",
)


# --- frame sampling --------------------------------------------------------------------------
def _cfr_times(rate: Fraction, duration_s: float) -> list[float]:
    """Presentation times of a constant-rate video: frame i at i / rate, every frame before the end."""
    times, i = [], 0
    while (t := float(i / rate)) < duration_s:
        times.append(t)
        i += 1
    return times


def _vfr_times() -> tuple[list[float], float]:
    """A phone-style variable-rate clip (90 kHz time base): 30/24/60 fps stretches, jitter, one freeze."""
    rng = random.Random(7)  # fixed: the vector must not change between runs
    pts, steps = [0], (3000, 3003, 3750, 1500, 2997)
    while pts[-1] < 6 * 90000:
        pts.append(pts[-1] + rng.choice(steps))
        if len(pts) == 40:
            pts[-1] += 90000  # a 1 s freeze (dropped frames): targets inside it keep the last frame
    last = pts.pop()  # the end of the last frame's display
    return [p / 90000 for p in pts], last / 90000


def _rate_name(rate: Fraction) -> str:
    return f"{float(rate):.2f}".rstrip("0").rstrip(".") + "fps"


def _config_name(sampling: SamplingConfig) -> str:
    if sampling.strategy is SamplingStrategy.FPS:
        return f"fps{sampling.fps:g}-max{sampling.max_frames}"
    return f"uniform-max{sampling.max_frames}"


def _case(name: str, sampling: SamplingConfig, frame_times: list[float], duration_s: float) -> dict:
    targets = sample_times(duration_s, sampling)
    return {
        "name": name,
        "strategy": sampling.strategy.value,
        "fps": sampling.fps if sampling.strategy is SamplingStrategy.FPS else None,
        "max_frames": sampling.max_frames,
        "duration_s": duration_s,
        "frame_times_s": frame_times,
        "target_times_s": targets,
        "indices": pick_frames(frame_times, targets),
    }


def _sampling_cases() -> list[tuple[SamplingConfig, Fraction, float]]:
    tiny, tiny_v1 = PRESETS["tiny"].sampling, PRESETS["tiny-v1"].sampling
    fps15, v1 = PRESETS["1b"].sampling, PRESETS["v1-7b"].sampling
    cases = []
    for rate in RATES:
        # tiny (2 fps, budget 8): 0.2 s < half a period -> uniform fallback; 4.2 s -> 8 fps targets;
        # 4.3 s -> 9 > 8 -> uniform fallback. At 24 and 60 fps the FPS targets (0.25 s + k/2) fall
        # exactly on a frame's time: the pick must be that frame (time <= target), not the one before.
        cases += [(tiny, rate, d) for d in (0.2, 1.0, 3.7, 4.2, 4.3, 10.0)]
        # tiny-v1 (uniform 6): at 0.2 s, 24 and 25 fps give 5 frames for 6 targets, so an index repeats
        cases += [(tiny_v1, rate, d) for d in (0.2, 2.0, 7.5)]
    # the 1.5 presets (1 fps, budget 128) and v1 (uniform 50); long clips at modest rates keep the file small
    cases += [(fps15, Fraction(30), 0.2), (fps15, Fraction(30), 0.6), (fps15, NTSC, 60.0), (fps15, Fraction(24), 120.0)]
    cases += [(fps15, Fraction(10), 130.0)]  # 130 > 128.5 s: too many 1 fps targets -> uniform fallback
    cases += [(v1, Fraction(30), 1.0), (v1, Fraction(25), 2.0), (v1, Fraction(25), 90.0)]
    return cases


def frame_sampling() -> dict:
    cases = [
        _case(f"{_config_name(s)} {_rate_name(rate)} {duration:g}s", s, _cfr_times(rate, duration), duration)
        for s, rate, duration in _sampling_cases()
    ]
    vfr_times, vfr_duration = _vfr_times()
    for preset in ("tiny", "tiny-v1", "1b"):
        sampling = PRESETS[preset].sampling
        cases.append(_case(f"{_config_name(sampling)} variable-rate {vfr_duration:g}s", sampling, vfr_times, vfr_duration))
    for preset in ("tiny", "tiny-v1"):  # a one-frame video (a still): every target shows frame 0
        sampling = PRESETS[preset].sampling
        cases.append(_case(f"{_config_name(sampling)} single-frame 0.04s", sampling, [0.0], 0.04))
    return {"cases": cases}


# --- visual tokens ---------------------------------------------------------------------------
def visual_tokens() -> dict:
    presets = {}
    for name, config in PRESETS.items():
        counts = sorted({*TOKEN_FRAME_COUNTS, config.sampling.max_frames})
        budgets = [config.visual_tokens(frames) for frames in counts]
        presets[name] = [{**dataclasses.asdict(b), "total": b.total} for b in budgets]
    return {"presets": presets}


# --- prompt and tokenizer --------------------------------------------------------------------
def tiny_tokenizer():
    """The tiny preset's stand-in tokenizer, built as `build_random("tiny")` builds it for sf-run and sf-export."""
    config = get_preset("tiny")
    return build_standin_tokenizer(config.llm.vocab_size, config.prompt.special_tokens)


def prompt_layout(tokenizer) -> dict:
    config = get_preset("tiny")
    codec = PromptCodec(tokenizer, config.prompt, config.llm.vocab_size)
    visual = config.visual_tokens().total
    cases = []
    for question in QUESTIONS:
        ids = codec.encode(question)
        rows = len(ids.prefix) + visual + len(ids.suffix)
        cases.append({"question": question, "rendered": codec.render(question), "prefix_ids": ids.prefix, "suffix_ids": ids.suffix, "rows": rows})
    return {
        "preset": config.name,
        "bos_id": codec.bos_id,
        "eos_ids": list(codec.stop_ids),
        "visual_tokens": visual,
        "layout": (
            "prefix_ids, then N visual embeddings, then suffix_ids (N = visual_tokens); the rendered prompt is split "
            f"at {config.prompt.placeholder}, each side encoded without added special tokens, bos_id (when not null) first"
        ),
        "cases": cases,
    }


def tokenizer_roundtrip(tokenizer) -> dict:
    cases = []
    for text in ROUNDTRIP_TEXTS:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        cases.append({"text": text, "ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=False)})
    return {
        "tokenizer": "tokenizer.json",
        "special_tokens": (
            "none added: ids = encode(text, add_special_tokens=False), as PromptCodec encodes; special tokens "
            "written in the text become their single ids; decoded = decode(ids, skip_special_tokens=False)"
        ),
        "cases": cases,
    }


# --- files -----------------------------------------------------------------------------------
def _json_bytes(body: dict) -> bytes:
    document = {"version": VERSION, "generated_by": GENERATED_BY, **body}
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def generate() -> dict[str, bytes]:
    """file name -> exact bytes of every generated vector."""
    tokenizer = tiny_tokenizer()
    return {
        "frame_sampling.json": _json_bytes(frame_sampling()),
        "visual_tokens.json": _json_bytes(visual_tokens()),
        "prompt_layout.json": _json_bytes(prompt_layout(tokenizer)),
        # byte-identical to the export's file: export/common.py writes it with Tokenizer.save (pretty)
        "tokenizer.json": tokenizer.to_str(pretty=True).encode("utf-8"),
        "tokenizer_roundtrip.json": _json_bytes(tokenizer_roundtrip(tokenizer)),
    }


def stale(folder: Path, generated: dict[str, bytes] | None = None) -> list[str]:
    """Names of the vectors in `folder` that are missing or differ from what the code generates."""
    generated = generate() if generated is None else generated
    return [name for name, data in generated.items() if not (folder / name).is_file() or (folder / name).read_bytes() != data]


def write(folder: Path) -> list[str]:
    """Write every vector into `folder`; the names of the files that changed."""
    folder.mkdir(parents=True, exist_ok=True)
    generated = generate()
    changed = stale(folder, generated)
    for name in changed:
        temporary = folder / f".{name}.tmp"  # a rename: an interrupted run never leaves half a vector
        temporary.write_bytes(generated[name])
        temporary.replace(folder / name)
    return changed


if __name__ == "__main__":
    import sys

    from sf_mobile.cli.vectors import main

    sys.exit(main())
