"""What sf-verify found: one `Finding` per check, collected in a `VerifyReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from sf_mobile.manifest import REFETCH


@dataclass(frozen=True)
class Finding:
    """One check of one artifact. `ok` is False only for a failure: a warning (`warning`) and a check
    that could not run (`ran` False, e.g. its library is not installed) keep `ok` True."""

    artifact: str
    check: str
    ok: bool
    message: str
    ran: bool = True
    warning: bool = False

    @property
    def label(self) -> str:
        if not self.ok:
            return f"FAIL: {self.message}"
        if self.warning:
            return f"WARNING: {self.message}"
        if not self.ran:
            return self.message  # "skipped: ..." or "not run: ...", already worded
        return f"ok ({self.message})" if self.message else "ok"


@dataclass
class VerifyReport:
    """Every finding of one folder, in the order the checks ran."""

    folder: Path
    io_checked: bool = True
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(finding.ok for finding in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.ok]

    def add(self, artifact: str, check: str, ok: bool, message: str = "", **flags) -> None:
        self.findings.append(Finding(artifact, check, ok, message, **flags))

    def verdict(self) -> str:
        checks = [f for f in self.findings if f.ran and not f.warning]
        extras = []
        if warnings_ := sum(f.warning for f in self.findings):
            extras.append(f"{warnings_} warning{'s' * (warnings_ != 1)}")
        if skipped := sum(not f.ran for f in self.findings):
            extras.append(f"{skipped} not run")
        if not self.io_checked:
            extras.append("inputs/outputs not checked: --no-io")
        tail = f" ({', '.join(extras)})" if extras else ""
        if self.passed:
            return f"PASSED: {self.folder}: all {len(checks)} checks passed{tail}"
        return f"FAILED: {self.folder}: {len(self.failures)} of {len(checks)} checks failed{tail}; {REFETCH}"

    def lines(self) -> list[str]:
        """One line per finding, then the verdict."""
        return [f"{f.artifact}: {f.check}: {f.label}" for f in self.findings] + [self.verdict()]

    def to_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "passed": self.passed,
            "io_checked": self.io_checked,
            "verdict": self.verdict(),
            "findings": [asdict(finding) for finding in self.findings],
        }
