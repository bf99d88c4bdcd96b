"""The sf-bench result as one self-contained HTML page: inline CSS, inline SVG plots, no script, no URL.

The page must open from an attachment or an artifact store with no network, and must not run
anything, so the plots are SVG drawn here and every string taken from the result goes through
`_e` (html.escape): backend names, reasons and paths are data, never markup. The tables are those
of the Markdown page (`markdown.py` builds the cells), so both forms show the same numbers.

Each bar carries data-* attributes (backend, part, value) so that a test, or a reader of the
source, can check a bar against the number it draws.
"""

from __future__ import annotations

import math
from html import escape

from sf_mobile.reports.tables import (
    TTFT_PARTS,
    Table,
    artifacts_table,
    as_number,
    backend_label,
    fmt_error,
    fmt_fixed,
    fmt_fraction,
    host_line,
    is_numeric_column,
    is_timed,
    latency_columns,
    latency_table,
    median,
    memory_table,
    not_measured,
    ordered_components,
    parity_table,
    rel_l2_limit,
    roofline_table,
    settings_line,
    status_summary,
    title,
)
from sf_mobile.reports.schema import METRICS

PLOT_WIDTH = 900  # whole SVG; the label column and the bars share it
ROW = 22  # bar height
GAP = 8  # space between bars
TOP = 34  # room for the legend or the axis above the first bar
CHAR = 6.6  # rough width of one label character at the 12px font, to size the label column

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d232a; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d8dde3; padding-bottom: 4px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 13px; }
th, td { border: 1px solid #d8dde3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.fail { color: #b3261e; font-weight: 600; }
.note { color: #55606b; }
svg { display: block; margin: 6px 0 14px; font: 12px system-ui, sans-serif; }
svg text { fill: #1d232a; }
svg .axis { stroke: #aab3bc; stroke-width: 1; }
svg .grid { stroke: #e3e7eb; stroke-width: 1; }
svg .vision_ms { fill: #4e79a7; } svg .embedding_ms { fill: #f28e2b; }
svg .prefill_ms { fill: #59a14f; } svg .rest { fill: #bab0ac; }
svg .pass { fill: #59a14f; } svg .failbar { fill: #e15759; } svg .reported { fill: #9aa5b1; }
svg .limit { stroke: #b3261e; stroke-width: 2; }
svg .bound { fill: none; stroke: #4e79a7; stroke-dasharray: 4 3; }
svg .measured { fill: #4e79a7; }
"""

PART_LABELS = {"vision_ms": "vision", "embedding_ms": "embedding", "prefill_ms": "prefill",
               "rest": "rest of time to first token (not split)"}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    """An SVG coordinate: 2 decimals keep bar ratios exact to well under a percent."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


# ---- SVG pieces ----------------------------------------------------------------------------------


def _svg(height: float, label: str, body: list[str]) -> str:
    # no xmlns: inline SVG in HTML5 needs none, and the page holds no URL at all
    return (f'<svg width="{PLOT_WIDTH}" height="{_num(height)}" viewBox="0 0 {PLOT_WIDTH} {_num(height)}" '
            f'role="img" aria-label="{_e(label)}">' + "".join(body) + "</svg>")


def _rect(x: float, y: float, width: float, css: str, tip: str, data: dict[str, object]) -> str:
    attributes = "".join(f' data-{key}="{_e(value)}"' for key, value in data.items())
    return (f'<rect class="{css}" x="{_num(x)}" y="{_num(y)}" width="{_num(max(width, 0.0))}" height="{ROW}"'
            f'{attributes}><title>{_e(tip)}</title></rect>')


def _text(x: float, y: float, text: str, anchor: str = "start", css: str = "") -> str:
    kind = f' class="{css}"' if css else ""
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{kind}>{_e(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, css: str, data: dict[str, object] | None = None) -> str:
    attributes = "".join(f' data-{key}="{_e(value)}"' for key, value in (data or {}).items())
    return f'<line class="{css}" x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}"{attributes}/>'


def _label_width(labels: list[str]) -> float:
    longest = max((len(label) for label in labels), default=10)
    return min(max(longest * CHAR + 12, 120), PLOT_WIDTH * 0.45)


def _row_y(index: int) -> float:
    return TOP + index * (ROW + GAP)


def _height(rows: int) -> float:
    return _row_y(rows) + 10


# ---- plots ---------------------------------------------------------------------------------------


def latency_plot(result: dict) -> str | None:
    """Time to first token per backend: vision + embedding + prefill medians, stacked."""
    rows = []
    for backend in result["backends"]:
        if not is_timed(backend):
            continue
        parts = [(name, median(backend, name)) for name in TTFT_PARTS]
        parts = [(name, value) for name, value in parts if value is not None and value > 0]
        ttft = median(backend, "time_to_first_token_ms")
        timed = sum(value for _, value in parts)
        # medians of the parts need not add up to the median total: what is left (first argmax,
        # overhead, or everything for a backend that does not split) is its own grey segment
        if ttft is not None and ttft > timed:
            parts.append(("rest", ttft - timed))
        if parts:
            rows.append((backend, parts, ttft if ttft is not None else timed))
    if not rows:
        return None
    labels = [backend_label(backend) for backend, _, _ in rows]
    left = _label_width(labels)
    span = PLOT_WIDTH - left - 110  # room on the right for the total
    scale = span / max(max(total, sum(v for _, v in parts)) for _, parts, total in rows)
    body = []
    legend_x = left
    for part in (*TTFT_PARTS, "rest"):
        body.append(f'<rect class="{part}" x="{_num(legend_x)}" y="6" width="12" height="12"/>')
        body.append(_text(legend_x + 16, 16, PART_LABELS[part]))
        legend_x += 16 + len(PART_LABELS[part]) * CHAR + 18
    for index, ((backend, parts, total), label) in enumerate(zip(rows, labels)):
        y, x = _row_y(index), left
        body.append(_text(left - 8, y + ROW - 6, label, "end"))
        for part, value in parts:
            tip = f"{backend['name']}: {PART_LABELS[part]} {fmt_fixed(value)} ms"
            data = {"plot": "latency", "backend": backend["name"], "part": part, "value": repr(value)}
            body.append(_rect(x, y, value * scale, part, tip, data))
            x += value * scale
        body.append(_text(x + 6, y + ROW - 6, f"{fmt_fixed(total)} ms"))
    return _svg(_height(len(rows)), "time to first token per backend, split into stages (medians)", body)


def parity_plot(result: dict) -> str | None:
    """rel L2 per backend x reference x component on a log axis, each with its tolerance marked."""
    rows = []
    for backend in result["backends"]:
        for report in backend.get("parity") or []:
            if not isinstance(report, dict):
                continue
            for component in ordered_components(report):
                value = as_number(component.get("rel_l2"))
                if value is not None and math.isfinite(value):
                    rows.append((backend, report, component, value, rel_l2_limit(component)))
    if not rows:
        return None
    positive = [v for _, _, _, v, _ in rows if v > 0] + [limit for *_, limit in rows if limit and limit > 0]
    if not positive:
        positive = [1e-6]
    # one decade below the smallest value, so that the smallest bar is still a visible bar
    low = math.floor(math.log10(min(positive))) - 1
    high = max(math.ceil(math.log10(max(positive))), low + 1)
    labels = [f"{backend_label(b)} vs {r.get('against', '?')}: {c['component']}" for b, r, c, _, _ in rows]
    left = _label_width(labels)
    span = PLOT_WIDTH - left - 80

    def x_of(value: float) -> float:
        return left + (math.log10(value) - low) / (high - low) * span if value > 0 else left

    body = []
    for decade in range(low, high + 1):
        x = x_of(10.0**decade)
        body.append(_line(x, TOP - 6, x, _row_y(len(rows)), "grid"))
        body.append(_text(x, TOP - 10, f"1e{decade:+03d}", "middle"))
    for index, ((backend, report, component, value, limit), label) in enumerate(zip(rows, labels)):
        y = _row_y(index)
        gated = component.get("gated", True)
        css = "reported" if not gated else ("pass" if component.get("passed", True) else "failbar")
        verdict = "reported only" if not gated else ("passed" if component.get("passed", True) else "FAILED")
        tip = f"{label}: rel L2 {fmt_error(value)}, limit {fmt_error(limit)}, {verdict}"
        data = {"plot": "parity", "backend": backend["name"], "against": report.get("against", ""),
                "component": component["component"], "value": repr(value)}
        body.append(_text(left - 8, y + ROW - 6, label, "end"))
        body.append(_rect(left, y, x_of(value) - left, css, tip, data))
        if limit and limit > 0:
            mark = {"plot": "parity-limit", "backend": backend["name"], "component": component["component"],
                    "value": repr(limit)}
            body.append(_line(x_of(limit), y - 3, x_of(limit), y + ROW + 3, "limit", mark))
        shown = (fmt_error(value) if value > 0 else "0 (exact)") + ("" if gated else " (reported)")
        body.append(_text(max(x_of(value), x_of(limit) if limit else left) + 6, y + ROW - 6, shown))
    return _svg(_height(len(rows)), "relative L2 error per parity component, log scale, with tolerances", body)


def decode_plot(result: dict) -> str | None:
    """Measured decode tokens/s per backend against the memory-bandwidth roofline bound (linear axis)."""
    rows = []
    for backend in result["backends"]:
        if backend.get("accuracy_only"):
            continue
        roof = backend.get("roofline") if isinstance(backend.get("roofline"), dict) else {}
        measured = as_number(roof.get("decode_tok_s_measured"))
        if measured is None:
            measured = median(backend, "decode_tok_s") if is_timed(backend) else None
        if measured is not None:
            rows.append((backend, measured, as_number(roof.get("decode_tok_s_bound")), roof.get("fraction_of_bound")))
    if not rows:
        return None
    labels = [backend_label(backend) for backend, _, _, _ in rows]
    left = _label_width(labels)
    span = PLOT_WIDTH - left - 230  # room on the right for "204.2 tok/s, 3.5% of 5784.3"
    largest = max(max(measured, bound or 0.0) for _, measured, bound, _ in rows)
    scale = span / largest if largest > 0 else 0.0
    body = [
        '<rect class="measured" x="8" y="6" width="12" height="12"/>', _text(24, 16, "measured decode tok/s"),
        '<rect class="bound" x="190" y="6" width="12" height="12"/>', _text(206, 16, "roofline bound"),
    ]
    for index, ((backend, measured, bound, fraction), label) in enumerate(zip(rows, labels)):
        y = _row_y(index)
        body.append(_text(left - 8, y + ROW - 6, label, "end"))
        if bound is not None:
            data = {"plot": "decode-bound", "backend": backend["name"], "value": repr(bound)}
            body.append(_rect(left, y, bound * scale, "bound", f"{backend['name']}: bound {fmt_fixed(bound)} tok/s", data))
        data = {"plot": "decode", "backend": backend["name"], "value": repr(measured)}
        body.append(_rect(left, y, measured * scale, "measured", f"{backend['name']}: {fmt_fixed(measured)} tok/s", data))
        if bound is not None:
            if fraction is None and bound > 0:
                fraction = measured / bound
            note = f"{fmt_fixed(measured)} tok/s, {fmt_fraction(fraction)} of {fmt_fixed(bound)}"
        else:
            note = f"{fmt_fixed(measured)} tok/s, no roofline"
        body.append(_text(left + max(measured, bound or 0.0) * scale + 6, y + ROW - 6, note))
    return _svg(_height(len(rows)), "decode tokens per second against the roofline bound", body)


# ---- page ----------------------------------------------------------------------------------------


def _table(table: Table) -> str:
    headers, rows = table
    numeric = [index > 0 and is_numeric_column(rows, index) for index in range(len(headers))]
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            classes = ["num"] if numeric[index] else []
            if cell.startswith("FAILED") or "FAIL:" in cell:
                classes.append("fail")
            kind = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{kind}>{_e(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(heading: str, parts: list[str | None], empty: str) -> list[str]:
    shown = [part for part in parts if part]
    return [f"<section><h2>{_e(heading)}</h2>", *(shown or [f'<p class="note">{_e(empty)}</p>']), "</section>"]


def render_html(result: dict) -> str:
    """The whole page as one string; it references nothing outside itself."""
    export = result["export"] if isinstance(result["export"], dict) else {}
    latency = latency_table(result)
    missing = [name for name in METRICS if name not in latency_columns(result)]
    parity, roofline = parity_table(result), roofline_table(result)
    memory, artifacts = memory_table(result), artifacts_table(result)
    gaps = not_measured(result)
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title(result))}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(title(result))}</h1>",
        "<dl>",
        f"<dt>Host</dt><dd>{_e(host_line(result))}</dd>",
        f"<dt>Settings</dt><dd>{_e(settings_line(result))}</dd>",
        f"<dt>Export</dt><dd>{_e(result['folder'])} (backend {_e(export.get('backend', '?'))}), "
        f"run {_e(result['created'])}</dd>",
        f"<dt>Backends</dt><dd>{_e(status_summary(result))}</dd>",
        "</dl>",
    ]
    page += _section("Time to first token", [latency_plot(result)], "No backend reported stage latencies.")
    page += _section("Latency", [
        '<p class="note">Each cell: median / p90 over the measured repeats.</p>' if latency[1] else None,
        _table(latency) if latency[1] else None,
        f'<p class="note">Not measured by any backend: {_e(", ".join(missing))}.</p>' if latency[1] and missing else None,
    ], "No backend reported latency.")
    page += _section("Parity", [parity_plot(result), _table(parity) if parity[1] else None],
                     "No backend reported parity.")
    page += _section("Decode vs memory-bandwidth roofline", [decode_plot(result), _table(roofline) if roofline[1] else None],
                     "No backend reported decode throughput.")
    page += _section("Memory", [_table(memory) if memory[1] else None], "No backend ran.")
    page += _section("Artifacts", [_table(artifacts) if artifacts[1] else None], "No artifacts listed.")
    items = "".join(f"<li><strong>{_e(name)}</strong>: {_e(why)}</li>" for name, why in gaps)
    everything_ran = "Every backend ran and passed." if result["backends"] else "The result lists no backend."
    page += _section("Not measured, failed or accuracy only", [f"<ul>{items}</ul>" if gaps else None], everything_ran)
    page += ["</main></body></html>"]
    return "\n".join(page) + "\n"
