"""Building one backend's entry of the result (`BACKEND` in sf_mobile/reports/schema.py)."""

from __future__ import annotations

from sf_mobile import memory


def entry(
    name: str,
    kind: str,
    status: str,
    *,
    reason: str | None = None,
    accuracy_only: bool = False,
    device: dict | None = None,
    parity: list | None = None,
    latency: dict | None = None,
    stats: dict | None = None,
    peak_rss_mib: float | None = None,
    memory_method: str = "not run",
    roofline: dict | None = None,
) -> dict:
    return {
        "name": name,
        "kind": kind,
        "status": status,
        "reason": reason,
        "accuracy_only": accuracy_only,
        "device": device,
        "parity": parity or [],
        "latency": latency,
        "stats": stats,
        "memory": {"peak_rss_mib": peak_rss_mib, "method": memory_method},
        "roofline": roofline,
    }


def unavailable(name: str, kind: str, reason: str, accuracy_only: bool = False) -> dict:
    return entry(name, kind, "unavailable", reason=reason, accuracy_only=accuracy_only)


def failed(name: str, kind: str, reason: str, accuracy_only: bool = False) -> dict:
    return entry(name, kind, "failed", reason=reason, accuracy_only=accuracy_only)


class PeakMemory:
    """The process's peak RSS over a block (Linux VmHWM, reset at the start), in MiB."""

    METHOD = "peak RSS of the sf-bench process while this backend ran (VmHWM, Linux), all loaded state included"

    def __init__(self):
        self.mib: float | None = None

    def __enter__(self) -> "PeakMemory":
        self._measured = memory.reset_peak()
        return self

    def __exit__(self, *_exc) -> None:
        gib = memory.peak_rss_gib() if self._measured else None
        self.mib = None if gib is None else round(gib * 1024, 1)

    @property
    def method(self) -> str:
        return self.METHOD if self.mib is not None else "not measured: no VmHWM on this OS"
