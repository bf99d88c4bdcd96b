"""The command line: `sf-run` and `sf-info` end to end on the tiny presets, their JSON reports,
one-line errors for bad input, and `--help` without the heavy imports.

Real subprocesses (each pays for importing torch) are kept to what only a subprocess proves:
the installed entry points, exit codes, no traceback, and what `--help` imports. Everything
else calls `main(argv)` in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sf_mobile.cli import info as info_cli
from sf_mobile.cli import run as run_cli
from sf_mobile.presets import PRESETS, get_preset

# pytest puts tests/ on sys.path when it is not a package, the repo root when it is.
try:
    from video_clips import indexed_frames, write_audio_only, write_clip
except ModuleNotFoundError:
    from tests.video_clips import indexed_frames, write_audio_only, write_clip

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RANDOM_WARNING = "sf-run: WARNING: no --checkpoint given: running with RANDOM weights"
HEAVY_MODULES = ("torch", "transformers", "av", "executorch", "coremltools", "onnxruntime")


@pytest.fixture(autouse=True)
def _isolated_cache(cache_dir):
    assert os.environ["SF_MOBILE_CACHE"] == str(cache_dir)


def call(main, argv: list[str]) -> tuple[int, str, str]:
    """Run a CLI `main` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def run_json(*argv: str) -> dict:
    code, out, err = call(run_cli.main, ["--json", *argv])
    assert code == 0, err
    return json.loads(out)


def spawn(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        list(argv), capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=300, check=False
    )


def entry_point(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"entry point {name} is not installed next to {sys.executable}"
    return str(path)


def assert_one_line_error(code: int, out: str, err: str, prog: str) -> str:
    """Exit 2, nothing on stdout, no traceback, and exactly one `prog: error:` line, the last one.

    The only other stderr line allowed is the random-weights warning, for errors that can only be
    found once the model is built; input errors come before it (test_bad_video_fails_before_the_model_is_built).
    """
    assert code == 2, (code, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith(f"{prog}: error: ")]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0], err
    assert all(line == errors[0] or line.startswith(f"{prog}: WARNING: no --checkpoint given") for line in lines), err
    return errors[0]


# --- the default run -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_report(cache_dir) -> dict:
    return run_json()


def test_sf_run_without_arguments_entry_point(cache_dir):
    proc = spawn(entry_point("sf-run"), cwd=cache_dir)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "answer:" in proc.stdout
    assert "visual tokens: 96 " in proc.stdout
    assert "weights: random | tokenizer: stand-in | preset: tiny" in proc.stdout
    assert RANDOM_WARNING in proc.stderr and "RANDOM" in proc.stderr


def test_default_json_report(default_report):
    r = default_report
    tokens = r["visual_tokens"]
    assert tokens["total"] == 96 == tokens["slow"] + tokens["fast"]
    assert (tokens["slow"], tokens["fast"], tokens["frames"]) == (64, 32, 8)
    assert r["preset"] == "tiny"
    assert r["weights"]["weights"] == "random"
    assert r["weights"]["tokenizer"] == "stand-in"
    assert r["video"]["frames"] == 8
    assert Path(r["video"]["path"]).parent == Path(os.environ["SF_MOBILE_CACHE"])
    assert Path(r["video"]["path"]).is_file()
    assert isinstance(r["answer"], str)
    assert all(isinstance(t, int) and 0 <= t < 512 for t in r["tokens"])
    assert 1 <= len(r["tokens"]) <= 32  # --max-new-tokens defaults to 32
    assert isinstance(r["prompt_tokens"], int) and r["prompt_tokens"] > 96  # the visual tokens are in the prompt


def test_default_json_timings(default_report):
    r = default_report
    timings = r["timings_ms"]
    expected = {"frame_decode", "vision_total", "vision_per_frame", "projector", "prefill", "decode", "time_to_first_token"}
    assert expected <= set(timings)
    numbers = [*timings.values(), r["prefill_tokens_per_s"], r["decode_tokens_per_s"]]
    for value in numbers:
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        assert math.isfinite(value) and value >= 0
    assert r["prefill_tokens_per_s"] > 0
    assert timings["time_to_first_token"] >= timings["prefill"]


