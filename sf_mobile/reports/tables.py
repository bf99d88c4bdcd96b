"""The tables and figures every report form shows, as plain text (sf-bench results).

The table functions (`latency_table`, `parity_table`, ...) return plain-text cells so that the
Markdown page and the HTML page show the very same numbers; each renderer escapes the cells for its
own syntax. They read a result that `schema.validate` accepted, and use `.get` for everything the
schema does not check, so a sparse result (a device app's) renders with "—" instead of crashing.
"""

from __future__ import annotations

import math

from sf_mobile.reports.schema import METRICS

DASH = "—"
# parity components in pipeline order; a component the result names beyond these follows them
COMPONENT_ORDER = ("vision", "prefill_logits", "decode_logits", "greedy")
SIMULATOR_NOTE = "accuracy only (latency not meaningful: simulator)"
# the three parts of time to first token that backends time on their own, in pipeline order
TTFT_PARTS = ("vision_ms", "embedding_ms", "prefill_ms")

Table = tuple[list[str], list[list[str]]]  # (headers, rows of cells), all plain text


# ---- numbers -------------------------------------------------------------------------------------


def as_number(value: object) -> float | None:
    """A JSON number as float; None for null, strings and booleans (True is an int in Python)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def fmt_fixed(value: object, digits: int = 1) -> str:
    """ms and tok/s: a fixed number of decimals. NaN/inf are printed, never hidden behind a dash."""
    number = as_number(value)
    if number is None:
        return DASH
    if not math.isfinite(number):
        return str(number)
    return f"{number:.{digits}f}"


def fmt_error(value: object) -> str:
    """An error in scientific notation, 3 significant digits without trailing zeros: 2.9e-02, 1.23e-06."""
    number = as_number(value)
    if number is None:
        return DASH
    if number == 0:
        return "0"
    if not math.isfinite(number):
        return str(number)
    mantissa, exponent = f"{number:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def fmt_cosine(value: object) -> str:
    # six decimals: the tolerances sit at 0.995..0.99999, so fewer would round every value to 1
    return fmt_fixed(value, 6)


def fmt_fraction(value: object) -> str:
    number = as_number(value)
    return DASH if number is None else f"{number:.1%}"


def fmt_pair(value: object) -> str:
    """[matches, total] -> "15/16"."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]}/{value[1]}"
    return DASH


def fmt_bytes(value: object) -> str:
    number = as_number(value)
    if number is None:
        return DASH
    size, unit = number, "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{int(number)} B" if unit == "B" else f"{size:.2f} {unit} ({int(number):,} B)"


# ---- reading a backend ---------------------------------------------------------------------------


def metric(backend: dict, name: str) -> dict | None:
    latency = backend.get("latency")
    metrics = latency.get("metrics") if isinstance(latency, dict) else None
    found = metrics.get(name) if isinstance(metrics, dict) else None
    return found if isinstance(found, dict) else None


def median(backend: dict, name: str) -> float | None:
    found = metric(backend, name)
    return as_number(found.get("median")) if found else None


def backend_label(backend: dict) -> str:
    """The backend's name, with the phone it ran on for a device backend."""
    device = describe_device(backend.get("device"))
    return f"{backend['name']} on {device}" if device else str(backend["name"])


def is_timed(backend: dict) -> bool:
    """Whether the backend's latency belongs in latency tables and plots (a simulator's does not)."""
    return backend.get("latency") is not None and not backend.get("accuracy_only")


def rel_l2_limit(component: dict) -> float | None:
    """The component's rel L2 tolerance (`Tolerance.to_dict`'s "max_rel_l2"), None when it has none."""
    limits = component.get("tolerance")
    return as_number(limits.get("max_rel_l2")) if isinstance(limits, dict) else None


def ordered_components(report: dict) -> list[dict]:
    components = report.get("components")
    if not isinstance(components, dict):
        return []
    names = [n for n in COMPONENT_ORDER if n in components] + [n for n in components if n not in COMPONENT_ORDER]
    return [{"component": name, **components[name]} for name in names if isinstance(components[name], dict)]


def is_reported_only(report: dict) -> bool:
    """No gated component: the report's "passed" says nothing (a quantized export against float)."""
    components = ordered_components(report)
    return bool(components) and not any(c.get("gated", True) for c in components)


