"""Host decode benchmark: the preset's language model as our ExecuTorch 8da4w program, its decode
tokens/s at several context lengths beside the memory roofline measured in the same run and beside
peers that export the same architecture and quantization from the same weights.

    python -m sf_mobile.benchmarks.decode_host [--size 1b] [--contexts 128,1024,4096,9280]
        [--steps 32] [--threads 2] [--peers optimum-executorch,llama-cpp] [--workdir DIR] [--record]

Order of a run: (1) one child process builds the seeded random model, writes it as a Hugging Face
folder and exports our .pte from it; (2) each peer exports from that folder in its own venv;
(3) nothing else runs while the timings are taken, one engine at a time, each in its own process,
after the bandwidth probe; (4) ETDump profiles of both ExecuTorch programs at the largest context
and our program at one thread say what limits decode. With --record: results/decode_host.md (this
run, whole) and decode_host-<stamp>.json.

The peers: optimum-executorch (Hugging Face's ExecuTorch exporter; same ExecuTorch release, same
XNNPACK 8da4w recipe, group 32, 4-bit embedding) and llama.cpp through llama-cpp-python with a
Q4_0 GGUF (4-bit, blocks of 32, its own kernels; its KV cache is fp16, ours fp32).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from sf_mobile.benchmarks import record
from sf_mobile.benchmarks.decode_host import llamacpp_peer, optimum_peer
from sf_mobile.bench.roofline import decode_weight_bytes, kv_bytes_per_token, measure_bandwidth_gb_s, weight_scheme
from sf_mobile.errors import SfError
from sf_mobile.presets import get_preset

PEERS = ("optimum-executorch", "llama-cpp")
TARGET_ROOFLINE = 0.70  # the targets
TARGET_PEER = 1.2
DEFAULT_CONTEXTS = {"1b": "128,1024,4096,9280", "3b": "128,1024,4096,9280"}  # 9280: the 128-frame prompt
KV_FP32 = 4


def _child(args: list[str], what: str) -> dict:
    """Run `python -m <args>` in a fresh process; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SfError(f"{what} failed (exit {proc.returncode})", "see its messages above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_pte(pte: Path, layout: str, contexts: list[int], steps: int, threads: int) -> dict:
    return _child(["sf_mobile.benchmarks.decode_host.pte_decode", "--pte", str(pte), "--layout", layout,
                   "--contexts", ",".join(map(str, contexts)), "--steps", str(steps), "--threads", str(threads)],
                  f"timing {layout}")


def profile_pte(pte: Path, layout: str, context: int, threads: int) -> dict:
    return _child(["sf_mobile.benchmarks.decode_host.profile", "--pte", str(pte), "--layout", layout,
                   "--context", str(context), "--threads", str(threads)], f"profiling {layout}")


def build_artifacts(args, work: Path, max_context: int) -> dict:
    """Exports (skipped for artifacts already in --workdir). Returns what each took."""
    hf, ours = work / "hf", work / "ours.pte"
    built: dict = {}
    if not ours.is_file():
        print(f"[decode_host] our export of {args.size} (8da4w, max context {max_context}) ...", file=sys.stderr)
        built["ours"] = _child(["sf_mobile.benchmarks.decode_host.our_export", "--size", args.size, "--max-context",
                                str(max_context), "--hf-folder", str(hf), "--pte", str(ours)], "our export")
    if "optimum-executorch" in args.peers and not (work / "optimum" / "model.pte").is_file():
        print("[decode_host] optimum-executorch export ...", file=sys.stderr)
        built["optimum-executorch"] = optimum_peer.export(hf, work / "optimum", max_context)
    if "llama-cpp" in args.peers and not (work / "model-q4_0.gguf").is_file():
        print("[decode_host] llama.cpp venv and Q4_0 GGUF ...", file=sys.stderr)
        python, venv_s = llamacpp_peer.ensure_venv()
        built["llama-cpp"] = {"venv_build_s": round(venv_s, 1), **llamacpp_peer.build_q4_0_gguf(python, hf, work / "model-q4_0.gguf")}
    return built


def measure(args, work: Path, contexts: list[int]) -> dict:
    """Every timing of the run, back to back, one engine per process."""
    torch.set_num_threads(args.threads)
    bandwidth, how = measure_bandwidth_gb_s()
    engines = {"ours": time_pte(work / "ours.pte", "ours", contexts, args.steps, args.threads)}
    if "optimum-executorch" in args.peers:
        engines["optimum-executorch"] = time_pte(work / "optimum" / "model.pte", "optimum", contexts, args.steps, args.threads)
    if "llama-cpp" in args.peers:
        python, _ = llamacpp_peer.ensure_venv()
        engines["llama-cpp"] = {"rows": llamacpp_peer.measure_decode(python, work / "model-q4_0.gguf", contexts, args.steps, args.threads)}
    bandwidth_after, _ = measure_bandwidth_gb_s()  # the host did not change under the engines
    middle = contexts[len(contexts) // 2]
    profiles = {
        "ours": profile_pte(work / "ours.pte", "ours", contexts[-1], args.threads),
        "ours, 1 thread": profile_pte(work / "ours.pte", "ours", contexts[-1], 1),
    }
    if "optimum-executorch" in args.peers:
        profiles["optimum-executorch"] = profile_pte(work / "optimum" / "model.pte", "optimum", contexts[-1], args.threads)
    threads_1 = time_pte(work / "ours.pte", "ours", [middle], args.steps, 1)
    return {"bandwidth_gb_s": round(bandwidth, 2), "bandwidth_after_gb_s": round(bandwidth_after, 2), "bandwidth_method": how,
            "engines": engines, "profiles": profiles, "ours_1_thread": threads_1}


def summarize(config, measured: dict, contexts: list[int]) -> list[dict]:
    """One row per context: tok/s of each engine, the roofline bound and the ratios."""
    scheme = weight_scheme("8da4w", 32)
    weights = decode_weight_bytes(config, scheme)
    bandwidth = min(measured["bandwidth_gb_s"], measured["bandwidth_after_gb_s"]) * 1e9  # the kinder bound to us
    rows = []
    for index, context in enumerate(contexts):
        kv = kv_bytes_per_token(config, context, KV_FP32)
        bound = bandwidth / (weights + kv)
        row = {"context": context, "bytes_per_token": weights + kv, "roofline_tok_s": round(bound, 2)}
        for name, result in measured["engines"].items():
            row[name] = result["rows"][index]["tokens_per_s"]
        row["ours_vs_roofline"] = round(row["ours"] / bound, 3)
        for peer in PEERS:
            if peer in row:
                row[f"ours_vs_{peer}"] = round(row["ours"] / row[peer], 3)
        rows.append(row)
    return rows


def render(data: dict) -> str:
    rows, peers = data["rows"], [p for p in PEERS if p in data["rows"][0]]
    head = ["context", "bytes/token (MB)", "roofline tok/s", "ours tok/s", "ours / roofline",
            *[f"{p} tok/s" for p in peers], *[f"ours / {p}" for p in peers]]
    lines = [
        f"# Host decode: 8da4w ExecuTorch vs the memory roofline and peers ({data['size']}, random weights)",
        "",
        f"Command: `{data['command']}`  ",
        f"Date: {data['date']}; machine: {data['machine']}; threads: {data['threads']}.  ",
        f"Read bandwidth: {data['measured']['bandwidth_gb_s']} GB/s before the engines, "
        f"{data['measured']['bandwidth_after_gb_s']} GB/s after ({data['measured']['bandwidth_method']}); the bound uses the lower.  ",
        f"Targets (issue 9): ours >= {TARGET_ROOFLINE:.0%} of the roofline and >= {TARGET_PEER}x each peer. "
        f"Verdict: {data['verdict']}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        cells = [row["context"], f"{row['bytes_per_token'] / 1e6:.0f}", f"{row['roofline_tok_s']:.2f}", f"{row['ours']:.2f}",
                 f"{row['ours_vs_roofline']:.0%}", *[f"{row[p]:.2f}" for p in peers], *[f"{row[f'ours_vs_{p}']:.2f}x" for p in peers]]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += ["", "Roofline: bandwidth / bytes per token, the bytes of the ideal 4-bit layout (4 bits + an fp16 scale "
              "per 32 weights for every matrix incl. the tied output head; the embedding's one row; fp32 norms and "
              "biases) plus the fp32 KV cache up to the context; the same for every engine "
              "(`sf_mobile.bench.roofline`). llama.cpp keeps an fp16 cache, so it reads less at long contexts.",
              "ExecuTorch decode at context L runs with cache_position L onwards (the fused SDPA attends over slots "
              "0..L whatever they hold); llama.cpp's cache is filled by a real prefill of L tokens first.", ""]
    lines += ["## What limits decode (ETDump, ms per decode step at context "
              f"{rows[-1]['context']})", ""]
    profiles = data["measured"]["profiles"]
    categories = list(next(iter(profiles.values()))["ms_per_step"])
    lines.append("| category | " + " | ".join(profiles) + " |")
    lines.append("|---|" + "---|" * len(profiles))
    for category in [*categories, "wall"]:
        cells = [p["wall_ms_per_step"] if category == "wall" else p["ms_per_step"][category] for p in profiles.values()]
        lines.append(f"| {category} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    calls = {name: p["calls_per_step"] for name, p in profiles.items()}
    one = data["measured"]["ours_1_thread"]["rows"][0]
    at_two = next(r for r in rows if r["context"] == one["context"])
    lines += ["", f"Kernel calls per step: " + "; ".join(f"{n}: {c['DELEGATE_CALL']} XNNPACK delegate calls, "
                                                         f"{c['OPERATOR_CALL']} portable kernel calls" for n, c in calls.items()) + ".  ",
              f"Threads: ours at context {one['context']} gives {one['tokens_per_s']:.2f} tok/s on 1 thread and "
              f"{at_two['ours']:.2f} on {data['threads']} ({at_two['ours'] / one['tokens_per_s']:.2f}x).", ""]
    lines += ["## Exports of this run", ""]
    for name, built in data["built"].items():
        lines.append(f"- {name}: `{json.dumps(built, sort_keys=True)}`")
    if not data["built"]:
        lines.append("- none: every artifact was reused from --workdir")
    return "\n".join(lines) + "\n"


def headline(data: dict) -> str:
    """The README summary's line: the shortest and the longest context, never one alone."""
    def at(row: dict) -> str:
        peers = "".join(f", {row[f'ours_vs_{p}']:.2f}x {p}" for p in PEERS if f"ours_vs_{p}" in row)
        return f"context {row['context']}: {row['ours']:.1f} tok/s ({row['ours_vs_roofline']:.0%} of roofline{peers})"

    rows = data["rows"]
    return f"{data['size']} 8da4w, " + "; ".join(at(row) for row in (rows[0], rows[-1])[: len(rows)])


def verdict(rows: list[dict]) -> str:
    worst_roof = min(r["ours_vs_roofline"] for r in rows)
    parts = [f"roofline {'met' if worst_roof >= TARGET_ROOFLINE else 'not met'} (worst {worst_roof:.0%})"]
    for peer in PEERS:
        key = f"ours_vs_{peer}"
        if key in rows[0]:
            worst = min(r[key] for r in rows)
            parts.append(f"{peer} {'met' if worst >= TARGET_PEER else 'not met'} (worst {worst:.2f}x)")
    return "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1b")
    parser.add_argument("--contexts", help="comma-separated decode contexts (default: per preset)")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}, or ''")
    parser.add_argument("--workdir", type=Path, help="keep and reuse the exports here (default: a temp folder, removed)")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="print (with --record: rewrite results/decode_host.md) the report of a recorded run; measures nothing")
    args = parser.parse_args(argv)
    if args.render is not None:
        data = json.loads(args.render.read_text())
        text = render(data)
        print(text)
        if args.record:  # the report and the summary's headline, re-derived from the recorded rows
            (record.RESULTS / "decode_host.md").write_text(text)
            args.render.write_text(json.dumps({**data, "headline": headline(data)}, indent=2) + "\n")
        return 0
    config = get_preset(args.size)
    args.peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {unknown}; valid: {','.join(PEERS)}")
    contexts = sorted(int(c) for c in (args.contexts or DEFAULT_CONTEXTS.get(args.size, "16,64")).split(","))
    max_context = -(-(contexts[-1] + args.steps + 8) // 256) * 256  # room for warm-up + timed steps
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sf-decode-host-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        built = build_artifacts(args, work, max_context)
        print("[decode_host] timing ...", file=sys.stderr)
        measured = measure(args, work, contexts)
    except SfError as err:
        print(f"decode_host: error: {err}", file=sys.stderr)
        return 2
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    rows = summarize(config, measured, contexts)
    data = {
        "size": args.size, "command": record.command_line("decode_host", argv), "date": record.today(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "threads": args.threads, "max_context": max_context, "rows": rows, "measured": measured, "built": built,
        "verdict": verdict(rows),
    }
    data["headline"] = headline(data)
    text = render(data)
    print(text)
    if args.record:
        record.RESULTS.mkdir(exist_ok=True)
        (record.RESULTS / "decode_host.md").write_text(text)
        (record.RESULTS / f"decode_host-{record.stamp()}.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
