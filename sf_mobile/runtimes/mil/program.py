"""Get a Core ML MIL program (`coremltools.converters.mil.mil.Program`) from what an exporter holds.

A saved `.mlpackage` is read back through coremltools' own milproto loader (the one its
`optimize.coreml` and multifunction tools use), so every function of a multifunction package comes
back, weights included. coremltools is imported here, inside the functions, so that the package
imports without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sf_mobile.errors import SfError


def import_coremltools():
    from sf_mobile.runtimes.coremltools_import import import_coremltools as quiet_import

    return quiet_import()


def load_program(source: Any):
    """A MIL Program from a `.mlpackage` path, an `MLModel`, or a Program (returned as is)."""
    ct = import_coremltools()
    from coremltools.converters.mil.mil import Program

    if isinstance(source, Program):
        return source
    if isinstance(source, ct.models.MLModel):
        return _from_mlmodel(source, str(source.package_path or "the MLModel"))
    if isinstance(source, (str, os.PathLike)):
        return _from_package(Path(source))
    raise TypeError(f"load_program takes a .mlpackage path, an MLModel or a MIL Program, not {type(source).__name__}")


def _from_package(path: Path):
    ct = import_coremltools()
    fix = "pass the folder of a .mlpackage saved by coremltools (MLModel.save)"
    if not (path / "Manifest.json").is_file():
        raise SfError(f"'{path}' is not a Core ML package (no Manifest.json in it)", fix)
    try:
        model = ct.models.MLModel(str(path), skip_model_load=True)  # reads the spec; no Core ML runtime needed
    except RuntimeError as e:  # libmodelpackage's error for a broken manifest or a missing root model
        raise SfError(f"'{path}' is not a readable Core ML package ({e})", fix) from e
    return _from_mlmodel(model, str(path))


def _from_mlmodel(model: Any, where: str):
    program = getattr(model, "_mil_program", None)  # set by ct.convert and optimize.coreml: no reload needed
    if program is not None:
        return program
    from coremltools.converters.mil.frontend.milproto import load as milproto

    spec = model.get_spec()
    kind = spec.WhichOneof("Type")
    if kind != "mlProgram":
        raise SfError(
            f"{where} holds a '{kind}' model, not an ML program",
            "convert it with ct.convert(..., convert_to='mlprogram')",
        )
    return milproto.load(spec, spec.specificationVersion, model.weights_dir or "")