def parity_verdict(report: dict) -> str:
    if is_reported_only(report):
        return "reported only"
    if report.get("passed"):
        return "passed"
    failed = report.get("failed") or []
    return "FAILED" + (f": {', '.join(map(str, failed))}" if failed else "")


def describe_device(device: object) -> str:
    if not isinstance(device, dict):
        return ""
    details = ", ".join(str(device[key]) for key in ("os", "serial") if device.get(key))
    model = str(device.get("model") or "device")
    return f"{model} ({details})" if details else model


def describe_quantization(quantization: object) -> str:
    if isinstance(quantization, dict):
        return ", ".join(f"{key} {value}" for key, value in quantization.items()) or "none"
    return str(quantization) if quantization else "none"


# ---- tables shared with HTML ---------------------------------------------------------------------


def latency_columns(result: dict) -> list[str]:
    """The METRICS that at least one timed backend reported, in METRICS order."""
    timed = [b for b in result["backends"] if is_timed(b)]
    return [name for name in METRICS if any(metric(b, name) for b in timed)]


def latency_table(result: dict) -> Table:
    """One row per timed backend; each cell "median / p90" of one metric."""
    columns = latency_columns(result)
    headers = ["Backend", *(f"{name} ({METRICS[name][0]})" for name in columns)]
    rows = []
    for backend in result["backends"]:
        if not is_timed(backend):
            continue
        cells = []
        for name in columns:
            found = metric(backend, name)
            cells.append(f"{fmt_fixed(found.get('median'))} / {fmt_fixed(found.get('p90'))}" if found else DASH)
        rows.append([backend_label(backend), *cells])
    return headers, rows


def component_cell(component: dict) -> str:
    """One component of one parity report in one cell: its numbers, its verdict, whether it gates."""
    parts = []
    if component.get("rel_l2") is not None:
        limit = rel_l2_limit(component)
        parts.append(f"rel L2 {fmt_error(component['rel_l2'])}" + (f" (limit {fmt_error(limit)})" if limit else ""))
    if component.get("cosine") is not None:
        parts.append(f"cos {fmt_cosine(component['cosine'])}")
    if component.get("top1") is not None:
        top1 = f"top-1 {fmt_pair(component['top1'])}"
        near = component.get("top1_within_noise")
        if near is not None and near != component["top1"]:
            top1 += f" ({fmt_pair(near)} up to near ties)"
        parts.append(top1)
    if component.get("greedy_prefix") is not None:
        parts.append(f"prefix {fmt_pair(component['greedy_prefix'])}")
    if not component.get("passed", True):
        parts.append("FAIL: " + "; ".join(map(str, component.get("failures") or ["missed its tolerance"])))
    cell = ", ".join(parts) or DASH
    return cell if component.get("gated", True) else f"{cell} (reported only)"


def parity_table(result: dict) -> Table:
    """One row per backend x parity report; one column per component."""
    reports = [(b, r) for b in result["backends"] for r in (b.get("parity") or []) if isinstance(r, dict)]
    names: list[str] = []
    for _, report in reports:
        names += [c["component"] for c in ordered_components(report) if c["component"] not in names]
    names = [n for n in COMPONENT_ORDER if n in names] + [n for n in names if n not in COMPONENT_ORDER]
    headers = ["Backend", "Against", "Precision", "Verdict", *names]
    rows = []
    for backend, report in reports:
        by_name = {c["component"]: c for c in ordered_components(report)}
        cells = [component_cell(by_name[n]) if n in by_name else DASH for n in names]
        row = [backend_label(backend), str(report.get("against", DASH)), str(report.get("precision", DASH))]
        rows.append([*row, parity_verdict(report), *cells])
    return headers, rows


def roofline_table(result: dict) -> Table:
    headers = ["Backend", "decode measured (tok/s)", "bound (tok/s)", "fraction of bound", "bytes/token",
               "bandwidth (GB/s)"]
    rows = []
    for backend in result["backends"]:
        roof = backend.get("roofline")
        if not isinstance(roof, dict) or backend.get("accuracy_only"):
            continue
        rows.append([
            backend_label(backend),
            fmt_fixed(roof.get("decode_tok_s_measured")),
            fmt_fixed(roof.get("decode_tok_s_bound")),
            fmt_fraction(roof.get("fraction_of_bound")),
            fmt_bytes(roof.get("bytes_per_token")),
            fmt_fixed(roof.get("bandwidth_gb_s")),
        ])
    return headers, rows


