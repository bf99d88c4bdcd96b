"""sf-plan: the device profiles (one cited data file), the estimate's arithmetic, the search (the
choice fits and the next larger budget does not), one-line errors with exit 2, and --json."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from sf_mobile import cost, plan
from sf_mobile.cli import plan as plan_cli
from sf_mobile.presets import get_preset

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "sf_mobile" / "data" / "device_profiles.json"
ONE_B = get_preset("1b")
HEAVY_MODULES = ("torch", "transformers", "av", "executorch", "coremltools", "onnxruntime")


def call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = plan_cli.main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def one_line_error(argv: list[str]) -> str:
    code, out, err = call(argv)
    assert (code, out) == (2, ""), (code, out, err)
    assert err.count("\n") == 1 and err.startswith("sf-plan: error: "), err
    return err.strip()


# --- the profiles -------------------------------------------------------------------------------


def test_profiles_are_package_data():
    # what sf_mobile.plan reads through importlib.resources is the file in the source tree
    # (tests/test_packaging.py checks the wheel carries it)
    installed = resources.files("sf_mobile").joinpath("data", "device_profiles.json")
    assert installed.is_file() and installed.read_bytes() == DATA.read_bytes()
    assert list(plan.load_profiles()) == ["iphone-15-pro", "snapdragon-8-gen-3", "pixel-8"]


def _numbers(node, path=()):
    """(path, number) for every numeric leaf of the JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


def test_every_number_in_the_profiles_is_cited():
    data = json.loads(DATA.read_text())
    numbers = list(_numbers(data))
    assert len(numbers) == 3 * (6 + 4)  # per profile: 6 quantities + the recipe's 4 non-null numbers
    for path, _ in numbers:
        top, name, part, *rest = path
        assert top == "profiles", path
        holder = data["profiles"][name][part]
        if part == "export":  # the project's own recipe: one citation of its source files
            assert holder["source"].startswith("sf-export --target"), path
        else:  # a quantity: {value, unit, basis, source}
            assert rest == ["value"], path
            assert holder["basis"] in plan.BASES, path
            assert len(holder["source"]) > 60 and holder["unit"], path  # a source and its reasoning, not a tag


def test_every_profile_has_every_quantity_in_range():
    for profile in plan.load_profiles().values():
        assert set(profile.quantities) == set(plan.QUANTITIES)
        assert 0 < profile.app_memory_fraction <= 1 and 0 < profile.compute_efficiency <= 1
        assert 0 < profile.bandwidth_efficiency <= 1
        assert profile.export.attention in ("causal", "whole_cache")
        assert "{preset}" in profile.export.command and "{frames}" in profile.export.command


def test_derived_and_assumed_figures_recompute_from_their_stated_parts():
    p = plan.load_profiles()
    assert p["snapdragon-8-gen-3"].memory_bandwidth_bytes_per_s == 4800e6 * 2 * 8  # 4 x 16-bit LPDDR5X at 4800 MHz
    assert p["iphone-15-pro"].memory_bandwidth_bytes_per_s == 6400e6 * 8  # LPDDR5-6400, 64-bit
    assert p["pixel-8"].memory_bandwidth_bytes_per_s == 8533e6 * 8  # LPDDR5X-8533, 64-bit
    assert p["pixel-8"].peak_ops_per_s == pytest.approx(2.91e9 * 128 + 4 * 2.37e9 * 64 + 4 * 1.7e9 * 32, rel=1e-12)
    assert p["iphone-15-pro"].app_memory_fraction == 6 / 8  # 6 GiB of 8 GiB
    assert p["iphone-15-pro"].quantities["peak_ops_per_s"].basis == "vendor"
    assert p["pixel-8"].quantities["compute_efficiency"].basis == "assumed"


# --- the estimate -------------------------------------------------------------------------------


