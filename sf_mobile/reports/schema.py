"""The sf-bench result, version 1: one JSON object per run over one exported folder.

Every report form (Markdown, HTML, `sf-bench compare`) reads this object and nothing else, and
device apps in benchmark mode write one `backends[]` entry of it. `validate` checks what the
readers rely on and names the first problem.

    {
      "schema": "sf-bench/1",
      "tool": {"name": "sf-mobile", "version": "0.1.0"},
      "created": "2026-11-23T03:10:00+00:00",
      "folder": "/path/to/export",
      "export": {"target": "executorch", "preset": "tiny", "backend": "xnnpack", "status": "ok",
                 "quantization": {...}, "weights": {...}, "manifest_sha256": "..."},
      "host": {"platform": "Linux-6.8-x86_64", "machine": "x86_64", "cpu_count": 2,
               "torch_threads": 2, "python": "3.11.9",
               "memory_bandwidth_gb_s": 11.8, "bandwidth_method": "..."},
      "settings": {"repeats": 5, "warmup": 1, "video": null, "decode_tokens": 16},
      "artifacts": [{"path": "model.pte", "bytes": 123}],
      "backends": [BACKEND, ...]
    }

    BACKEND = {
      "name": "executorch-host",            # see sf_mobile.bench.backends for the names
      "kind": "host" | "device",
      "status": "ok" | "parity_failed" | "unavailable" | "failed",
      "reason": null | "one line: why unavailable or failed",
      "accuracy_only": false,               # true: latency is not meaningful (a simulator)
      "device": null | {"serial": ..., "model": ..., "os": ...},
      "parity": [PARITY_REPORT, ...],       # as in sf_manifest.json "parity" (ParityReport.to_dict)
      "latency": null | {
        "repeats": 5, "warmup": 1,
        "metrics": {NAME: {"unit": "ms" | "tok/s", "median": x, "p90": y, "samples": [...]}}
        # NAME in METRICS; a backend reports the ones it can measure
      },
      "stats": null | {...},                # ExecuTorch runner Stats field names (median repeat),
                                            # timestamps in ms from model_load_start_ms = 0
      "memory": {"peak_rss_mib": null | x, "method": "..."},
      "roofline": null | {"weights_bytes": n, "kv_bytes_per_token": n, "bytes_per_token": n,
                          "bandwidth_gb_s": x, "decode_tok_s_bound": x,
                          "decode_tok_s_measured": x, "fraction_of_bound": x}
    }
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sf_mobile.errors import SfError

SCHEMA = "sf-bench/1"
KINDS = ("host", "device")
STATUSES = ("ok", "parity_failed", "unavailable", "failed")

# latency metrics: name -> (unit, what it times). "Higher is better" for tok/s, lower for ms.
METRICS = {
    "frame_decode_ms": ("ms", "decode and sample the video's frames (PyAV, host)"),
    "vision_ms": ("ms", "vision graph: all frames -> visual embeddings"),
    "vision_ms_per_frame": ("ms", "vision_ms / frames"),
    "slowfast_projector_ms": ("ms", "SlowFast pooling + projector alone (where the backend runs it apart)"),
    "embedding_ms": ("ms", "token embedding of the text around the video"),
    "prefill_ms": ("ms", "prefill of the whole prompt"),
    "prefill_tok_s": ("tok/s", "prompt tokens / prefill time"),
    "decode_tok_s": ("tok/s", "generated tokens / decode time (after the first token)"),
    "time_to_first_token_ms": ("ms", "vision + embedding + prefill + first argmax"),
}
HIGHER_IS_BETTER = frozenset(name for name, (unit, _) in METRICS.items() if unit == "tok/s")

TOP_KEYS = ("schema", "tool", "created", "folder", "export", "host", "settings", "artifacts", "backends")
BACKEND_KEYS = ("name", "kind", "status", "reason", "accuracy_only", "device", "parity", "latency", "stats", "memory", "roofline")
FIX = "write it with this version of sf-bench"


def validate(result: object, where: str = "sf-bench result") -> dict:
    """`result` itself when it is a version-1 result; SfError naming the first problem otherwise."""
    if not isinstance(result, dict):
        raise SfError(f"{where} is a JSON {type(result).__name__}, not an object", FIX)
    if result.get("schema") != SCHEMA:
        raise SfError(f"{where} has schema {result.get('schema')!r}; this sf-mobile reads {SCHEMA!r}", FIX)
    _require(result, TOP_KEYS, where)
    for key in ("tool", "export", "host", "settings"):
        if not isinstance(result[key], dict):
            raise SfError(f"{where}: {key!r} is not an object", FIX)
    _require(result["export"], ("target", "preset"), f"{where}: export")
    if not isinstance(result["backends"], list):
        raise SfError(f"{where}: 'backends' is not a list", FIX)
    names = []
    for index, backend in enumerate(result["backends"]):
        names.append(validate_backend(backend, f"{where}: backends[{index}]")["name"])
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SfError(f"{where}: backend(s) {', '.join(repeated)} appear more than once", FIX)
    return result


def validate_backend(backend: object, where: str = "backend result") -> dict:
    if not isinstance(backend, dict):
        raise SfError(f"{where} is not an object", FIX)
    _require(backend, BACKEND_KEYS, where)
    if backend["kind"] not in KINDS:
        raise SfError(f"{where} has kind {backend['kind']!r}, not one of {', '.join(KINDS)}", FIX)
    if backend["status"] not in STATUSES:
        raise SfError(f"{where} has status {backend['status']!r}, not one of {', '.join(STATUSES)}", FIX)
    if backend["status"] in ("unavailable", "failed") and not backend["reason"]:
        raise SfError(f"{where} is {backend['status']} without a reason", FIX)
    if not isinstance(backend["accuracy_only"], bool):
        raise SfError(f"{where}: accuracy_only is not true/false", FIX)
    if not isinstance(backend["parity"], list) or not all(isinstance(r, dict) for r in backend["parity"]):
        raise SfError(f"{where}: parity is not a list of reports", FIX)
    latency = backend["latency"]
    if latency is not None:
        metrics = latency.get("metrics") if isinstance(latency, dict) else None
        if not isinstance(metrics, dict):
            raise SfError(f"{where}: latency has no 'metrics' object", FIX)
        for name, metric in metrics.items():
            if name not in METRICS:
                raise SfError(f"{where}: unknown latency metric {name!r}", f"use one of {', '.join(METRICS)}")
            if not isinstance(metric, dict) or not {"unit", "median", "p90", "samples"} <= set(metric):
                raise SfError(f"{where}: latency metric {name!r} needs unit, median, p90 and samples", FIX)
            if metric["unit"] != METRICS[name][0]:
                raise SfError(f"{where}: latency metric {name!r} is in {metric['unit']!r}, not {METRICS[name][0]!r}", FIX)
            if not all(_finite(metric[k]) for k in ("median", "p90")):
                raise SfError(f"{where}: latency metric {name!r} has a median or p90 that is not a finite number", FIX)
    return backend


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require(obj: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if key not in obj]
    if missing:
        raise SfError(f"{where} lacks {', '.join(map(repr, missing))}", FIX)


def read_result(path: Path) -> dict:
    """A result file, validated; SfError when it is missing, not JSON, or not version 1."""
    path = Path(path)
    if not path.is_file():
        raise SfError(f"{path} does not exist", "pass a JSON file written by sf-bench --report")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as err:
        raise SfError(f"{path} is not valid JSON ({err})", "pass a JSON file written by sf-bench --report") from None
    return validate(data, str(path))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")  # NaN / Infinity: what Python writes, JSON has not


def write_result(path: Path, result: dict) -> Path:
    """Write the validated result (callers wanting atomicity write to a temporary name: reports/write.py)."""
    try:
        text = json.dumps(validate(result), indent=2, allow_nan=False)
    except ValueError as err:
        raise SfError(f"the result holds a value JSON cannot (NaN or infinity): {err}", "report a bug in sf-bench") from None
    Path(path).write_text(text + "\n", encoding="utf-8")
    return Path(path)
