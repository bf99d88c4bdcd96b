"""The optimum-executorch peer: Hugging Face's own ExecuTorch exporter on the same weights, with
the recipe that matches ours (XNNPACK, 8da4w linears in groups of 32, 4-bit embedding, its custom
SDPA and KV-cache ops), exported in its own venv and timed on this venv's runtime (same release)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sf_mobile.benchmarks.decode_host.peer_venv import ensure_venv
from sf_mobile.errors import SfError

# optimum-executorch 1.1.0 pins transformers==5.0.0rc1; executorch/torchao/torch as the project's
# own pins, so both programs come from the same ExecuTorch release and run on the same runtime.
REQUIREMENTS = (
    "optimum-executorch==1.1.0",
    "transformers==5.0.0rc1",
    "executorch==1.5.1",
    "torchao==0.18.0",
    "torch==2.13.0",
    "numpy<2.4",
)
GROUP_SIZE = 32


def export_command(python: Path, hf_folder: Path, out: Path, max_context: int) -> list[str]:
    cli = python.parent / "optimum-cli"
    return [str(cli), "export", "executorch", "--model", str(hf_folder), "--task", "text-generation",
            "--recipe", "xnnpack", "--use_custom_sdpa", "--use_custom_kv_cache",
            "--qlinear", "8da4w", "--qlinear_group_size", str(GROUP_SIZE),
            "--qembedding", "4w", "--qembedding_group_size", str(GROUP_SIZE),
            "--max_seq_len", str(max_context), "--output_dir", str(out)]


def export(hf_folder: Path, out: Path, max_context: int) -> dict:
    """Export into folder `out` (its model.pte); returns {"pte", "seconds", "venv_build_s", "command"}."""
    python, built = ensure_venv("optimum-executorch", REQUIREMENTS, "import optimum.exporters.executorch")
    command = export_command(python, hf_folder, out, max_context)
    log = Path(out).with_suffix(".log")
    start = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    pte = Path(out) / "model.pte"
    if proc.returncode != 0 or not pte.is_file():
        raise SfError(f"optimum-cli export executorch failed (exit {proc.returncode}; log: {log})",
                      "read the log; the peer can be left out with --peers")
    return {"pte": str(pte), "seconds": round(seconds, 1), "venv_build_s": round(built, 1),
            "command": " ".join(command[1:]).replace(str(hf_folder), "<hf folder>").replace(str(out), "<out>")}