def test_estimate_arithmetic_on_a_whole_cache_export():
    profile = plan.get_profile("iphone-15-pro")
    est = plan.estimate(ONE_B, profile, 24, 120)
    assert (est.slow_tokens, est.fast_tokens, est.prompt_rows) == (4608, 24 * 36, 4608 + 864 + 64)
    assert est.context == 6656  # 5472 visual + 1024 headroom = 6496, rounded up to 256
    assert est.prefill_calls == math.ceil(5536 / 64) == 87
    ops, bandwidth = 35e12 * 0.125, 51.2e9 * 0.7
    kv_per_position = 28 * 2 * 2 * 128 * 2  # fp16 K and V of every layer
    assert est.ttft_ms["kv_cache_read"] == pytest.approx(kv_per_position * 6656 * 87 / bandwidth * 1e3)
    linear = 2 * 1_310_340_608 * 5536 + 2 * 151936 * 1536
    attention = 4 * 28 * 12 * 128 * 64 * 6656 * 87  # every call scores all 6656 slots
    assert est.flops["prefill"] == linear + attention
    assert est.ttft_ms["prefill_compute"] == pytest.approx((linear + attention) / ops * 1e3)
    assert est.ttft_ms["total"] == pytest.approx(sum(v for k, v in est.ttft_ms.items() if k != "total"))
    assert est.memory_bytes["kv_cache"] == 28 * 2 * 2 * 128 * 6656 * 2
    assert est.memory_bytes["vision_features"] == 24 * 576 * 1152 * 4
    assert est.memory_bytes["total"] == sum(v for k, v in est.memory_bytes.items() if k != "total")


def test_estimate_on_a_causal_single_call_export():
    est = plan.estimate(ONE_B, plan.get_profile("pixel-8"), 8, 60)
    assert est.prefill_calls == 1
    assert est.ttft_ms["kv_cache_read"] == 0  # one call: its own keys stay inside the graph
    assert est.flops["prefill"] == cost.prefill_flops(ONE_B, 1_310_340_608, est.prompt_rows)["total"]
    assert est.sampling == "uniform"  # 8 frames from a 60 s video


# --- the search ---------------------------------------------------------------------------------


def test_choice_fits_and_the_next_larger_budget_does_not():
    profile = plan.get_profile("iphone-15-pro")
    result = plan.plan(ONE_B, profile, 120, 10_000)
    assert (result.max_frames, result.choice.frames) == (120, 24)
    assert result.choice.fits(10_000, profile.memory_budget)
    assert result.next_larger.frames == 25 and not result.next_larger.fits(10_000, profile.memory_budget)
    assert result.next_larger.ttft_ms["total"] > 10_000  # TTFT is what binds here, not memory
    assert result.why_not(result.next_larger).startswith("TTFT ") and "GiB" not in result.why_not(result.next_larger)
    assert result.export_command == "sf-export --target coreml --size 1b --quant int4 --frames 24"


def test_memory_can_bind_instead_of_time():
    profile = plan.get_profile("iphone-15-pro")
    at_10 = plan.estimate(ONE_B, profile, 10, 120).memory_bytes["total"]
    at_11 = plan.estimate(ONE_B, profile, 11, 120).memory_bytes["total"]
    # an app allowed exactly the 10-frame footprint
    quantities = dict(profile.quantities)
    quantities["app_memory_fraction"] = dataclasses.replace(quantities["app_memory_fraction"], value=at_10 / profile.ram_bytes)
    small = dataclasses.replace(profile, quantities=quantities)
    result = plan.plan(ONE_B, small, 120, 1e9)
    assert result.choice.frames == 10 and result.next_larger.frames == 11
    assert at_10 <= small.memory_budget < at_11
    assert result.why_not(result.next_larger).startswith("memory ")


def test_a_generous_target_takes_every_sampled_frame():
    result = plan.plan(ONE_B, plan.get_profile("snapdragon-8-gen-3"), 45, 1e9)
    assert (result.choice.frames, result.choice.sampling, result.next_larger) == (45, "fps", None)


# --- the command --------------------------------------------------------------------------------