def test_default_text_report(cache_dir):
    code, out, err = call(run_cli.main, ["--max-new-tokens", "3"])
    assert code == 0, err
    assert out.startswith("answer: ")
    assert "visual tokens: 96 (slow 64 from 4 frames, fast 32 from 8 frames)" in out
    assert "timings: decode video " in out and "first token" in out
    assert "weights: random | tokenizer: stand-in | preset: tiny" in out
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith(RANDOM_WARNING)] != []


def test_max_new_tokens_caps_the_answer(cache_dir):
    report = run_json("--max-new-tokens", "5")
    assert 1 <= len(report["tokens"]) <= 5


def test_frames_option(cache_dir):
    report = run_json("--frames", "4", "--max-new-tokens", "2")
    budget = get_preset("tiny").visual_tokens(4)
    assert report["video"]["frames"] == 4
    assert report["visual_tokens"]["frames"] == 4
    assert report["visual_tokens"]["total"] == budget.total == budget.slow_tokens + budget.fast_tokens
    assert budget.total != 96  # the option changed something
    assert len(report["video"]["timestamps_s"]) == 4


def test_size_tiny_v1(cache_dir):
    report = run_json("--size", "tiny-v1", "--max-new-tokens", "2")
    assert report["preset"] == "tiny-v1"
    assert report["video"]["frames"] == 6
    assert report["visual_tokens"]["total"] == 416 == get_preset("tiny-v1").visual_tokens(6).total
    assert (report["visual_tokens"]["slow"], report["visual_tokens"]["fast"]) == (320, 96)
    assert report["video"]["frame_size"] == [56, 56]


def test_greedy_is_deterministic(cache_dir, default_report):
    # a second greedy run, shorter: its tokens are the first ones of the default run
    again = run_json("--max-new-tokens", "8")
    assert again["tokens"] == default_report["tokens"][:8]
    assert again["tokens"] != []


def test_seeded_sampling_is_deterministic(cache_dir):
    argv = ("--temperature", "0.8", "--seed", "1", "--max-new-tokens", "8")
    first, second = run_json(*argv), run_json(*argv)
    assert first["tokens"] == second["tokens"]
    assert first["weights"]["seed"] == 1


def test_video_and_question_arguments(tmp_path, cache_dir):
    from sf_mobile.video import load_video

    clip = write_clip(tmp_path / "clip.mp4", indexed_frames(30))  # 3 s at 10 fps
    expected_frames = load_video(clip, get_preset("tiny").sampling).frames.shape[0]
    short = run_json(str(clip), "What colour?", "--max-new-tokens", "3")
    long = run_json(str(clip), "What colour is the whole frame, and does it change over time?", "--max-new-tokens", "3")
    assert short["video"]["path"] == str(clip)
    assert short["video"]["frames"] == expected_frames >= 1
    assert short["visual_tokens"]["total"] == get_preset("tiny").visual_tokens(expected_frames).total
    assert abs(short["video"]["duration_s"] - 3.0) < 0.2
    assert 1 <= len(short["tokens"]) <= 3
    assert long["prompt_tokens"] > short["prompt_tokens"]  # the question reaches the prompt


# --- sf-info ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v1_7b_info() -> dict:
    code, out, err = call(info_cli.main, ["--size", "v1-7b", "--frames", "50", "--json"])
    assert code == 0, err
    return json.loads(out)


def test_info_v1_7b_visual_tokens(v1_7b_info):
    tokens = v1_7b_info["visual_tokens"]
    assert v1_7b_info["preset"] == "v1-7b"
    assert (tokens["total"], tokens["slow"], tokens["fast"]) == (3680, 2880, 800)
    assert (tokens["frames"], tokens["slow_frames"]) == (50, 10)


def test_info_v1_7b_parameters(v1_7b_info):
    params = v1_7b_info["parameters"]
    for key in ("vision_tower", "projector", "llm_total", "llm_embedding", "llm_blocks", "total"):
        assert isinstance(params[key], int) and params[key] > 0, key
    assert params["total"] == params["vision_tower"] + params["projector"] + params["llm_total"]
    assert params["llm_total"] == params["llm_embedding"] + params["llm_lm_head"] + params["llm_blocks"]
    assert params["llm_embedding"] == params["llm_lm_head"] == 32000 * 4096  # untied Vicuna
    assert 6.5e9 < params["total"] < 7.5e9


