"""The sf-bench result as a Markdown page to paste into a code review (tables from tables.py)."""

from __future__ import annotations

from sf_mobile.reports.schema import METRICS
from sf_mobile.reports.tables import (
    Table,
    artifacts_table,
    host_line,
    is_numeric_column,
    latency_columns,
    latency_table,
    memory_table,
    not_measured,
    parity_table,
    roofline_table,
    settings_line,
    status_summary,
    title,
)

def md_escape(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, no column break, no raw HTML."""
    flat = " ".join(str(text).split())  # a newline would end the table row
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def md_table(table: Table) -> list[str]:
    headers, rows = table
    rule = ["--:" if index and is_numeric_column(rows, index) else "---" for index in range(len(headers))]
    lines = ["| " + " | ".join(map(md_escape, headers)) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(map(md_escape, row)) + " |" for row in rows]
    return lines


def _section(heading: str, table: Table, empty: str, caption: str = "") -> list[str]:
    if not table[1]:
        return [f"## {heading}", "", empty, ""]
    return [f"## {heading}", "", *([caption, ""] if caption else []), *md_table(table), ""]


def render_markdown(result: dict) -> str:
    """The result as one Markdown page: summary, latency, parity, roofline, memory, artifacts, gaps."""
    export = result["export"] if isinstance(result["export"], dict) else {}
    lines = [
        f"# {md_escape(title(result))}",
        "",
        f"- **Host**: {md_escape(host_line(result))}",
        f"- **Settings**: {md_escape(settings_line(result))}",
        f"- **Export**: {md_escape(result['folder'])} (backend {md_escape(export.get('backend', '?'))}), "
        f"run {md_escape(result['created'])}",
        f"- **Backends**: {md_escape(status_summary(result))}",
        "",
    ]
    latency = latency_table(result)
    caption = "Each cell: median / p90 over the measured repeats."
    lines += _section("Latency", latency, "No backend reported latency.", caption)
    missing = [name for name in METRICS if name not in latency_columns(result)]
    if latency[1] and missing:
        lines += [f"Not measured by any backend: {', '.join(missing)}.", ""]
    lines += _section("Parity", parity_table(result), "No backend reported parity.")
    lines += _section("Decode vs memory-bandwidth roofline", roofline_table(result), "No roofline computed.")
    lines += _section("Memory", memory_table(result), "No backend ran.")
    lines += _section("Artifacts", artifacts_table(result), "No artifacts listed.")
    gaps = not_measured(result)
    lines += ["## Not measured, failed or accuracy only", ""]
    everything_ran = "Every backend ran and passed." if result["backends"] else "The result lists no backend."
    lines += [f"- **{md_escape(name)}**: {md_escape(why)}" for name, why in gaps] or [everything_ran]
    return "\n".join(lines).rstrip("\n") + "\n"
