"""Per-target exporters, installed as `sf_mobile.export`, behind one registry.

Each target is a module exposing `add_arguments(parser)` (its own flags), `options_from(args)`
and `run(request, options) -> ExportResult`; heavy backends are imported only when a target runs.
"""

from __future__ import annotations

import importlib

from sf_mobile.errors import SfError

TARGETS = {
    "executorch": "sf_mobile.export.executorch.target",
    "coreml": "sf_mobile.export.coreml.target",
    "onnx": "sf_mobile.export.onnx.target",
}
PLANNED: dict[str, str] = {}


def get_target(name: str):
    if name in PLANNED:
        raise SfError(f"target {name!r} is not implemented yet ({PLANNED[name]})", f"use one of {sorted(TARGETS)}")
    if name not in TARGETS:
        raise SfError(f"unknown target {name!r}", f"use one of {sorted(TARGETS)}")
    return importlib.import_module(TARGETS[name])


def parse_choice(kind, value: str, flag: str):
    """`kind(value)` for a str enum, or an SfError listing the valid values of `flag`."""
    try:
        return kind(value)
    except ValueError:
        raise SfError(f"{flag} {value!r} is not supported", f"use one of {[k.value for k in kind]}") from None
