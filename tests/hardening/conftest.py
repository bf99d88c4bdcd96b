"""One workspace for the whole hardening session (workspace.py), with the sample clip made first."""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from hardening.workspace import Workspace


def build_onnx_export(out) -> None:
    """`sf-export --target onnx --size tiny --out OUT`, in this process (its stage lines swallowed)."""
    from sf_mobile.export.common import ExportRequest
    from sf_mobile.export.onnx.options import OnnxOptions
    from sf_mobile.export.onnx.pipeline import export_onnx

    with contextlib.redirect_stderr(io.StringIO()):
        result = export_onnx(ExportRequest(target="onnx", preset="tiny", out=out), OnnxOptions())
    assert result.passed, [r.summary_lines() for r in result.reports]


@pytest.fixture(scope="session")
def ws(tmp_path_factory):
    from sf_mobile.video import sample_clip_path

    workspace = Workspace(tmp_path_factory.mktemp("hardening"))
    workspace.export_builder = build_onnx_export
    saved = {key: os.environ.get(key) for key in workspace.env()}
    os.environ.update(workspace.env())
    sample_clip_path()  # the default clip exists before any case runs: making it is not a leftover
    yield workspace
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
