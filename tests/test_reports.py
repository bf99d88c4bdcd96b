"""The report forms of sf-bench: Markdown, self-contained HTML, `compare`, and the atomic writer.

Every test reads the version-1 example result (tests/fixtures/bench/result_v1.json) or a copy
changed in one place, so a failure names the behaviour that broke.
"""

from __future__ import annotations

import copy
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sf_mobile.errors import SfError
from sf_mobile.reports import compare as compare_module
from sf_mobile.reports import write as write_module
from sf_mobile.reports.compare import compare_results
from sf_mobile.reports.html import render_html
from sf_mobile.reports.markdown import md_escape, render_markdown
from sf_mobile.reports.tables import fmt_error
from sf_mobile.reports.schema import read_result
from sf_mobile.reports.write import write_reports

FIXTURE = Path(__file__).parent / "fixtures" / "bench" / "result_v1.json"
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@pytest.fixture
def result() -> dict:
    return json.loads(FIXTURE.read_text())


def backend(result: dict, name: str) -> dict:
    return next(b for b in result["backends"] if b["name"] == name)


def set_median(result: dict, name: str, metric: str, factor: float) -> dict:
    """A copy of `result` with one backend's median of one metric scaled by `factor`."""
    changed = copy.deepcopy(result)
    backend(changed, name)["latency"]["metrics"][metric]["median"] *= factor
    return changed


# ---- an HTML well-formedness checker -------------------------------------------------------------


