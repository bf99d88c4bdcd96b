"""A peer's own virtualenv, built once under the cache and reused: peers pin other versions of
transformers (optimum-executorch 1.1.0 wants 5.0.0rc1) or compile native code (llama-cpp-python),
so they never share the project's environment. The marker naming the pins is written only after
the import check passes, so a half-built venv is rebuilt rather than trusted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sf_mobile.errors import SfError

MARKER = ".sf-peer-ready"
LOG = "install.log"


def cache_root() -> Path:
    from sf_mobile.video.sample_clip import _cache_dir  # the project's one cache location ($SF_MOBILE_CACHE)

    return _cache_dir() / "peers"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _tail(text: str) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return kept[-1] if kept else "no output"


def _imports(python: Path, check: str) -> subprocess.CompletedProcess | None:
    if not python.exists():
        return None
    try:
        return subprocess.run([str(python), "-c", check], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None


def ensure_venv(name: str, requirements: tuple[str, ...], check: str, *, pip_args: tuple[str, ...] = (),
                env: dict | None = None, root: Path | None = None, timeout: int = 3600) -> tuple[Path, float]:
    """(the venv's python, seconds spent building it: 0 when reused). `check`: Python code that must
    run cleanly in the venv. pip's output goes to <venv>/install.log, named in any failure."""
    venv = (root or cache_root()) / name
    python = venv_python(venv)
    marker = venv / MARKER
    wanted = "\n".join(requirements) + "\n"
    if marker.is_file() and marker.read_text() == wanted:
        probe = _imports(python, check)
        if probe is not None and probe.returncode == 0:
            return python, 0.0
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log = venv / LOG
    command = [str(python), "-m", "pip", "install", *pip_args, *requirements]
    with log.open("w") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        try:
            pip = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SfError(f"building the {name} virtualenv took over {timeout} s (log: {log})",
                          "re-run (a half-built venv is rebuilt), or leave the peer out with --peers") from None
    if pip.returncode != 0:
        raise SfError(f"could not build the {name} virtualenv (pip exit {pip.returncode}: {_tail(log.read_text(errors='replace'))})",
                      f"see {log}; the peer can be left out with --peers")
    probe = _imports(python, check)
    if probe is None or probe.returncode != 0:
        raise SfError(f"the {name} virtualenv does not import ({_tail(probe.stderr if probe else '')})", f"see {log}")
    marker.write_text(wanted)
    return python, time.perf_counter() - started
