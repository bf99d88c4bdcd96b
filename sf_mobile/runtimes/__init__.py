"""Runtimes: load exported artifacts and run them behind one `GraphBackend` protocol.

`EagerBackend` is the PyTorch reference of the exported graphs (the one runtime that builds its
graphs instead of loading them). Backends with heavy dependencies (ExecuTorch, Core ML, ONNX
Runtime) live in their own modules and are imported by name, never from here, so that importing
`sf_mobile.runtimes` stays cheap.
"""

from sf_mobile.runtimes.base import GraphBackend

__all__ = ["GraphBackend"]
