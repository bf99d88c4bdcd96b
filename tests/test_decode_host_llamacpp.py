"""The llama.cpp peer of the host decode benchmark, without its compiled venv.

The full path (build llama-cpp-python, convert, quantize, time) runs in the benchmark; here the
pure parts: the HF -> GGUF tensor names and vocab padding of the converter script, the decode
script's arguments and prefill plan, and how llamacpp_peer builds, reuses and reads the peer venv.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sf_mobile.benchmarks.decode_host import llamacpp_peer as peer
from sf_mobile.benchmarks.decode_host import peer_venv
from sf_mobile.errors import SfError


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the scripts import gguf / llama_cpp only inside functions
    return module


gguf_script = load_script(peer.GGUF_SCRIPT)
decode_script = load_script(peer.DECODE_SCRIPT)


def qwen2_names(n_layers: int, tied: bool) -> list[str]:
    names = ["model.embed_tokens.weight", "model.norm.weight"] + ([] if tied else ["lm_head.weight"])
    for i in range(n_layers):
        p = f"model.layers.{i}."
        names += [p + f"self_attn.{x}_proj.{k}" for x in "qkv" for k in ("weight", "bias")]
        names += [p + "self_attn.o_proj.weight", p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
        names += [p + f"mlp.{x}_proj.weight" for x in ("gate", "up", "down")]
    return names


def test_tensor_names_are_llama_cpps():
    names = {n: gguf_script.gguf_name(n) for n in qwen2_names(12, tied=False)}
    assert len(set(names.values())) == len(names)  # no two tensors collide
    assert names["model.embed_tokens.weight"] == "token_embd.weight"
    assert names["lm_head.weight"] == "output.weight"
    assert names["model.norm.weight"] == "output_norm.weight"
    assert names["model.layers.11.self_attn.q_proj.bias"] == "blk.11.attn_q.bias"
    assert names["model.layers.0.self_attn.o_proj.weight"] == "blk.0.attn_output.weight"
    assert names["model.layers.3.mlp.down_proj.weight"] == "blk.3.ffn_down.weight"
    assert names["model.layers.3.input_layernorm.weight"] == "blk.3.attn_norm.weight"
    assert names["model.layers.3.post_attention_layernorm.weight"] == "blk.3.ffn_norm.weight"
    for bad in ("model.layers.0.self_attn.rotary_emb.inv_freq", "model.layers.x.mlp.up_proj.weight", "vision.w"):
        with pytest.raises(ValueError, match="no GGUF name"):
            gguf_script.gguf_name(bad)


def test_vocab_is_padded_to_the_models_rows():
    tok = {
        "model": {"type": "BPE", "vocab": {"<|endoftext|>": 0, "a": 1, "b": 2, "ab": 3}, "merges": [["a", "b"]]},
        "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": True}, {"id": 4, "content": "<x>", "special": False}],
    }
    tokens, types = gguf_script.padded_vocab(tok, 7)
    assert tokens == ["<|endoftext|>", "a", "b", "ab", "<x>", "[PAD5]", "[PAD6]"]
    assert types == [3, 1, 1, 1, 4, 5, 5]  # control, normal, user-defined, unused
    assert gguf_script.merges_of(tok) == ["a b"]
    assert gguf_script.merges_of({"model": {"merges": ["a b", "ab c"]}}) == ["a b", "ab c"]
    with pytest.raises(ValueError, match="vocab_size is 4"):
        gguf_script.padded_vocab(tok, 4)


def test_gguf_script_arguments():
    args = gguf_script.parse_args(["hf", "out.gguf"])
    assert (args.intermediate, args.no_quantize, args.threads) == ("f32", False, 0)
    assert gguf_script.parse_args(["hf", "o", "--intermediate", "f16", "--no-quantize"]).no_quantize


def test_decode_script_arguments_and_prefill_plan(capsys):
    args = decode_script.parse_args(["m.gguf", "--contexts", "16,64", "--steps", "8", "--threads", "2"])
    assert (args.contexts, args.steps, args.threads, args.batch) == ([16, 64], 8, 2, 512)
    for bad in ("64,16", "16,16", "1,8", ""):
        with pytest.raises(SystemExit):
            decode_script.parse_args(["m.gguf", "--contexts", bad])
    capsys.readouterr()
    assert decode_script.n_ctx_for([16, 1024], 32) == 1024 + 32 + 8
    assert decode_script.prefill_chunks(0, 1100, 512) == [(0, 512), (512, 1024), (1024, 1100)]
    assert decode_script.prefill_chunks(62, 62, 512) == []


def test_decode_arguments_and_rows():
    assert peer.decode_args(Path("m.gguf"), [16, 64], 4, 2) == ["m.gguf", "--contexts", "16,64", "--steps", "4", "--threads", "2"]
    # the peer checks exactly what the script checks, so both sides agree on what is valid
    decode_script.parse_args(peer.decode_args(Path("m.gguf"), [16, 64], 4, 2))
    with pytest.raises(SfError, match="ascending"):
        peer.decode_args(Path("m.gguf"), [64, 16], 4, 2)
    with pytest.raises(SfError, match="positive"):
        peer.decode_args(Path("m.gguf"), [16], 0, 2)
    report = {"results": [{"context": 16, "ms_per_token": 4.0, "tokens_per_s": 250.0, "steps": 4, "ms_min": 3.9}]}
    assert peer.decode_rows(report, [16], 4) == [{"context": 16, "ms_per_token": 4.0, "tokens_per_s": 250.0, "steps": 4}]
    with pytest.raises(ValueError):
        peer.decode_rows(report, [16, 64], 4)


def test_last_json_line_skips_stray_output():
    out = 'llama_model_loader: noise\n{"a": 1}\n{not json\n[1, 2]\n'
    assert peer.last_json_line(out) == {"a": 1}
    with pytest.raises(ValueError):
        peer.last_json_line("no json here\n")
    # what llama.cpp 0.3.36's quantizer printed for the tiny preset's tied 64-wide embedding
    stderr = (
        "[   1/  26] output_norm.weight - [64, 1, 1, 1], type = f32, size = 0.000 MiB\n"
        "warning: token_embd.weight - ncols 64 not divisible by 256 (required for type q6_K) -> falling back to q8_0\n"
        "llama_model_quantize_impl: WARNING: 1 of 26 tensor(s) required fallback quantization\n"
    )
    assert peer.quantizer_type_lines(stderr) == stderr.splitlines()[1:]


def fake_python(path: Path, rc: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexit {rc}\n")
    path.chmod(0o755)
    return path


def test_a_ready_venv_is_reused(tmp_path, monkeypatch):
    venv = tmp_path / peer.VENV_NAME
    python = fake_python(peer_venv.venv_python(venv), 0)
    (venv / peer_venv.MARKER).write_text("\n".join(peer.REQUIREMENTS) + "\n")
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(peer_venv.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or real_run(cmd, **kw))
    assert peer.ensure_venv(tmp_path) == (python, 0.0)
    assert calls == [[str(python), "-c", peer.IMPORT_CHECK]]  # only the import check, no pip


def test_a_half_built_venv_is_rebuilt_and_a_failure_names_the_log(tmp_path, monkeypatch):
    venv = tmp_path / peer.VENV_NAME
    fake_python(peer_venv.venv_python(venv), 0)  # imports fine, but no marker: an interrupted build
    (venv / "leftover").write_text("x")
    calls = []

    def run(cmd, **kw):
        calls.append(cmd)
        if cmd[:3] == [sys.executable, "-m", "venv"]:
            (venv / "bin").mkdir(parents=True, exist_ok=True)
            return subprocess.CompletedProcess(cmd, 0)
        assert kw["env"]["CMAKE_ARGS"] == peer.CMAKE_ARGS and "--no-binary" in cmd
        kw["stdout"].write("Collecting llama-cpp-python\nERROR: Failed building wheel for llama-cpp-python\n")
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(peer_venv.subprocess, "run", run)
    with pytest.raises(SfError) as err:
        peer.ensure_venv(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "Failed building wheel" in msg and str(venv / peer_venv.LOG) in msg
    assert not (venv / "leftover").exists()  # the half-built venv was removed first
    assert not (venv / peer_venv.MARKER).exists()
    assert calls[0][:3] == [sys.executable, "-m", "venv"]


def test_pins_are_exact():
    assert all("==" in r for r in peer.REQUIREMENTS)
    assert "llama-cpp-python==0.3.36" in peer.REQUIREMENTS and "gguf==0.19.0" in peer.REQUIREMENTS
    assert json.loads(json.dumps(peer.REQUIREMENTS))  # plain strings, written to the marker file
