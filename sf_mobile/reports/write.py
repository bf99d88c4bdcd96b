"""Write one result's three report forms (JSON, Markdown, HTML) into a folder, never half-written.

Every form is rendered before any file is touched, and each file is written under a temporary
name in the same folder and then renamed over its final name (`os.replace`, atomic on one file
system). An interrupted run therefore leaves the previous reports or none, never a truncated one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sf_mobile.errors import SfError
from sf_mobile.reports.html import render_html
from sf_mobile.reports.markdown import render_markdown
from sf_mobile.reports.schema import validate, write_result

FILE_NAMES = {"json": "sf_bench.json", "markdown": "sf_bench.md", "html": "sf_bench.html"}


def write_reports(result: dict, outdir: Path) -> dict[str, Path]:
    """{"json": path, "markdown": path, "html": path} of the reports written into `outdir` (created)."""
    validate(result)  # an invalid result writes nothing, not two pages of a result the JSON refuses
    pages = {"markdown": render_markdown(result), "html": render_html(result)}
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        written = {"json": _replace_atomically(outdir / FILE_NAMES["json"], lambda tmp: write_result(tmp, result))}
        for form, text in pages.items():
            written[form] = _replace_atomically(
                outdir / FILE_NAMES[form], lambda tmp, text=text: tmp.write_text(text, encoding="utf-8")
            )
    except OSError as err:  # a read-only or full disk: one line, not a traceback
        raise SfError(f"cannot write the reports into {outdir} ({err.strerror or err})", "pass a writable --report folder") from None
    return written


def _replace_atomically(path: Path, write) -> Path:
    """`write(temporary path)`, then rename it to `path`; the temporary file is removed on any error."""
    # a random hidden name in the same folder: same file system for os.replace, no clash between runs
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
