"""The llama.cpp peer of the host decode benchmark: the same Hugging Face Qwen2 folder, converted
to GGUF, quantized to Q4_0 by llama.cpp's own quantizer, and timed one token at a time.

llama.cpp runs through llama-cpp-python in a virtualenv of its own (built from the sdist for this
CPU), never in our venv: its numpy/gguf pins must not disturb ours. This module only drives that
venv by subprocess; the two scripts it runs live in peer_scripts/ and import gguf / llama_cpp,
never sf_mobile (they keep their third-party imports inside functions, so their pure parts, e.g.
the HF -> GGUF tensor names, are testable from our venv too).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from sf_mobile.benchmarks.decode_host.peer_venv import ensure_venv as ensure_peer_venv
from sf_mobile.errors import SfError

# Exact pins, each checked to install together on Python 3.11 (numpy below 2.4 like our own venv).
REQUIREMENTS = (
    "llama-cpp-python==0.3.36",
    "gguf==0.19.0",
    "numpy==2.3.5",
    "safetensors==0.8.0",
)
VENV_NAME = "llamacpp-venv"
# A CPU-only build tuned for this machine: no BLAS (decode is matrix-vector, ggml's own kernels are
# what a phone runs too), and no CUDA even where nvcc happens to be installed.
CMAKE_ARGS = "-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF"
IMPORT_CHECK = "import llama_cpp, gguf, numpy, safetensors; print(llama_cpp.__version__, gguf.__name__)"
SCRIPTS = Path(__file__).resolve().parent / "peer_scripts"
GGUF_SCRIPT = SCRIPTS / "llamacpp_gguf.py"
DECODE_SCRIPT = SCRIPTS / "llamacpp_decode.py"

def _tail(text: str, lines: int = 1) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) if kept else "(no output)"


def ensure_venv(root: Path | None = None) -> tuple[Path, float]:
    """(the peer venv's python, seconds spent building it: 0 when reused). The first build takes
    about 10 minutes on 2 cores: llama.cpp compiles from the sdist."""
    return ensure_peer_venv(
        VENV_NAME, REQUIREMENTS, IMPORT_CHECK, root=root,
        # --no-binary: compiled here for this CPU (GGML_NATIVE), never a prebuilt wheel;
        # --no-cache-dir: pip's wheel cache does not key on CMAKE_ARGS, so a cached build could be another one.
        pip_args=("--no-cache-dir", "--no-binary", "llama-cpp-python"),
        env={"CMAKE_ARGS": CMAKE_ARGS, "FORCE_CMAKE": "1", "CMAKE_BUILD_PARALLEL_LEVEL": "2"},
    )


def last_json_line(stdout: str) -> dict:
    """The JSON object a peer script printed last; llama.cpp's own logs go to stderr, but tolerate
    stray lines before it."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object line in the output")


def _run_script(python: Path, script: Path, args: list[str], what: str, log: Path, timeout: int) -> tuple[dict, str]:
    """Run a peer script; its stderr (llama.cpp's logs) goes to `log`; (its JSON, its stderr)."""
    cmd = [str(python), str(script), *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SfError(f"{what} timed out after {timeout} s", f"rerun with fewer contexts or steps: {' '.join(cmd)}") from None
    log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    if done.returncode != 0:
        raise SfError(f"{what} failed (exit {done.returncode}): {_tail(done.stderr)}", f"see {log}")
    try:
        return last_json_line(done.stdout), done.stderr
    except ValueError:
        raise SfError(f"{what} printed no JSON result", f"see {log}") from None


def quantizer_type_lines(stderr: str) -> list[str]:
    """The lines where llama.cpp's quantizer says it picked another type than asked (its fallbacks)."""
    keys = ("fallback", "falling back", "cannot be quantized")
    return [line.strip() for line in stderr.splitlines() if any(k in line.lower() for k in keys)]


def build_q4_0_gguf(python: Path, hf_folder: Path, out: Path, *, threads: int = 0, timeout: int = 3600) -> dict:
    """The Hugging Face folder as a Q4_0 GGUF at `out`, quantized by llama.cpp itself (via an F32
    GGUF, removed afterwards). Returns {"bytes", "seconds", "tensor_types", "quantizer_fallbacks", ...}."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result, stderr = _run_script(
        Path(python), GGUF_SCRIPT, [str(hf_folder), str(out), "--threads", str(threads)],
        "converting to a Q4_0 GGUF", out.with_name(out.name + ".log"), timeout,
    )
    result["wall_seconds"] = time.perf_counter() - started
    result["quantizer_fallbacks"] = quantizer_type_lines(stderr)
    return result


def decode_args(gguf: Path, contexts: list[int], steps: int, threads: int) -> list[str]:
    """The decode script's arguments, checked here so a bad call fails before the venv starts."""
    contexts = [int(c) for c in contexts]
    if not contexts or sorted(set(contexts)) != contexts or contexts[0] < 2:
        raise SfError(f"contexts must be strictly ascending and each at least 2, got {contexts}", "sort and deduplicate them")
    if steps < 1 or threads < 1:
        raise SfError(f"steps and threads must be positive, got steps={steps} threads={threads}")
    return [str(gguf), "--contexts", ",".join(map(str, contexts)), "--steps", str(steps), "--threads", str(threads)]


def decode_rows(report: dict, contexts: list[int], steps: int) -> list[dict]:
    """measure_decode's rows from the script's JSON, checked against what was asked."""
    rows = [
        {"context": int(r["context"]), "ms_per_token": float(r["ms_per_token"]),
         "tokens_per_s": round(1000.0 / float(r["ms_per_token"]), 3), "steps": int(r["steps"])}
        for r in report["results"]
    ]
    if [r["context"] for r in rows] != list(contexts) or any(r["steps"] != steps for r in rows):
        raise ValueError(f"the decode script answered for {[(r['context'], r['steps']) for r in rows]}, not {contexts} x {steps}")
    return rows


def measure_decode(python: Path, gguf: Path, contexts: list[int], steps: int, threads: int, *, timeout: int = 3600) -> list[dict]:
    """Per context L (ascending), the median wall time of one llama_decode call with L tokens in the
    KV cache: [{"context", "ms_per_token", "tokens_per_s", "steps"}]."""
    gguf = Path(gguf)
    report, _ = _run_script(
        Path(python), DECODE_SCRIPT, decode_args(gguf, contexts, steps, threads),
        "timing llama.cpp decode", gguf.with_name(gguf.name + ".decode.log"), timeout,
    )
    try:
        return decode_rows(report, list(contexts), steps)
    except (KeyError, TypeError, ValueError) as exc:
        raise SfError(f"the llama.cpp decode script's result is malformed: {exc}", f"see {gguf}.decode.log") from None