def test_info_v1_7b_kv_cache_bytes(v1_7b_info):
    llm = get_preset("v1-7b").llm
    head_dim = llm.hidden_size // llm.num_heads
    kv = v1_7b_info["kv_cache_bytes"]
    assert kv["fp16"]["1024"] == 2 * llm.num_layers * llm.num_kv_heads * 1024 * head_dim * 2 == 512 * 2**20
    assert kv["fp32"]["1024"] == 2 * kv["fp16"]["1024"] == 4 * kv["int8"]["1024"]
    assert kv["fp16"]["2048"] == 2 * kv["fp16"]["1024"]
    # only contexts the model can hold
    assert max(int(c) for c in kv["fp16"]) == llm.max_position_embeddings


def test_info_v1_7b_weight_bytes(v1_7b_info):
    w = v1_7b_info["weight_bytes"]
    assert all(isinstance(v, int) and v > 0 for v in w.values())
    assert w["fp32"] > w["fp16"] > w["int8 per-channel"] > w["int4 group 32"] > w["int4 group 128"]
    assert w["fp32"] >= 4 * v1_7b_info["parameters"]["total"] * 0.99


def test_info_v1_7b_text(v1_7b_info):
    code, out, err = call(info_cli.main, ["--size", "v1-7b", "--frames", "50"])
    assert code == 0, err
    assert err == ""
    assert out.startswith("preset v1-7b\n")
    assert "visual tokens for 50 frames: 3680 = slow 2880 (10 frames) + fast 800 (50 frames)" in out
    total_m = v1_7b_info["parameters"]["total"] / 1e6
    assert f"total {total_m:,.2f}M" in out
    assert "1024: 512.0 MiB" in out  # fp16 KV cache at 1024
    assert f"fp32: {v1_7b_info['weight_bytes']['fp32'] / 2**20:,.1f} MiB" in out


def test_info_1b_text():
    code, out, err = call(info_cli.main, ["--size", "1b"])
    assert code == 0, err
    assert out.startswith("preset 1b\n")
    assert "visual tokens for 128 frames: 9216 = slow 4608 (32 frames) + fast 4608 (128 frames)" in out
    assert "llm_lm_head 0.00M" in out  # tied embeddings
    assert "32768:" in out


# --- bad input ----------------------------------------------------------------------------------


def test_missing_video_subprocess(tmp_path, cache_dir):
    proc = spawn(entry_point("sf-run"), str(tmp_path / "missing.mp4"), "--max-new-tokens", "2")
    line = assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, "sf-run")
    assert "missing.mp4" in line and "does not exist" in line


def test_unknown_preset_subprocess(cache_dir):
    proc = spawn(entry_point("sf-run"), "--size", "nope")
    line = assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, "sf-run")
    assert proc.stderr.splitlines() == [line]
    assert "'nope'" in line
    for name in PRESETS:
        assert name in line


def test_unknown_preset_sf_info():
    code, out, err = call(info_cli.main, ["--size", "nope"])
    line = assert_one_line_error(code, out, err, "sf-info")
    assert err.splitlines() == [line]
    assert all(name in line for name in PRESETS)


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    return path


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def _audio_only(tmp_path: Path) -> Path:
    return write_audio_only(tmp_path / "tone.m4a", "aac", "mp4")


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "clips"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "make, words",
    [(_empty, "empty"), (_corrupt, "cannot read"), (_audio_only, "no video stream"), (_directory, "directory")],
    ids=["empty", "corrupt", "audio-only", "directory"],
)
def test_bad_video(tmp_path, cache_dir, make, words):
    path = make(tmp_path)
    code, out, err = call(run_cli.main, [str(path), "--max-new-tokens", "2"])
    line = assert_one_line_error(code, out, err, "sf-run")
    assert str(path) in line
    assert words in line
    assert "; " in line  # problem; fix


@pytest.mark.parametrize(
    "main, prog, argv, flag",
    [
        (run_cli.main, "sf-run", ["--frames", "0"], "--frames"),
        (run_cli.main, "sf-run", ["--frames", "-3"], "--frames"),
        (run_cli.main, "sf-run", ["--max-new-tokens", "0"], "--max-new-tokens"),
        (info_cli.main, "sf-info", ["--frames", "0"], "--frames"),
    ],
)
def test_non_positive_counts(cache_dir, main, prog, argv, flag):
    code, out, err = call(main, argv)
    line = assert_one_line_error(code, out, err, prog)
    assert err.splitlines() == [line]  # rejected before any model is built
    assert flag in line


