"""`sf-bench compare`: two results of one export, metric by metric, with every regression named.

A latency regression is a median that moved the wrong way by more than `threshold` (a fraction):
ms up, tok/s (`schema.HIGHER_IS_BETTER`) down. A parity regression is a report that passed in the
base and fails in the new result, or a gated component whose rel L2 was within its tolerance and
no longer is. Results of different presets or targets time different graphs, so comparing them is
refused unless asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sf_mobile.errors import SfError
from sf_mobile.reports.schema import HIGHER_IS_BETTER, METRICS, validate
from sf_mobile.reports.tables import rel_l2_limit

MISMATCH_FIX = "compare two runs of the same preset and target, or pass allow_mismatch=True (--allow-mismatch)"


@dataclass(frozen=True)
class MetricChange:
    """One latency metric of one backend, present in both results."""

    backend: str
    metric: str
    unit: str
    base: float  # median
    new: float  # median
    change: float | None  # (new - base) / base; None when the base is 0
    regression: bool


@dataclass(frozen=True)
class Regression:
    backend: str
    what: str  # a metric name, "parity", "status", or a parity component name
    detail: str  # one line for a terminal

    def __str__(self) -> str:
        return f"{self.backend}: {self.detail}"


@dataclass
class Comparison:
    base_label: str
    new_label: str
    threshold: float
    rows: list[MetricChange] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    only_in_new: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not compared, and why

    @property
    def passed(self) -> bool:
        return not self.regressions

    def lines(self) -> list[str]:
        out = [f"sf-bench compare (regression threshold {self.threshold:.0%})",
               f"  base: {self.base_label}", f"  new:  {self.new_label}"]
        if self.rows:
            width = max(len(row.backend) for row in self.rows)
            out.append(f"{'backend':<{width}}  {'metric':<32} {'base':>10} {'new':>10} {'change':>8}")
            for row in self.rows:
                change = "—" if row.change is None else f"{row.change:+.1%}"
                flag = "  REGRESSION" if row.regression else ""
                out.append(f"{row.backend:<{width}}  {row.metric + ' (' + row.unit + ')':<32} "
                           f"{row.base:>10.1f} {row.new:>10.1f} {change:>8}{flag}")
        else:
            out.append("no latency metric is present in both results")
        if self.only_in_base:
            out.append(f"only in base: {', '.join(self.only_in_base)}")
        if self.only_in_new:
            out.append(f"only in new: {', '.join(self.only_in_new)}")
        out += [f"note: {note}" for note in self.notes]
        out += [f"REGRESSION {regression}" for regression in self.regressions]
        count = len(self.regressions)
        out.append("passed: no regressions" if self.passed else f"FAILED: {count} regression{'s' * (count != 1)}")
        return out


def compare_results(base: dict, new: dict, threshold: float = 0.05, *, allow_mismatch: bool = False) -> Comparison:
    """`new` against `base`; SfError when either is not a version-1 result or they are of different exports."""
    validate(base, "base result")
    validate(new, "new result")
    if not isinstance(threshold, (int, float)) or not math.isfinite(threshold) or threshold < 0:
        raise SfError(f"regression threshold {threshold!r} is not a non-negative fraction", "pass e.g. 0.05 for 5%")
    comparison = Comparison(_label(base), _label(new), float(threshold))
    _check_same_export(base, new, allow_mismatch, comparison)
    base_backends, new_backends = _by_name(base, "base", comparison), _by_name(new, "new", comparison)
    comparison.only_in_base = [name for name in base_backends if name not in new_backends]
    comparison.only_in_new = [name for name in new_backends if name not in base_backends]
    for name, before in base_backends.items():
        if name in new_backends:
            after = new_backends[name]
            _compare_status(name, before, after, comparison)
            _compare_latency(name, before, after, comparison)
            _compare_parity(name, before, after, comparison)
    return comparison


def _label(result: dict) -> str:
    export = result["export"] if isinstance(result["export"], dict) else {}
    return f"{export.get('target')}/{export.get('preset')}, {result['created']}, {result['folder']}"


def _check_same_export(base: dict, new: dict, allow_mismatch: bool, comparison: Comparison) -> None:
    before = base["export"] if isinstance(base["export"], dict) else {}
    after = new["export"] if isinstance(new["export"], dict) else {}
    differ = [f"{key} {before.get(key)!r} vs {after.get(key)!r}" for key in ("preset", "target")
              if before.get(key) != after.get(key)]
    if differ and not allow_mismatch:
        raise SfError(f"the results are of different exports ({'; '.join(differ)}), so their numbers are not comparable",
                      MISMATCH_FIX)
    if differ:
        comparison.notes.append(f"compared across different exports as asked: {'; '.join(differ)}")
    # these do not make the comparison meaningless, but they explain a change that is not a regression
    if before.get("quantization") != after.get("quantization"):
        comparison.notes.append(f"quantization differs: {before.get('quantization')} vs {after.get('quantization')}")
    for section, keys in (("host", ("machine", "cpu_count", "torch_threads")),
                          ("settings", ("repeats", "warmup", "video", "decode_tokens"))):
        old, now = base[section] or {}, new[section] or {}
        for key in keys:
            if isinstance(old, dict) and isinstance(now, dict) and old.get(key) != now.get(key):
                comparison.notes.append(f"{section} {key} differs: {old.get(key)!r} vs {now.get(key)!r}")


def _by_name(result: dict, which: str, comparison: Comparison) -> dict[str, dict]:
    backends: dict[str, dict] = {}
    for backend in result["backends"]:
        name = str(backend["name"])
        if name in backends:
            comparison.notes.append(f"{which} lists {name} twice; the last entry is compared")
        backends[name] = backend
    return backends


def _compare_status(name: str, before: dict, after: dict, comparison: Comparison) -> None:
    if before["status"] in ("ok", "parity_failed") and after["status"] == "failed":
        comparison.regressions.append(Regression(name, "status", f"ran in base, failed in new: {after['reason']}"))
    elif before["status"] != "unavailable" and after["status"] == "unavailable":
        # an unplugged phone or a missing extra is the environment, not the code: say it, don't fail
        comparison.notes.append(f"{name} ran in base but is unavailable in new: {after['reason']}")


def _medians(backend: dict) -> dict[str, float]:
    latency = backend["latency"] if isinstance(backend["latency"], dict) else {}
    medians = {}
    for metric_name, metric in (latency.get("metrics") or {}).items():
        value = metric.get("median") if isinstance(metric, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            medians[metric_name] = float(value)
    return medians


def _compare_latency(name: str, before: dict, after: dict, comparison: Comparison) -> None:
    if before.get("accuracy_only") or after.get("accuracy_only"):
        if before["latency"] is not None and after["latency"] is not None:
            comparison.notes.append(f"{name}: latency not compared (accuracy only: a simulator's timing means nothing)")
        return
    old, now = _medians(before), _medians(after)
    for metric_name in METRICS:
        if metric_name in old and metric_name in now:
            comparison.rows.append(_metric_change(name, metric_name, old[metric_name], now[metric_name], comparison))
        elif metric_name in old:
            comparison.notes.append(f"{name}: {metric_name} measured in base, not in new")
        elif metric_name in now:
            comparison.notes.append(f"{name}: {metric_name} measured in new, not in base")


def _metric_change(backend: str, metric_name: str, old: float, now: float, comparison: Comparison) -> MetricChange:
    unit = METRICS[metric_name][0]
    change = (now - old) / old if old != 0 else None
    worse = -change if metric_name in HIGHER_IS_BETTER else change
    regression = worse is not None and worse > comparison.threshold
    row = MetricChange(backend, metric_name, unit, old, now, change, regression)
    if regression:
        detail = (f"{metric_name} {old:.1f} -> {now:.1f} {unit} ({change:+.1%}, "
                  f"threshold {comparison.threshold:.0%})")
        comparison.regressions.append(Regression(backend, metric_name, detail))
    return row


def _reports(backend: dict) -> dict[tuple[str, str], dict]:
    """Parity reports keyed by (against, precision): the pair that makes two reports comparable."""
    return {(str(r.get("against")), str(r.get("precision"))): r for r in backend.get("parity") or [] if isinstance(r, dict)}


def _compare_parity(name: str, before: dict, after: dict, comparison: Comparison) -> None:
    old, now = _reports(before), _reports(after)
    for key, report in old.items():
        against, precision = key
        if key not in now:
            comparison.notes.append(f"{name}: parity vs {against} ({precision}) in base, not in new")
            continue
        new_report = now[key]
        if report.get("passed") and not new_report.get("passed"):
            failed = ", ".join(map(str, new_report.get("failed") or [])) or "a gated component"
            detail = f"parity vs {against} ({precision}) passed in base, fails in new: {failed}"
            comparison.regressions.append(Regression(name, "parity", detail))
        _compare_components(name, against, report, new_report, comparison)
    for against, precision in now.keys() - old.keys():
        comparison.notes.append(f"{name}: parity vs {against} ({precision}) in new, not in base")


def _compare_components(name: str, against: str, report: dict, new_report: dict, comparison: Comparison) -> None:
    old_components = report.get("components") if isinstance(report.get("components"), dict) else {}
    new_components = new_report.get("components") if isinstance(new_report.get("components"), dict) else {}
    for component_name, component in new_components.items():
        previous = old_components.get(component_name)
        if not isinstance(component, dict) or not isinstance(previous, dict) or not component.get("gated", True):
            continue  # a reported-only component (quantized vs float) never gates, so it cannot regress
        limit, was, now = rel_l2_limit(component), previous.get("rel_l2"), component.get("rel_l2")
        if limit is None or not isinstance(was, (int, float)) or not isinstance(now, (int, float)):
            continue
        if was <= limit < now:
            detail = f"{component_name} vs {against}: rel L2 {was:.2e} -> {now:.2e}, past its tolerance {limit:.1e}"
            comparison.regressions.append(Regression(name, component_name, detail))