class TagChecker(HTMLParser):
    """Collects every tag that is closed out of order or never closed, and every rect's attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.svg_count = 0
        self.rects: list[dict[str, str]] = []
        self.lines: list[dict[str, str]] = []

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg_count += 1
        if tag in ("rect", "line"):
            (self.rects if tag == "rect" else self.lines).append({k: v or "" for k, v in attrs})

    def handle_starttag(self, tag, attrs):
        self._record(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):  # <rect .../>: opened and closed at once
        self._record(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            return
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> while {self.open[-1] if self.open else 'nothing'} is open")
            if tag in self.open:  # resynchronise so that one slip is reported once
                del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
        else:
            self.open.pop()

    def check(self, page: str) -> TagChecker:
        self.feed(page)
        self.close()
        self.problems += [f"<{tag}> never closed" for tag in self.open]
        return self


def checked(page: str) -> TagChecker:
    return TagChecker().check(page)


def bars(checker: TagChecker, plot: str) -> dict[tuple[str, ...], dict[str, str]]:
    keys = ("data-backend", "data-part", "data-against", "data-component")
    return {tuple(r.get(k, "") for k in keys if k in r): r for r in checker.rects if r.get("data-plot") == plot}


def test_checker_catches_unclosed_and_misnested_tags():
    assert checked("<div><p>x</div>").problems  # </div> closes over an open <p>
    assert checked("<main><section>").problems
    assert not checked("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><svg><rect/></svg></body></html>").problems


# ---- Markdown ------------------------------------------------------------------------------------


def test_markdown_names_every_backend_and_every_reason(result):
    page = render_markdown(result)
    for entry in result["backends"]:
        assert entry["name"] in page
        if entry["reason"]:
            assert md_escape(entry["reason"]) in page
    # the simulator is marked, not passed off as a timing
    simulator = next(line for line in page.splitlines() if "qnn-htp-simulator" in line)
    assert "latency not meaningful: simulator" in simulator
    # the parity failure is listed with what failed
    runner = next(line for line in page.splitlines() if line.startswith("- **executorch-runner"))
    assert "parity failed" in runner and "greedy" in runner


def test_markdown_heading_host_and_settings(result):
    page = render_markdown(result)
    heading = page.splitlines()[0]
    assert heading.startswith("# ") and "executorch" in heading and "tiny" in heading and "8da4w" in heading
    assert "2 CPUs" in page and "2 torch threads" in page and "11.8 GB/s" in page
    assert "3 repeats after 1 warmup" in page


def md_section(page: str, heading: str) -> list[str]:
    """The table lines under `## heading`, up to the next heading."""
    lines = page.splitlines()
    start = lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [line for line in lines[start:end] if line.startswith("|")]


def test_markdown_latency_table_rows_and_formats(result):
    table = md_section(render_markdown(result), "Latency")
    header, rows = table[0], {line.split("|")[1].strip(): line for line in table[2:]}
    assert set(rows) == {"pytorch-eager", "executorch-host", "executorch-runner"}  # the backends with latency
    host = rows["executorch-host"]
    assert "130.0 / 134.0" in host and "245.0 / 250.0" in host  # TTFT and decode: median / p90, 1 decimal
    assert all(line.count("|") == header.count("|") for line in table)  # every row has every column
    runner = rows["executorch-runner"]
    assert "—" in runner and "230.0 / 231.0" in runner  # absent metrics are dashes, present ones are shown
    order = [header.index(name) for name in ("frame_decode_ms (ms)", "vision_ms (ms)", "decode_tok_s (tok/s)",
                                             "time_to_first_token_ms (ms)")]
    assert order == sorted(order)  # METRICS order, units in the headers


def test_markdown_parity_table_marks_reported_only_and_failures(result):
    page = render_markdown(result)
    parity = md_section(page, "Parity")[2:]
    assert len(parity) == 4  # one row per backend x report
    host_float = next(line for line in parity if line.startswith("| executorch-host | float"))
    assert host_float.count("(reported only)") == 4 and "2.2e-01" in host_float
    host_same = next(line for line in parity if line.startswith("| executorch-host | same-quantization"))
    assert "(reported only)" not in host_same and "2.9e-02" in host_same and "top-1 15/16" in host_same
    runner = next(line for line in parity if line.startswith("| executorch-runner"))
    assert "FAILED" in runner and "prefix 5/16" in runner
    assert "5784.3" in page and "3.5%" in page  # roofline bound and fraction
    assert "model.pte" in page and "1,234,567 B" in page  # artifact sizes


def test_error_format_has_three_significant_digits():
    assert fmt_error(0.029) == "2.9e-02"
    assert fmt_error(1.234e-6) == "1.23e-06"
    assert fmt_error(0.0) == "0"
    assert fmt_error(None) == "—"


def test_markdown_escapes_table_breaking_names(result):
    backend(result, "android-adb")["name"] = "<b>x</b> | y"
    page = render_markdown(result)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt; \\| y" in page


# ---- HTML ----------------------------------------------------------------------------------------


def test_html_is_well_formed_and_self_contained(result):
    page = render_html(result)
    checker = checked(page)
    assert checker.problems == []
    assert checker.svg_count >= 3
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("http://", "https://", "<script", "//cdn", "url("):
        assert forbidden not in page, forbidden
    for entry in result["backends"]:
        assert entry["name"] in page
        if entry["reason"]:
            assert entry["reason"].replace("'", "&#x27;") in page  # html.escape(quote=True) of the reason


def test_html_decode_bars_scale_with_tokens_per_second(result):
    decode = bars(checked(render_html(result)), "decode")
    eager, host = decode[("pytorch-eager",)], decode[("executorch-host",)]
    expected = backend(result, "pytorch-eager")["roofline"]["decode_tok_s_measured"] / backend(
        result, "executorch-host")["roofline"]["decode_tok_s_measured"]
    assert float(eager["width"]) / float(host["width"]) == pytest.approx(expected, rel=0.01)
    bound = bars(checked(render_html(result)), "decode-bound")[("executorch-host",)]
    assert float(host["width"]) / float(bound["width"]) == pytest.approx(245.0 / 5784.3, rel=0.01)


def test_html_latency_bars_stack_the_stage_medians(result):
    latency = bars(checked(render_html(result)), "latency")
    vision = {name: float(latency[(name, "vision_ms")]["width"]) for name in ("pytorch-eager", "executorch-host")}
    assert vision["pytorch-eager"] / vision["executorch-host"] == pytest.approx(49.2 / 41.0, rel=0.01)
    # segments follow each other: prefill starts where vision + embedding end
    host = {part: latency[("executorch-host", part)] for part in ("vision_ms", "embedding_ms", "prefill_ms")}
    end = float(host["embedding_ms"]["x"]) + float(host["embedding_ms"]["width"])
    assert float(host["prefill_ms"]["x"]) == pytest.approx(end, abs=0.02)
    # the runner times no stage: its whole time to first token is one unsplit segment
    assert float(latency[("executorch-runner", "rest")]["data-value"]) == 140.0


def test_html_parity_bars_are_on_a_log_scale_with_limits(result):
    checker = checked(render_html(result))
    parity = bars(checker, "parity")
    widths = {component: float(parity[("executorch-host", "same-quantization", component)]["width"])
              for component in ("vision", "prefill_logits", "decode_logits")}
    # on a log axis, width differences are proportional to differences of log10(value)
    logs = {"vision": math.log10(1.2e-6), "prefill_logits": math.log10(0.021), "decode_logits": math.log10(0.029)}
    measured = (widths["prefill_logits"] - widths["vision"]) / (widths["decode_logits"] - widths["prefill_logits"])
    expected = (logs["prefill_logits"] - logs["vision"]) / (logs["decode_logits"] - logs["prefill_logits"])
    assert measured == pytest.approx(expected, rel=0.02)
    limits = [line for line in checker.lines if line.get("data-plot") == "parity-limit"]
    declared = {c["tolerance"]["max_rel_l2"] for b in result["backends"] for r in b["parity"]
                for c in r["components"].values() if c["rel_l2"] is not None and c["tolerance"]["max_rel_l2"]}
    assert limits and {float(line["data-value"]) for line in limits} == declared


def test_html_escapes_user_visible_strings(result):
    backend(result, "android-adb")["name"] = "<b>x</b>"
    backend(result, "onnxruntime-cpu")["reason"] = "<script>alert(1)</script> & more"
    page = render_html(result)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert checked(page).problems == []


# ---- compare -------------------------------------------------------------------------------------


def test_identical_results_pass_with_a_row_per_common_metric(result):
    comparison = compare_results(result, copy.deepcopy(result))
    assert comparison.passed and comparison.regressions == []
    timed_metrics = sum(len(b["latency"]["metrics"]) for b in result["backends"]
                        if b["latency"] and not b["accuracy_only"])
    assert len(comparison.rows) == timed_metrics
    assert comparison.lines()[-1].startswith("passed")


def test_decode_throughput_down_20_percent_is_a_regression(result):
    comparison = compare_results(result, set_median(result, "executorch-host", "decode_tok_s", 0.8))
    assert not comparison.passed
    assert [(r.backend, r.what) for r in comparison.regressions] == [("executorch-host", "decode_tok_s")]
    row = next(r for r in comparison.rows if r.backend == "executorch-host" and r.metric == "decode_tok_s")
    assert row.regression and row.change == pytest.approx(-0.2)
    assert any("REGRESSION" in line and "decode_tok_s" in line for line in comparison.lines())
    assert comparison.lines()[-1].startswith("FAILED")


def test_decode_throughput_up_20_percent_is_not_a_regression(result):
    comparison = compare_results(result, set_median(result, "executorch-host", "decode_tok_s", 1.2))
    assert comparison.passed
    row = next(r for r in comparison.rows if r.metric == "decode_tok_s" and r.backend == "executorch-host")
    assert row.change == pytest.approx(0.2) and not row.regression


def test_time_up_20_percent_is_a_regression_and_down_is_not(result):
    slower = compare_results(result, set_median(result, "pytorch-eager", "prefill_ms", 1.2))
    assert [(r.backend, r.what) for r in slower.regressions] == [("pytorch-eager", "prefill_ms")]
    assert compare_results(result, set_median(result, "pytorch-eager", "prefill_ms", 0.8)).passed


def test_a_two_percent_change_is_not_a_regression(result):
    changed = set_median(set_median(result, "executorch-host", "decode_tok_s", 0.98), "executorch-host",
                         "time_to_first_token_ms", 1.02)
    assert compare_results(changed, result).passed
    assert compare_results(result, changed).passed
    # ...unless the threshold is tighter than the change
    assert not compare_results(result, changed, threshold=0.01).passed


def test_parity_pass_to_fail_is_a_regression(result):
    new = copy.deepcopy(result)
    report = backend(new, "executorch-host")["parity"][0]  # same-quantization, gated
    report["passed"], report["failed"] = False, ["decode_logits"]
    report["components"]["decode_logits"].update(passed=False, failures=["top-1 12/16 (up to near ties) < 88%"])
    comparison = compare_results(result, new)
    assert [(r.backend, r.what) for r in comparison.regressions] == [("executorch-host", "parity")]
    assert "decode_logits" in comparison.regressions[0].detail


def test_gated_rel_l2_growing_past_its_tolerance_is_a_regression(result):
    new = copy.deepcopy(result)
    backend(new, "executorch-host")["parity"][0]["components"]["vision"]["rel_l2"] = 0.5  # 8da4w limit 0.1
    comparison = compare_results(result, new)
    assert [(r.backend, r.what) for r in comparison.regressions] == [("executorch-host", "vision")]
    # the same growth in a reported-only component (quantized vs float) is not a regression
    reported = copy.deepcopy(result)
    backend(reported, "executorch-host")["parity"][1]["components"]["vision"]["rel_l2"] = 0.5
    assert compare_results(result, reported).passed


def test_backends_in_one_result_only_are_listed(result):
    new = copy.deepcopy(result)
    new["backends"] = [b for b in new["backends"] if b["name"] != "onnxruntime-cpu"]
    new["backends"].append({**copy.deepcopy(backend(result, "android-adb")), "name": "ios-devicectl"})
    comparison = compare_results(result, new)
    assert comparison.only_in_base == ["onnxruntime-cpu"] and comparison.only_in_new == ["ios-devicectl"]
    assert any("onnxruntime-cpu" in line for line in comparison.lines())


def test_different_presets_or_targets_are_refused_unless_allowed(result):
    other = copy.deepcopy(result)
    other["export"]["preset"] = "1b"
    with pytest.raises(SfError) as raised:
        compare_results(result, other)
    message = str(raised.value)
    assert "'tiny' vs '1b'" in message and "allow_mismatch" in message and "\n" not in message
    target = copy.deepcopy(result)
    target["export"]["target"] = "coreml"
    with pytest.raises(SfError):
        compare_results(result, target)
    allowed = compare_results(result, other, allow_mismatch=True)
    assert allowed.passed and any("different exports" in note for note in allowed.notes)


def test_compare_rejects_a_result_that_is_not_version_1(result):
    with pytest.raises(SfError):
        compare_results(result, {**result, "schema": "sf-bench/0"})
    with pytest.raises(SfError):
        compare_results(result, result, threshold=-0.1)
    assert compare_module.MISMATCH_FIX  # the fix text the CLI shows is defined in one place


# ---- writing -------------------------------------------------------------------------------------


def test_write_reports_writes_three_files_that_read_back(result, tmp_path):
    outdir = tmp_path / "new" / "reports"
    written = write_reports(result, outdir)
    assert set(written) == {"json", "markdown", "html"}
    assert sorted(p.name for p in outdir.iterdir()) == ["sf_bench.html", "sf_bench.json", "sf_bench.md"]
    assert read_result(written["json"]) == result
    assert written["markdown"].read_text(encoding="utf-8") == render_markdown(result)
    assert checked(written["html"].read_text(encoding="utf-8")).problems == []


def test_an_interrupted_write_leaves_the_previous_reports_whole(result, tmp_path, monkeypatch):
    write_reports(result, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(text_result: dict) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(write_module, "render_html", broken)
    with pytest.raises(KeyboardInterrupt):
        write_reports(set_median(result, "executorch-host", "decode_tok_s", 0.5), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp file, nothing replaced

    monkeypatch.undo()
    monkeypatch.setattr(write_module.os, "replace", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(SfError, match="disk full"):  # a one-line error, the previous reports whole
        write_reports(result, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_write_reports_refuses_an_invalid_result_before_writing(result, tmp_path):
    with pytest.raises(SfError):
        write_reports({**result, "backends": "none"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_markdown_and_html_show_the_same_numbers(result):
    markdown, page = render_markdown(result), render_html(result)
    for number in re.findall(r"\d+\.\d / \d+\.\d|\d\.\d+e-\d\d", markdown):
        assert number in page, number


# ---- the schema ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda r: r["backends"].append(copy.deepcopy(r["backends"][0])), "more than once"),
        (lambda r: r["backends"][0]["latency"]["metrics"]["vision_ms"].update(unit="s"), "is in 's'"),
        (lambda r: r["backends"][0]["latency"]["metrics"]["vision_ms"].update(median=None), "not a finite number"),
        (lambda r: r["export"].pop("preset"), "export lacks 'preset'"),
        (lambda r: r["backends"][3].update(reason=None), "unavailable without a reason"),
        (lambda r: r["backends"][0].update(accuracy_only="no"), "accuracy_only"),
        (lambda r: r.update(schema="sf-bench/0"), "sf-bench/0"),
    ],
)
def test_validate_names_what_readers_would_trip_on(result, break_it, message):
    from sf_mobile.reports.schema import validate

    break_it(result)
    with pytest.raises(SfError, match=re.escape(message)):
        validate(result)


def test_a_result_file_with_nan_is_refused(result, tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(result).replace('"median": 12.0', '"median": NaN', 1))
    with pytest.raises(SfError, match="not valid JSON"):
        read_result(path)


def test_an_unwritable_report_folder_is_a_one_line_error(result, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SfError, match="cannot write the reports into"):
        write_reports(result, blocker / "reports")
