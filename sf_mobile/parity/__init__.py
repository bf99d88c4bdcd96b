"""One parity protocol for every backend: fixed inputs, a reference, one driver, one report.

- `bundle`: the `parity/` folder every export writes (inputs + reference outputs, safetensors + JSON)
- `driver`: runs any `GraphBackend` through the device sequence, with per-stage latency
- `compare`: outputs vs reference -> `ParityReport`, gated by `tolerances`
"""

from sf_mobile.parity.bundle import compute_reference, make_inputs, read_bundle, reference_run, write_bundle
from sf_mobile.parity.compare import ComponentResult, ParityReport, compare
from sf_mobile.parity.data import ParityInputs, ReferenceOutputs
from sf_mobile.parity.driver import BackendOutputs, StageTimings, run_backend
from sf_mobile.parity.tolerances import Against, Component, Precision, Tolerance, is_gated, tolerance

__all__ = [
    "Against",
    "BackendOutputs",
    "Component",
    "ComponentResult",
    "ParityInputs",
    "ParityReport",
    "Precision",
    "ReferenceOutputs",
    "StageTimings",
    "Tolerance",
    "compare",
    "compute_reference",
    "is_gated",
    "make_inputs",
    "reference_run",
    "read_bundle",
    "run_backend",
    "tolerance",
    "write_bundle",
]
