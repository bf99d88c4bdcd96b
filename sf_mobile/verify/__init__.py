"""sf-verify's engine: does an export folder still hold what its `sf_manifest.json` says?

Every artifact the manifest lists is checked, and every problem is collected (a report, not an
exception), so one run tells a user everything that is wrong with a copied or downloaded folder:

- path:   the manifest's path stays inside the folder. Absolute paths, `..` components and
          symlinks (the artifact, a parent, or a link inside a package folder) that resolve
          outside are refused, and such an artifact is never opened: a manifest is data from
          wherever the folder came from.
- hash:   recomputed sha256 and byte size equal the manifest's.
- io <f>: the graph's methods/functions, input/output shapes and dtypes (and Core ML states)
          equal the manifest's declaration, read with ExecuTorch's runtime, coremltools or onnx
          (an .onnx graph's one function is "main"). A missing library makes this check
          "not run", which is printed but is not a failure.
- listed: files in the folder that the manifest does not list are warnings, not failures.

A manifest that is missing, not JSON or of another schema raises `SfError` (from read_manifest).
"""

from sf_mobile.verify.findings import Finding, VerifyReport
from sf_mobile.verify.folder import verify_folder
from sf_mobile.verify.graphs import check_graph_io, read_coreml_signature, read_onnx_signature, read_pte_signature

__all__ = [
    "Finding",
    "VerifyReport",
    "check_graph_io",
    "read_coreml_signature",
    "read_onnx_signature",
    "read_pte_signature",
    "verify_folder",
]