def test_json_schema():
    code, out, err = call(["--size", "1b", "--device", "iphone-15-pro", "--video-seconds", "120", "--ttft-ms", "10000", "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert set(report) == {
        "schema", "estimate_on_paper", "preset", "device", "video_seconds", "ttft_target_ms", "max_frames", "choice",
        "next_larger", "memory_budget_bytes", "export_command", "pooling_varied", "assumptions", "profile",
    }
    assert (report["schema"], report["estimate_on_paper"], report["pooling_varied"]) == ("sf-plan/1", True, False)
    assert report["device"] == {"key": "iphone-15-pro", "name": "iPhone 15 Pro", "soc": "Apple A17 Pro",
                                "compute_unit": "16-core Neural Engine (Core ML)"}
    choice = report["choice"]
    assert set(choice) == {"frames", "sampling", "visual_tokens", "prompt_rows", "context", "prefill_calls", "flops",
                           "ttft_ms", "memory_bytes"}
    assert choice["visual_tokens"] == {"slow": 4608, "fast": 864, "total": 5472}
    assert set(choice["ttft_ms"]) == {"vision_compute", "vision_weights_read", "prefill_compute", "prefill_weights_read",
                                      "kv_cache_read", "total"}
    assert choice["ttft_ms"]["total"] <= 10_000 < report["next_larger"]["ttft_ms"]["total"]
    assert report["next_larger"]["does_not_fit"].startswith("TTFT ")
    assert report["memory_budget_bytes"] == 6 * 2**30
    assert report["profile"]["ram_bytes"]["basis"] == "third-party" and report["profile"]["export"]["prefill_chunk"] == 64
    assert all(isinstance(line, str) and line for line in report["assumptions"])
    assert any(line.startswith("Pooling is fixed by the trained model") for line in report["assumptions"])


def test_text_report_labels_the_estimate_and_lists_assumptions():
    code, out, err = call(["--size", "1b", "--device", "pixel-8", "--video-seconds", "30", "--ttft-ms", "60000"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("ESTIMATE ON PAPER")
    assert lines[2].startswith("choice: 11 frames (uniform sampling, one every 2.7 s; the preset would take 30) -> 5004 visual tokens")
    assert "export: sf-export --target executorch --size 1b --quant 8da4w --group-size 32 --embedding-quant 4w " \
           "--vision-quant 8da8w --frames 11" in lines
    at = lines.index("assumptions:")
    assert len(lines) - at - 1 == len(plan.assumptions(ONE_B, plan.get_profile("pixel-8"), 30))
    assert all(line.startswith("  - ") for line in lines[at + 1 :])


def test_unmeetable_target_names_the_smallest_ttft():
    line = one_line_error(["--size", "1b", "--device", "iphone-15-pro", "--video-seconds", "120", "--ttft-ms", "3000"])
    smallest = math.ceil(plan.estimate(ONE_B, plan.get_profile("iphone-15-pro"), 1, 120).ttft_ms["total"])
    assert line == (
        f"sf-plan: error: no frame count meets a 3000 ms TTFT for 1b on iPhone 15 Pro: the smallest estimate is "
        f"{smallest} ms at 1 frame (on paper; 4644 visual tokens, the slow pathway's fixed part); "
        f"raise --ttft-ms to {smallest} or more, or use a smaller preset"
    )


def test_a_preset_too_big_for_the_phone():
    line = one_line_error(["--size", "7b", "--device", "pixel-8", "--video-seconds", "30", "--ttft-ms", "1e9"])
    assert line.startswith("sf-plan: error: 7b needs an estimated ") and "over the 4.00 GiB an app may use" in line


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--size", "1b", "--device", "nokia-3310"],
         "sf-plan: error: unknown device 'nokia-3310'; valid devices: iphone-15-pro, snapdragon-8-gen-3, pixel-8"),
        (["--size", "2b", "--device", "pixel-8"],
         "sf-plan: error: unknown preset '2b'; valid presets: tiny, tiny-v1, 1b, 3b, 7b, v1-7b"),
    ],
)
def test_unknown_names_list_the_valid_ones(argv, expected):
    assert one_line_error([*argv, "--video-seconds", "30", "--ttft-ms", "1000"]) == expected


@pytest.mark.parametrize("flag, value", [("--video-seconds", "0"), ("--video-seconds", "inf"), ("--ttft-ms", "-5"),
                                         ("--ttft-ms", "nan")])
def test_non_positive_inputs(flag, value):
    argv = {"--size": "1b", "--device": "pixel-8", "--video-seconds": "30", "--ttft-ms": "1000", flag: value}
    line = one_line_error([x for pair in argv.items() for x in pair])
    assert line.startswith(f"sf-plan: error: {flag} is ")


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from sf_mobile.cli import plan\n"
        "try:\n"
        "    plan.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: sf-plan ") and "iphone-15-pro, snapdragon-8-gen-3, pixel-8" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "LOADED []"