def test_checkpoint_without_config_json(tmp_path, cache_dir):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    code, out, err = call(run_cli.main, ["--checkpoint", str(folder), "--max-new-tokens", "2"])
    line = assert_one_line_error(code, out, err, "sf-run")
    assert err.splitlines() == [line]  # no random-weights warning with --checkpoint
    assert "config.json" in line and str(folder) in line


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from sf_mobile.checkpoints import build_random, save_checkpoint

    return save_checkpoint(build_random("tiny"), tmp_path_factory.mktemp("ckpt") / "tiny")


def test_checkpoint_round_trip_runs(tiny_checkpoint, cache_dir, default_report):
    code, out, err = call(run_cli.main, ["--checkpoint", str(tiny_checkpoint), "--json", "--max-new-tokens", "4"])
    assert code == 0, err
    report = json.loads(out)
    assert report["weights"]["weights"] == "checkpoint" and report["weights"]["tokenizer"] == "checkpoint"
    assert report["weights"]["path"] == str(tiny_checkpoint)
    assert "RANDOM" not in err
    # the saved weights are build_random("tiny")'s, seed 0: same greedy tokens as the random run
    assert report["tokens"] == default_report["tokens"][:4]


def test_checkpoint_with_wrong_tensor_shape(tiny_checkpoint, tmp_path, cache_dir):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "bad"
    shutil.copytree(tiny_checkpoint, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    name = "model.mm_projector.0.weight"
    assert name in tensors, sorted(tensors)
    rows, cols = tensors[name].shape
    tensors[name] = tensors[name].new_zeros(rows + 3, cols)
    save_file(tensors, str(folder / "model.safetensors"))

    code, out, err = call(run_cli.main, ["--checkpoint", str(folder), "--max-new-tokens", "2"])
    line = assert_one_line_error(code, out, err, "sf-run")
    assert err.splitlines() == [line]
    assert repr(name) in line
    assert f"[{rows + 3}, {cols}]" in line and f"[{rows}, {cols}]" in line


def test_bad_video_fails_before_the_model_is_built(tmp_path, cache_dir):
    code, out, err = call(run_cli.main, [str(tmp_path / "missing.mp4")])
    line = assert_one_line_error(code, out, err, "sf-run")
    assert err.splitlines() == [line]


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--top-p", "0"], "top-p"),
        (["--top-p", "1.5"], "top-p"),
        (["--temperature", "nan"], "temperature"),
        (["--temperature", "-1"], "temperature"),
        (["--top-k", "-3"], "top-k"),
    ],
)
def test_bad_sampling_values_are_rejected_before_the_model_is_built(cache_dir, flags, named):
    code, out, err = call(run_cli.main, [*flags, "--max-new-tokens", "2"])
    line = assert_one_line_error(code, out, err, "sf-run")
    assert err.splitlines() == [line] and named in line


def test_top_p_keeps_at_least_the_top_token():
    from sf_mobile.model.generation import SamplingParams, TokenChooser

    logits = torch.tensor([0.0, 5.0, 1.0])
    chooser = TokenChooser(SamplingParams(temperature=1.0, top_p=1e-6, seed=0))
    assert {chooser(logits) for _ in range(20)} == {1}


def test_prompt_longer_than_the_context_is_rejected(cache_dir):
    code, out, err = call(run_cli.main, ["--max-new-tokens", "5000"])
    line = assert_one_line_error(code, out, err, "sf-run")
    assert "5000 new tokens exceed" in line and "2048" in line


# --- help and cheap imports ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sf-run", "sf-info"])
def test_help(name):
    proc = spawn(entry_point(name), "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith(f"usage: {name} ")
    assert "--size" in proc.stdout and "--json" in proc.stdout and "--frames" in proc.stdout
    for preset in PRESETS:
        assert preset in proc.stdout


def test_parsers_do_not_import_heavy_modules():
    code = (
        "import sys, sf_mobile, sf_mobile.cli.run, sf_mobile.cli.info\n"
        "sf_mobile.cli.run.build_parser().parse_args([])\n"
        "sf_mobile.cli.info.build_parser().parse_args([])\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    proc = spawn(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_subprocess_does_not_import_torch():
    # `sf-run --help` exits inside argparse: prove it never got as far as torch.
    code = (
        "import sys\n"
        "from sf_mobile.cli import run\n"
        "try:\n"
        "    run.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    proc = spawn(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "LOADED []"
