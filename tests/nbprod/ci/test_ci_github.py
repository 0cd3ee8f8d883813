"""GitHub Actions: under GITHUB_ACTIONS=true a finished build writes an error annotation and a
log group per failed task to stdout and a job summary (against a baseline) to the summary file."""

from __future__ import annotations

import io
import re

import pytest
from ci_records import CELL, INJECTED, run, store_smoke

from nbprod.ci.baseline import pick_baseline
from nbprod.ci.github import annotate, escape_data, escape_property, job_summary
from nbprod.ci.outcome import tell_ci
from nbprod.errors import RunNotFoundError
from nbprod.store import Store


@pytest.fixture
def project(tmp_path):
    """A repository (the workspace) with the project in a folder of it."""
    root = tmp_path / "repo" / "proj"
    root.mkdir(parents=True)
    return root


@pytest.fixture
def store(tmp_path, project):
    """A baseline (succeeded, not smoke), then newer runs no baseline may be: a smoke run, a failed one."""
    store = Store(str(tmp_path / "store"))
    baseline = run(0, root=project, accuracy=0.95)
    store.write_record(baseline)
    store_smoke(store, run(1, root=project, accuracy=0.5))
    store.write_record(run(2, "failed", root=project))
    return store, baseline


def github_env(project, summary):
    return {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(project.parent)}


def test_escaping_follows_githubs_rules():
    assert escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert escape_property("50% done\nnext: a,b") == "50%25 done%0Anext%3A a%2Cb"


def test_a_failed_build_writes_annotation_group_and_summary(project, store, tmp_path):
    store, baseline = store
    record = run(3, "failed", root=project)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step's summary\n")
    out = io.StringIO()
    told = tell_ci(record, store=store, environ=github_env(project, summary), stream=out)
    assert told.annotations == 1 and told.summary == summary and told.baseline == baseline.run_id and not told.notes
    lines = out.getvalue().splitlines()

    # one annotation, on the notebook as the repository names it, properties and message escaped
    errors = [line for line in lines if line.startswith("::error ")]
    assert errors == [f"::error file=proj/notebooks/train.ipynb,title=nbprod%3A task train failed::"
                      f"task 'train', cell 3 (In [4]) failed: ValueError: 100%25, bad: value (run {record.run_id})"]

    # the group: the cell's source and the traceback, workflow commands stopped inside it
    start, end = lines.index(next(l for l in lines if l.startswith("::group::"))), lines.index("::endgroup::")
    assert lines[start] == "::group::nbprod: task 'train', cell 3 (In [4]) failed: ValueError: 100%25, bad: value"
    token = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[start + 1]).group(1)
    assert lines[end - 1] == f"::{token}::"
    inside = "\n".join(lines[start + 2:end - 1])
    assert f"cell 3 (In [4]) of proj/notebooks/train.ipynb:\n{CELL}\n" in inside
    assert INJECTED in inside and "Traceback (most recent call last)" in inside
    assert INJECTED not in "\n".join(lines[:start + 2] + lines[end - 1:])

    # the summary is appended: status, run, tasks, headline metric against the baseline
    text = summary.read_text()
    assert text.startswith("earlier step's summary\n### nbprod build ❌ failed\n")
    assert f"run `{record.run_id}`" in text and "commit `cccccccc`" in text
    assert re.search(r"^\| train +\| failed +\| 2\.5 s +\| task 'train', cell 3 \(In \[4\]\) failed", text, re.M)
    assert re.search(r"^\| evaluate +\| aborted +\| - ", text, re.M)
    assert f"#### Headline metrics against run `{baseline.run_id}`" in text
    assert re.search(r"^\| accuracy \* +\| 0\.95 +\| - +\| - +\| removed +\|$", text, re.M), text
    assert "rows" not in text.split("#### Headline metrics")[1]  # headline metrics only


def test_a_succeeded_build_writes_no_annotation_and_its_metric_deltas(project, store, tmp_path):
    store, baseline = store
    summary = tmp_path / "summary.md"
    out = io.StringIO()
    told = tell_ci(run(3, root=project, accuracy=0.97), store=store, environ=github_env(project, summary), stream=out)
    assert told.annotations == 0 and out.getvalue() == ""
    text = summary.read_text()
    assert text.startswith("### nbprod build ✅ succeeded\n")
    assert re.search(r"^\| accuracy \* +\| 0\.95 +\| 0\.97 +\| \+0\.02 +\| improved +\|$", text, re.M), text


def test_the_baseline_is_the_newest_succeeded_non_smoke_run_or_the_one_given(project, store):
    store, baseline = store
    assert pick_baseline(store).record.run_id == baseline.run_id
    assert pick_baseline(store, exclude=baseline.run_id).record is None
    assert "no succeeded pipeline build that is not a smoke run" in pick_baseline(store, exclude=baseline.run_id).note
    newest = store.run_ids()[0]
    assert pick_baseline(store, newest[:17]).record.run_id == newest  # given: taken as it is
    with pytest.raises(RunNotFoundError):
        pick_baseline(store, "19990101")


