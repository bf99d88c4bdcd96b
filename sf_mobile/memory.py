"""Peak resident memory of a stretch of work (an export stage, a benchmarked backend).

Linux keeps a process's high-water mark (VmHWM in /proc/self/status) and lets the process reset it
(writing 5 to /proc/self/clear_refs), so each stage can report its own peak: the figure that says
which stage to convert in pieces when a real-size export nears the machine's memory. Elsewhere the
functions answer None and stages report time only.
"""

from __future__ import annotations

from pathlib import Path

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")
RESET_PEAK = "5"  # clear_refs command: reset the peak RSS to the current RSS (Linux >= 4.0)


def reset_peak() -> bool:
    """Start a new high-water mark; False where the kernel offers none."""
    try:
        CLEAR_REFS.write_text(RESET_PEAK)
    except OSError:
        return False
    return True


def peak_rss_gib() -> float | None:
    """The high-water mark since the last reset_peak(), in GiB (None where unknown)."""
    try:
        status = STATUS.read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):  # "VmHWM:   123456 kB"
            return int(line.split()[1]) / 2**20
    return None