def memory_table(result: dict) -> Table:
    rows = []
    for backend in result["backends"]:
        memory = backend.get("memory") if isinstance(backend.get("memory"), dict) else {}
        if backend["status"] == "unavailable":
            continue  # never ran: the not-measured list says why
        rows.append([str(backend["name"]), fmt_fixed(memory.get("peak_rss_mib")), str(memory.get("method") or DASH)])
    return ["Backend", "peak RSS (MiB)", "method"], rows


def artifacts_table(result: dict) -> Table:
    artifacts = [a for a in result["artifacts"] if isinstance(a, dict)]
    rows = [[str(a.get("path", DASH)), fmt_bytes(a.get("bytes"))] for a in artifacts]
    sizes = [as_number(a.get("bytes")) for a in artifacts]
    if len(rows) > 1 and all(size is not None for size in sizes):
        rows.append(["total", fmt_bytes(sum(sizes))])
    return ["Artifact", "Size"], rows


def not_measured(result: dict) -> list[tuple[str, str]]:
    """(backend, why) for every backend without a clean, meaningful timing, so none is silently left out."""
    entries = []
    for backend in result["backends"]:
        name, status = str(backend["name"]), backend["status"]
        why = []
        if status in ("unavailable", "failed"):
            why.append(f"{status}: {backend.get('reason')}")
        elif status == "parity_failed":
            failed = [f"vs {r.get('against')}: {', '.join(map(str, r.get('failed') or [])) or 'failed'}"
                      for r in backend.get("parity") or [] if isinstance(r, dict) and not r.get("passed", True)]
            why.append("parity failed" + (f" {'; '.join(failed)}" if failed else ""))
        elif backend.get("latency") is None and not backend.get("accuracy_only"):
            why.append("ran, but reported no latency")
        if backend.get("accuracy_only"):
            why.append(SIMULATOR_NOTE)
        if why:
            entries.append((f"{name} ({backend.get('kind')})", "; ".join(why)))
    return entries


def status_summary(result: dict) -> str:
    counts: dict[str, int] = {}
    for backend in result["backends"]:
        counts[backend["status"]] = counts.get(backend["status"], 0) + 1
    listed = ", ".join(f"{count} {status}" for status, count in counts.items())
    return f"{len(result['backends'])} backends: {listed}" if counts else "no backends"


def title(result: dict) -> str:
    export = result["export"] if isinstance(result["export"], dict) else {}
    return (f"sf-bench: {export.get('target', '?')} / {export.get('preset', '?')} / "
            f"{describe_quantization(export.get('quantization'))} (export {export.get('status', '?')})")


def host_line(result: dict) -> str:
    host = result["host"] if isinstance(result["host"], dict) else {}
    bandwidth = as_number(host.get("memory_bandwidth_gb_s"))
    measured = f"{bandwidth:.1f} GB/s" if bandwidth is not None else "not measured"
    method = f" ({host['bandwidth_method']})" if host.get("bandwidth_method") else ""
    return (f"{host.get('platform', '?')} ({host.get('machine', '?')}), {host.get('cpu_count', '?')} CPUs, "
            f"{host.get('torch_threads', '?')} torch threads, memory bandwidth {measured}{method}")


def settings_line(result: dict) -> str:
    settings = result["settings"] if isinstance(result["settings"], dict) else {}
    video = settings.get("video") or "not given"
    decode = f", {settings['decode_tokens']} decode tokens" if settings.get("decode_tokens") is not None else ""
    return f"{settings.get('repeats', '?')} repeats after {settings.get('warmup', '?')} warmup, video {video}{decode}"


# ---- Markdown ------------------------------------------------------------------------------------


def is_numeric_column(rows: list[list[str]], column: int) -> bool:
    """Whether every cell of the column is a number (or a dash, "a / b", a percentage): right-aligned."""
    allowed = set("0123456789.,-+/ %e") | {DASH}
    return all(set(row[column]) <= allowed for row in rows)
