"""Import coremltools once, without its import-time noise.

On Linux coremltools logs eight "Failed to load _MLModelProxy" lines (Core ML itself is macOS-only),
warns about untested torch/scikit-learn versions, and pulls in torchao, which logs its own missing
CUDA kernels. None of it is actionable for a user of sf-mobile; the one thing that is (predictions
need macOS) the exporter and the runtime say themselves.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

from sf_mobile.errors import MissingDependencyError

NOISY_LOGGERS = ("coremltools", "torchao", "torch.utils._pytree")


def import_coremltools():
    """The coremltools module; MissingDependencyError naming the [coreml] extra when it is absent."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import coremltools
    except ImportError:
        raise MissingDependencyError("coremltools", "coreml") from None
    return coremltools