def test_no_baseline_or_a_wrong_one_is_said_in_the_summary_not_raised(project, store, tmp_path):
    store, _ = store
    summary, said = tmp_path / "summary.md", []
    told = tell_ci(run(3, root=project, accuracy=0.97), store=store, baseline="19990101", log=said.append,
                   environ=github_env(project, summary), stream=io.StringIO())
    assert told.baseline is None and said and "no run matches '19990101'" in said[0]
    text = summary.read_text()
    assert "_no baseline: --baseline 19990101: no run matches '19990101'" in text
    assert re.search(r"^\| accuracy +\| 0\.97 +\|$", text, re.M)  # its own values, headline only


def test_off_github_nothing_is_written(project, store, tmp_path, monkeypatch):
    store, _ = store
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    out = io.StringIO()
    told = tell_ci(run(3, "failed", root=project), store=store, stream=out)
    assert told.annotations == 0 and told.summary is None and out.getvalue() == ""


def test_under_github_actions_from_the_environment(project, store, tmp_path, monkeypatch, capsys):
    store, _ = store
    summary = tmp_path / "summary.md"
    for name, value in github_env(project, summary).items():
        monkeypatch.setenv(name, value)
    tell_ci(run(3, "failed", root=project), store=store)  # stdout, the process's environment
    assert "::error file=proj/notebooks/train.ipynb," in capsys.readouterr().out
    assert summary.read_text().startswith("### nbprod build ❌ failed")


def test_a_function_tasks_annotation_has_its_line_and_nothing_written_holds_a_credential(project, monkeypatch):
    secret = "hunter2-very-secret-token"
    monkeypatch.setenv("MY_API_TOKEN", secret)
    record = run(3, "failed", root=project, evalue=f"cannot connect with {secret}\nsecond line")
    record.tasks[1].kind, record.tasks[1].source = "function", "src/steps.py:12"
    out = io.StringIO()
    annotate(record, out, root=project)
    text = out.getvalue()
    assert "::error file=src/steps.py,line=12,title=" in text
    assert secret not in text and "[redacted:MY_API_TOKEN]" in text
    assert "cannot connect with [redacted:MY_API_TOKEN]%0Asecond line" in text  # one line per command
    summary = job_summary(record)
    assert secret not in summary and "[redacted:MY_API_TOKEN]" in summary


def test_a_run_that_failed_outside_any_task_still_gets_an_annotation(project):
    record = run(3, "interrupted", root=project)
    record.error = None
    out = io.StringIO()
    assert annotate(record, out) == 1
    assert out.getvalue() == f"::error title=nbprod%3A build interrupted::the build interrupted (run {record.run_id})\n"


def test_an_interrupted_task_without_an_error_gets_an_annotation_and_no_group(project):
    record = run(3, "interrupted", root=project)
    record.tasks[1].status, record.tasks[1].error = "interrupted", None
    out = io.StringIO()
    assert annotate(record, out, root=project.parent) == 1
    assert out.getvalue() == (f"::error file=proj/notebooks/train.ipynb,title=nbprod%3A task train interrupted::"
                              f"task 'train' was interrupted (run {record.run_id})\n")


def test_credentials_no_environment_variable_names_are_masked_in_every_ci_output(project, tmp_path):
    from nbprod.ci.junit import write_junit

    key = "AKIA" + "ZXCVBNMASDFGHJKL"  # a key id's shape, in no environment variable
    record = run(3, "failed", root=project, evalue=f"cannot read postgresql://ana:hunter2pw@db/x with {key}")
    out = io.StringIO()
    annotate(record, out, root=project)
    written = [out.getvalue(), job_summary(record),
               write_junit(record, tmp_path / "junit.xml", root=project).read_text()]
    for text in written:
        assert key not in text and "hunter2pw" not in text
        assert "postgresql://ana:[redacted:credential]@db/x" in text


def test_a_reproduction_or_a_papermill_run_is_never_the_default_baseline(project, store):
    store, baseline = store
    reproduction = run(5, root=project, accuracy=0.1)
    reproduction.reproduces, reproduction.verdict = baseline.run_id, "identical"  # built from an old commit
    papermill = run(6, root=project, accuracy=0.2)
    papermill.command = ["nbprod", "run", "job.ipynb", "out.ipynb"]  # one notebook, none of the pipeline's metrics
    hand = run(7, root=project, accuracy=0.3)
    hand.command = ["papermill", "job.ipynb", "out.ipynb", "--engine", "nbprod"]
    for record in (reproduction, papermill, hand):
        store.write_record(record)
    assert pick_baseline(store).record.run_id == baseline.run_id
