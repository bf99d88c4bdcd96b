"""Every catalogued bad input (cases.py) gets its exact outcome and leaves the workspace untouched."""

from __future__ import annotations

import pytest

from hardening.cases import CASES
from hardening.outcome import check, invoke, no_leftovers


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws.cwd)  # in-process commands too: a file written "here" is a leftover
    reason = case.needs()
    if reason:
        pytest.skip(reason)
    argv = case.argv(ws)  # builds the input first: making it is not the command's doing
    with no_leftovers(ws):
        result = invoke(case, argv, ws, capsys)
    check(case, result, ws)
    assert list(ws.root.rglob("*.partial-*")) == [] and list(ws.cwd.iterdir()) == []
