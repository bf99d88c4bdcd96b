"""Backend outputs vs reference outputs -> one `ParityReport`, the format every backend reports in."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sf_mobile.parity.data import ReferenceOutputs
from sf_mobile.parity.driver import BackendOutputs, StageTimings
from sf_mobile.parity.metrics import top1_within_noise, cosine, greedy_agreement, max_abs, relative_l2, top1_agreement
from sf_mobile.parity.tolerances import Component, Tolerance, is_gated, parse_against, parse_precision, tolerance


@dataclass(frozen=True)
class ComponentResult:
    component: str
    tolerance: Tolerance
    gated: bool  # False: reported only (a weight-quantized export against the float reference)
    rel_l2: float | None = None
    cosine: float | None = None
    max_abs: float | None = None
    top1: tuple[int, int] | None = None  # (argmax matches, rows): strict, reported
    top1_within_noise: tuple[int, int] | None = None  # (matches up to near ties, rows): gated
    greedy_prefix: tuple[int, int] | None = None  # (common prefix, reference tokens)
    failures: tuple[str, ...] = ()  # each check that missed its tolerance, e.g. "rel L2 3.2e-02 > 1.0e-04"

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {
            "component": self.component,
            "passed": self.passed,
            "gated": self.gated,
            "rel_l2": _sig(self.rel_l2),
            "cosine": None if self.cosine is None or not math.isfinite(self.cosine) else round(self.cosine, 8),
            "max_abs": _sig(self.max_abs),
            "top1": list(self.top1) if self.top1 else None,
            "top1_within_noise": list(self.top1_within_noise) if self.top1_within_noise else None,
            "greedy_prefix": list(self.greedy_prefix) if self.greedy_prefix else None,
            "failures": list(self.failures),
            "tolerance": self.tolerance.to_dict(),
        }

    def summary_line(self) -> str:
        parts = [f"{self.component:<15}"]
        if self.rel_l2 is not None:
            parts.append(f"rel L2 {self.rel_l2:.1e}  cos {self.cosine:.6f}  max {self.max_abs:.1e}")
        if self.top1 is not None:
            parts.append(f"top-1 {self.top1[0]}/{self.top1[1]}")
            if self.top1_within_noise is not None and self.top1_within_noise != self.top1:
                parts.append(f"({self.top1_within_noise[0]}/{self.top1_within_noise[1]} up to near ties)")
        if self.greedy_prefix is not None:
            parts.append(f"prefix {self.greedy_prefix[0]}/{self.greedy_prefix[1]}")
        verdict = "ok" if self.passed else "FAIL: " + "; ".join(self.failures)
        parts.append(verdict if self.gated else f"{verdict} (reported, not gated)")
        return "  ".join(parts)


@dataclass(frozen=True)
class ParityReport:
    backend: str
    precision: str
    against: str
    components: tuple[ComponentResult, ...]
    timings: StageTimings

    @property
    def passed(self) -> bool:
        """True when every gated component is within its tolerance."""
        return all(c.passed for c in self.components if c.gated)

    @property
    def failed(self) -> list[str]:
        """Names of the gated components that missed their tolerance."""
        return [c.component for c in self.components if c.gated and not c.passed]

    def to_dict(self) -> dict:
        return {
            "backend": self.backend,
            "precision": self.precision,
            "against": self.against,
            "passed": self.passed,
            "failed": self.failed,
            "components": {c.component: c.to_dict() for c in self.components},
            "timings": self.timings.to_dict(),
        }

    def summary_lines(self) -> list[str]:
        head = f"{self.backend} ({self.precision}) vs {self.against}: {'passed' if self.passed else 'FAILED'}"
        return [head, *(c.summary_line() for c in self.components)]


def _sig(value: float | None) -> float | None:
    """3 significant digits; None for inf/nan, which JSON cannot hold (the failures say what happened)."""
    return float(f"{value:.3g}") if value is not None and math.isfinite(value) else None


def _tensor_result(
    component: Component, actual: torch.Tensor, expected: torch.Tensor, limits: Tolerance, gated: bool, rows: bool
) -> ComponentResult:
    if tuple(actual.shape) != tuple(expected.shape):
        failure = f"shape {list(actual.shape)} != reference {list(expected.shape)}"
        return ComponentResult(component.value, limits, gated, failures=(failure,))
    rel, cos, diff = relative_l2(actual, expected), cosine(actual, expected), max_abs(actual, expected)
    failures = []
    # `not (x <= limit)` so that a NaN fails
    if limits.max_rel_l2 is not None and not rel <= limits.max_rel_l2:
        failures.append(f"rel L2 {rel:.1e} > {limits.max_rel_l2:.1e}")
    if limits.min_cosine is not None and not cos >= limits.min_cosine:
        failures.append(f"cos {cos:.6f} < {limits.min_cosine}")
    if rows:
        logits = actual.reshape(-1, actual.shape[-1]), expected.reshape(-1, expected.shape[-1])
        top1, near = top1_agreement(*logits), top1_within_noise(*logits)
        if limits.min_top1 is not None and near[1] and near[0] < math.ceil(limits.min_top1 * near[1] - 1e-9):
            failures.append(f"top-1 {near[0]}/{near[1]} (up to near ties) < {limits.min_top1:.0%}")
    else:
        top1 = near = None
    return ComponentResult(component.value, limits, gated, rel, cos, diff, top1, near, None, tuple(failures))


def _greedy_result(actual: list[int], expected: list[int], limits: Tolerance, gated: bool) -> ComponentResult:
    prefix = greedy_agreement(actual, expected)
    needed = math.ceil((limits.min_greedy_prefix or 0.0) * prefix[1] - 1e-9)
    failures = (f"greedy prefix {prefix[0]}/{prefix[1]} < {needed}",) if prefix[0] < needed else ()
    return ComponentResult(Component.GREEDY.value, limits, gated, greedy_prefix=prefix, failures=failures)


def compare(outputs: BackendOutputs, reference: ReferenceOutputs, precision: str, against: str) -> ParityReport:
    """Score `outputs` against `reference` with the tolerances of `precision`."""
    precision, against = parse_precision(precision).value, parse_against(against).value
    gated = is_gated(precision, against)

    def limits(component: Component) -> Tolerance:
        return tolerance(component.value, precision)

    components = (
        _tensor_result(Component.VISION, outputs.visual, reference.visual, limits(Component.VISION), gated, rows=False),
        _tensor_result(
            Component.PREFILL_LOGITS,
            outputs.prefill_last_logits,
            reference.prefill_last_logits,
            limits(Component.PREFILL_LOGITS),
            gated,
            rows=True,
        ),
        _tensor_result(
            Component.DECODE_LOGITS,
            outputs.decode_logits,
            reference.decode_logits,
            limits(Component.DECODE_LOGITS),
            gated,
            rows=True,
        ),
        _greedy_result(outputs.greedy_tokens, reference.greedy_tokens, limits(Component.GREEDY), gated),
    )
    return ParityReport(outputs.backend, precision, against, components, outputs.timings)


def compare_sampled(
    backend: str, pairs: dict[Component, tuple[torch.Tensor, torch.Tensor]], precision: str, against: str
) -> ParityReport:
    """A report over the components a sampled run measured (the HTP simulator at real size runs a
    few calls, each compared with the same call elsewhere): every (actual, expected) pair scored as
    `compare` scores it, logits row by row; components that were not sampled are absent."""
    precision, against = parse_precision(precision).value, parse_against(against).value
    gated = is_gated(precision, against)
    components = tuple(
        _tensor_result(
            component, actual, expected, tolerance(component.value, precision), gated,
            rows=component is not Component.VISION,
        )
        for component, (actual, expected) in pairs.items()
    )
    return ParityReport(backend, precision, against, components, StageTimings(0.0, 0.0, 0.0, 0, 0.0, 0, 0.0))


def compare_greedy(backend: str, actual: list[int], expected: list[int], precision: str, against: str) -> ParityReport:
    """A report with the greedy component alone, for runners that return tokens but no logits
    (the stock ExecuTorch runner, a device app's text output)."""
    precision, against = parse_precision(precision).value, parse_against(against).value
    component = _greedy_result(actual, expected, tolerance(Component.GREEDY.value, precision), is_gated(precision, against))
    return ParityReport(backend, precision, against, (component,), StageTimings(0.0, 0.0, 0.0, 0, 0.0, 0, 0.0))
