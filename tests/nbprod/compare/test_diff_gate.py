"""The diff gate: `runs diff --fail-on regressed` exits 4 on a headline metric worse beyond its
tolerance (the diff printed first), and `--format markdown` renders it for a pull request."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from nbprod.cli import cli
from nbprod.compare.diff import diff_records, markdown_metrics, render_markdown
from nbprod.compare.gate import regressed
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store

SPEC = [
    {"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.01},
    {"name": "log_loss", "goal": "min", "headline": True, "tolerance": 0.0},
    {"name": "rows", "goal": "max", "headline": False, "tolerance": 0.0},
]
BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)


def record(hour: int, **metrics: float) -> RunRecord:
    moment = BASE + timedelta(hours=hour)
    return RunRecord(
        run_id=new_run_id(moment), status="succeeded", started_at=moment.isoformat(),
        tasks=[TaskRecord(name="train", kind="notebook", status="succeeded", params={"C": 1.0 + hour},
                          scraps={name: {"value": value} for name, value in metrics.items()})],
        metrics_spec=SPEC,
    )


GOOD = {"accuracy": 0.95, "log_loss": 0.30, "rows": 344}


@pytest.fixture
def store(tmp_path):
    """A folder store: a baseline, then runs that regress, stay within tolerance, or
    regress only in a metric that is no headline."""
    store = Store(str(tmp_path / "store"))
    runs = {
        "baseline": record(0, **GOOD),
        "worse": record(1, **{**GOOD, "accuracy": 0.90}),  # 0.05 below, tolerance 0.01
        "within": record(2, **{**GOOD, "accuracy": 0.945}),  # 0.005 below: unchanged
        "minor": record(3, **{**GOOD, "rows": 300}),  # regressed, but not a headline metric
        "better": record(4, **{**GOOD, "log_loss": 0.20}),
    }
    for run in runs.values():
        store.write_record(run)
    return tmp_path / "store", {name: run.run_id for name, run in runs.items()}


def nbprod(store, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args], capture_output=True, text=True,
                          env={"NBPROD_STORE": str(store), "PATH": "/usr/bin:/bin"})


def test_a_regressed_headline_metric_exits_4_after_printing_the_diff(store):
    folder, ids = store
    done = nbprod(folder, "runs", "diff", ids["baseline"], ids["worse"], "--fail-on", "regressed")
    assert done.returncode == 4, done.stderr
    assert f"new       {ids['worse']}" in done.stdout and "regressed" in done.stdout  # the diff came first
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        f"nbprod: error: 1 headline metric(s) regressed beyond their tolerance, or are missing, from run {ids['baseline']} "
        f"to {ids['worse']}: accuracy 0.95 -> 0.9"), done.stderr
    # markdown and the gate together: the table, then exit 4
    done = nbprod(folder, "runs", "diff", ids["baseline"], ids["worse"], "--format", "markdown", "--fail-on", "regressed")
    assert done.returncode == 4 and "| accuracy * |" in done.stdout


@pytest.mark.parametrize("new", ["within", "minor", "better"])
def test_no_headline_regression_passes_the_gate(store, new):
    folder, ids = store
    done = nbprod(folder, "runs", "diff", ids["baseline"], ids[new], "--fail-on", "regressed", "--json")
    assert done.returncode == 0, done.stderr
    verdicts = {m["name"]: m["verdict"] for m in json.loads(done.stdout)["metrics"]}
    assert "regressed" not in {verdicts["accuracy"], verdicts["log_loss"]}
    assert (verdicts["rows"] == "regressed") is (new == "minor")


def test_without_fail_on_a_regression_exits_0(store):
    folder, ids = store
    done = nbprod(folder, "runs", "diff", ids["baseline"], ids["worse"])
    assert done.returncode == 0 and "regressed" in done.stdout


def test_regressed_lists_headline_metrics_only():
    base = record(0, **GOOD)
    assert [m["name"] for m in regressed(diff_records(base, record(1, accuracy=0.5, log_loss=0.9, rows=1)))] == [
        "accuracy", "log_loss"]
    assert regressed(diff_records(base, record(1, **{**GOOD, "rows": 1}))) == []


def invoke(folder, *args: str):
    result = CliRunner().invoke(cli, list(args), env={"NBPROD_STORE": str(folder)}, catch_exceptions=False)
    return result


def test_format_markdown_is_a_github_table(store):
    folder, ids = store
    out = invoke(folder, "runs", "diff", ids["baseline"], ids["worse"], "--format", "markdown").output
    lines = out.splitlines()
    assert lines[0].startswith(f"**Run `{ids['baseline']}` → `{ids['worse']}`**")
    header = lines.index("| metric     | old   | new   | delta   | verdict   |")
    assert set(lines[header + 1]) <= set("|-")  # the delimiter row GitHub needs
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[header + 2:header + 5]]
    assert rows == [["accuracy *", "0.95", "0.9", "-0.05", "regressed"],
                    ["log_loss *", "0.3", "0.3", "+0", "unchanged"],
                    ["rows", "344", "344", "+0", "unchanged"]]
    # the parameter that changed is in the folded section, as a table too
    assert "<details><summary>what else changed</summary>" in out and "| train  | C       | 1     | 2     |" in out


def test_json_alias_and_format_json_agree_and_conflicts_are_usage_errors(store):
    folder, ids = store
    refs = (ids["baseline"], ids["better"])
    assert invoke(folder, "runs", "diff", *refs, "--json").output == invoke(folder, "runs", "diff", *refs, "--format",
                                                                           "json").output
    assert json.loads(invoke(folder, "runs", "diff", *refs, "--json").output)["new"] == ids["better"]
    done = nbprod(folder, "runs", "diff", *refs, "--json", "--format", "markdown")
    assert done.returncode == 2 and "--json and --format markdown disagree" in done.stderr


def test_markdown_cells_cannot_break_the_table():
    old, new = record(0, **GOOD), record(1, **GOOD)
    new.tasks[0].params["C"] = "a|b\n<script>"
    text = render_markdown(diff_records(old, new))
    row = next(line for line in text.splitlines() if line.startswith("| train"))
    assert "a\\|b &lt;script>" in row and row.count(" | ") == 3  # four cells, the pipe escaped
    headline = markdown_metrics(diff_records(old, new), headline_only=True)
    assert "accuracy" in headline and "rows" not in headline


def test_a_headline_metric_missing_or_nan_in_the_new_run_fails_the_gate():
    from nbprod.compare.gate import check
    from nbprod.errors import CheckFailedError

    base = record(0, **GOOD)
    gone = record(1, rows=344)  # the model's notebook failed before it scrapped its metrics
    assert [m["name"] for m in regressed(diff_records(base, gone))] == ["accuracy", "log_loss"]
    nan = record(2, **{**GOOD, "accuracy": float("nan")})
    assert [m["name"] for m in regressed(diff_records(base, nan))] == ["accuracy"]
    with pytest.raises(CheckFailedError, match=r"accuracy 0\.95 -> missing, log_loss 0\.3 -> missing"):
        check(diff_records(base, gone))
    recovered = diff_records(record(3, **{**GOOD, "accuracy": float("nan")}), record(4, **GOOD))
    assert regressed(recovered) == []  # NaN before, a number now: nothing got worse
