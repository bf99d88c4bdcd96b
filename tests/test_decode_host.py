"""The host decode benchmark (benchmarks/decode_host): the shared Hugging Face folder is the same
model, the arithmetic of its report, the ETDump categories, and one run end to end on tiny without
peers (the peers' venvs are built by the benchmark itself; tests/test_decode_host_llamacpp.py covers
the llama.cpp peer's pure parts)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import Counter

import pytest
import torch

from sf_mobile.benchmarks.decode_host import __main__ as bench
from sf_mobile.benchmarks.decode_host.hf_folder import write_hf_folder
from sf_mobile.benchmarks.decode_host.profile import categorize
from sf_mobile.checkpoints import LoadedModel, build_random
from sf_mobile.model.slowfast_llava import build_model
from sf_mobile.presets import get_preset

# fp32 on both sides, same weights; only the attention kernel differs (transformers' default SDPA vs
# our eager), so op order alone: a dropped rope_theta or eps gives ~1e-1
SAME_MODEL_REL_L2 = 1e-5


def test_the_hf_folder_is_our_language_model(tmp_path):
    from transformers import AutoModelForCausalLM

    base = build_random("tiny")
    # rope_theta and eps away from transformers' defaults, so a key the folder drops would show
    llm = dataclasses.replace(base.config.llm, rope_theta=1_000_000.0, rms_norm_eps=1e-5)
    config = dataclasses.replace(base.config, llm=llm)
    loaded = LoadedModel(model=build_model(config, seed=3), codec=base.codec, origin=base.origin)
    folder = write_hf_folder(loaded, tmp_path / "hf")
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.arange(40).remainder(config.llm.vocab_size).unsqueeze(0)
    with torch.no_grad():
        ours = loaded.model.llm(ids).logits
        theirs = hf(ids).logits
    assert ((theirs - ours).norm() / ours.norm()).item() < SAME_MODEL_REL_L2
    assert not (folder / "lm_head.weight").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


def measured(ours: list[float], peer: list[float], bandwidth=(20.0, 18.0)) -> dict:
    rows = lambda rates: {"rows": [{"tokens_per_s": r} for r in rates]}  # noqa: E731
    return {"bandwidth_gb_s": bandwidth[0], "bandwidth_after_gb_s": bandwidth[1],
            "engines": {"ours": rows(ours), "optimum-executorch": rows(peer)}}


def test_rows_hold_the_roofline_from_the_lower_bandwidth_and_the_ratios():
    config = get_preset("1b")
    rows = bench.summarize(config, measured([10.0, 8.0], [5.0, 8.0]), [128, 4096])
    from sf_mobile.bench.roofline import decode_weight_bytes, weight_scheme

    weights = decode_weight_bytes(config, weight_scheme("8da4w", 32))
    kv_128 = 2 * 28 * 128 * 2 * 128 * 4  # k and v, layers, positions, kv heads, head dim, fp32
    assert rows[0]["bytes_per_token"] == weights + kv_128
    assert rows[0]["roofline_tok_s"] == pytest.approx(18e9 / (weights + kv_128), abs=0.01)
    assert rows[1]["roofline_tok_s"] < rows[0]["roofline_tok_s"]  # the cache is read on top of the weights
    assert rows[0]["ours_vs_optimum-executorch"] == 2.0 and rows[1]["ours_vs_optimum-executorch"] == 1.0
    assert rows[0]["ours_vs_roofline"] == pytest.approx(10.0 / rows[0]["roofline_tok_s"], abs=1e-3)


def test_the_verdict_takes_the_worst_context():
    rows = [{"ours_vs_roofline": 0.9, "ours_vs_optimum-executorch": 1.5},
            {"ours_vs_roofline": 0.5, "ours_vs_optimum-executorch": 1.1}]
    assert bench.verdict(rows) == "roofline not met (worst 50%); optimum-executorch not met (worst 1.10x)"
    rows[1] = {"ours_vs_roofline": 0.7, "ours_vs_optimum-executorch": 1.2}
    assert bench.verdict(rows) == "roofline met (worst 70%); optimum-executorch met (worst 1.20x)"


def test_etdump_categories_subtract_what_is_nested():
    totals = Counter({
        "Method::execute": 100.0, "DELEGATE_CALL": 60.0, "OPERATOR_CALL": 30.0,
        "Fully Connected (NC, QDU8, F32, QB4W) GEMM": 45.0, "Add (ND)": 5.0,
        "llama::custom_sdpa.out": 12.0, "llama::update_cache.out": 3.0, "native_call_mean.out": 4.0,
    })
    assert categorize(totals) == {
        "xnnpack_4bit_linears": 45.0, "xnnpack_other_ops": 5.0, "delegate_call_overhead": 10.0,
        "custom_sdpa": 12.0, "update_cache": 3.0, "other_portable_kernels": 15.0, "runtime_outside_calls": 10.0,
    }


def test_an_unknown_peer_is_refused_before_any_work():
    proc = subprocess.run([sys.executable, "-m", "sf_mobile.benchmarks.decode_host", "--size", "tiny", "--peers", "vllm"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown peer(s) ['vllm']; valid: optimum-executorch,llama-cpp" in proc.stderr


def test_tiny_runs_end_to_end_without_peers(tmp_path):
    """Our export, the bandwidth probe, timing at two contexts, the ETDump profiles and the report.
    The figures at tiny mean nothing; the checks are that every part ran and was reported."""
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "-m", "sf_mobile.benchmarks.decode_host", "--size", "tiny", "--peers", "", "--steps", "4",
         "--contexts", "8,40", "--workdir", str(work)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = proc.stdout
    assert "| context | bytes/token (MB) | roofline tok/s | ours tok/s | ours / roofline |" in report
    assert [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| 8 |") or line.startswith("| 40 |")] == ["8", "40"]
    assert "| xnnpack_4bit_linears |" in report and "| custom_sdpa |" in report
    assert "Verdict: roofline" in report
    assert (work / "ours.pte").is_file() and (work / "hf" / "model.safetensors").is_file()


def test_the_headline_shows_the_shortest_and_the_longest_context():
    row = lambda context, ours, roof: {"context": context, "ours": ours, "ours_vs_roofline": roof,  # noqa: E731
                                       "ours_vs_llama-cpp": ours / 10}
    data = {"size": "1b", "rows": [row(128, 30.0, 0.9), row(1024, 20.0, 0.7), row(9280, 5.0, 0.25)]}
    assert bench.headline(data) == ("1b 8da4w, context 128: 30.0 tok/s (90% of roofline, 3.00x llama-cpp); "
                                    "context 9280: 5.0 tok/s (25% of roofline, 0.50x llama-cpp)")
    data["rows"] = data["rows"][:1]
    assert bench.headline(data).count("context") == 1


def test_the_packed_attention_computes_what_custom_sdpa_computes():
    from sf_mobile.benchmarks.decode_host.attention import FP32_REL_L2, measure

    rows = measure("tiny", [16, 64], threads=1)  # raises when the two disagree
    assert [r["context"] for r in rows] == [16, 64]
    assert all(r["rel_l2"] <= FP32_REL_L2 and r["custom_sdpa_ms"] > 0 and r["packed_bmm_ms"] > 0 for r in rows)
