"""diff_records: two runs compared from their records alone (plus a real git repo)."""

from __future__ import annotations

import json
import subprocess

from nbprod.compare.diff import diff_records, render_text, to_json
from nbprod.schema import RunRecord, TaskRecord

SPEC = [
    {"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0},
    {"name": "log_loss", "goal": "min", "headline": False, "tolerance": 0.01},
    {"name": "f1", "goal": "max", "headline": True, "tolerance": 0.0},
]


def scraps(**values):
    return {name: {"value": value} for name, value in values.items()}


def make(run_id, *, C=1.0, years=(2007, 2008), metrics=None, packages=None, data="aa", model="m1",
         commit="a" * 40, dirty=False, spec=SPEC, extra_task=False, status="succeeded"):
    tasks = [
        TaskRecord(name="ingest", kind="notebook", status="succeeded", params={"years": list(years), "source": "x"},
                   products=[{"name": "data", "path": "outputs/data.parquet", "sha256": data * 32}]),
        TaskRecord(name="train", kind="notebook", status="succeeded", params={"C": C, "seed": 42},
                   products=[{"name": "model", "path": "outputs/model.joblib", "sha256": model * 32},
                             {"name": "nb", "path": "outputs/train.ipynb", "sha256": "ee" * 32}],
                   scraps=scraps(**(metrics if metrics is not None else {"accuracy": 0.9, "log_loss": 0.3, "f1": 0.8}))),
    ]
    if extra_task:
        tasks.append(TaskRecord(name="report", kind="notebook", status="succeeded", params={"fmt": "html"}))
    return RunRecord(
        run_id=run_id, status=status, started_at=f"2026-11-01T00:0{run_id[-1]}:00.000Z",
        git={"commit": commit, "dirty": dirty} if commit else None,
        packages=packages if packages is not None else {"numpy": "1.26.4", "pandas": "2.2.0"},
        inputs=[{"name": "penguins.csv", "path": "data/penguins.csv", "sha256": data * 32}],
        tasks=tasks, metrics_spec=spec,
    )


def by(rows, *keys):
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def test_identical_runs_change_nothing():
    diff = diff_records(make("r1"), make("r2"))
    assert diff["old"] == "r1" and diff["new"] == "r2"
    assert diff["params"] == diff["packages"] == diff["inputs"] == diff["products"] == []
    assert diff["commit"] == {"old": "a" * 40, "new": "a" * 40, "changed": False, "files": [], "files_note": None}
    assert {m["verdict"] for m in diff["metrics"]} == {"unchanged"}
    assert diff["summary"]["unchanged"] == 3 and diff["summary"]["params"] == 0


def test_params_packages_inputs_and_products():
    old = make("r1", packages={"numpy": "1.26.4", "pandas": "2.2.0", "gone": "1"})
    new = make("r2", C=0.01, years=(2008,), data="bb", model="m2",
               packages={"numpy": "2.0.0", "pandas": "2.2.0", "fresh": "0.1"}, extra_task=True)
    diff = diff_records(old, new)
    assert diff["params"] == [
        {"task": "ingest", "name": "years", "old": [2007, 2008], "new": [2008]},
        {"task": "train", "name": "C", "old": 1.0, "new": 0.01},
        {"task": "report", "name": None, "old": None, "new": {"fmt": "html"}},
    ]
    assert diff["packages"] == [
        {"name": "fresh", "old": None, "new": "0.1"},
        {"name": "gone", "old": "1", "new": None},
        {"name": "numpy", "old": "1.26.4", "new": "2.0.0"},
    ]
    assert diff["inputs"] == [{"name": "penguins.csv", "old": "aa" * 32, "new": "bb" * 32}]
    assert diff["products"] == [
        {"task": "ingest", "name": "data", "old": "aa" * 32, "new": "bb" * 32},
        {"task": "train", "name": "model", "old": "m1" * 32, "new": "m2" * 32},
    ]
    assert diff["summary"]["params"] == 3 and diff["summary"]["products"] == 2
    # the other way round, the task is removed
    back = diff_records(new, old)
    assert back["params"][-1] == {"task": "report", "name": None, "old": {"fmt": "html"}, "new": None}


def test_a_parameter_whose_type_changed_is_a_change():
    diff = diff_records(make("r1", C=1), make("r2", C=1.0))
    assert diff["params"] == [{"task": "train", "name": "C", "old": 1, "new": 1.0}]


def test_metric_verdicts_follow_goal_and_tolerance():
    old = make("r1", metrics={"accuracy": 0.90, "log_loss": 0.300, "f1": 0.80, "rows": 344, "old_only": 1.0})
    new = make("r2", metrics={"accuracy": 0.95, "log_loss": 0.305, "f1": 0.70, "rows": 300, "new_only": 2})
    metrics = by(diff_records(old, new)["metrics"], "name")
    assert metrics["accuracy"]["verdict"] == "improved" and metrics["accuracy"]["goal"] == "max"
    assert abs(metrics["accuracy"]["delta"] - 0.05) < 1e-12
    assert metrics["f1"]["verdict"] == "regressed"
    assert metrics["log_loss"]["verdict"] == "unchanged"  # +0.005, within tolerance 0.01
    assert metrics["rows"] == {"name": "rows", "old": 344, "new": 300, "delta": -44, "goal": None,
                               "headline": False, "verdict": "changed"}
    assert metrics["old_only"]["verdict"] == "removed" and metrics["old_only"]["delta"] is None
    assert metrics["new_only"]["verdict"] == "added" and metrics["new_only"]["old"] is None
    # lower is better for log_loss, beyond its tolerance
    worse = by(diff_records(make("r1", metrics={"log_loss": 0.3}), make("r2", metrics={"log_loss": 0.2}))["metrics"], "name")
    assert worse["log_loss"]["verdict"] == "improved"
    summary = diff_records(old, new)["summary"]
    assert {k: summary[k] for k in ("improved", "regressed", "unchanged", "changed", "added", "removed", "n/a")} == \
        {"improved": 1, "regressed": 1, "unchanged": 1, "changed": 1, "added": 1, "removed": 1, "n/a": 0}


def test_headline_metrics_first_then_by_name():
    old = make("r1", metrics={"zeta": 1, "accuracy": 0.9, "beta": 2, "f1": 0.5, "log_loss": 0.2})
    names = [m["name"] for m in diff_records(old, old)["metrics"]]
    assert names == ["accuracy", "f1", "beta", "log_loss", "zeta"]
    assert [m["headline"] for m in diff_records(old, old)["metrics"]][:3] == [True, True, False]


def test_newer_spec_wins_and_older_is_the_fallback():
    flipped = [{"name": "accuracy", "goal": "min", "headline": False, "tolerance": 0.0}]
    old, new = make("r1", metrics={"accuracy": 0.9}), make("r2", metrics={"accuracy": 0.95}, spec=flipped)
    assert diff_records(old, new)["metrics"][0]["verdict"] == "regressed"
    undeclared = make("r2", metrics={"accuracy": 0.95}, spec=[])
    assert diff_records(old, undeclared)["metrics"][0]["verdict"] == "improved"  # the older run's declaration
    neither = diff_records(make("r1", metrics={"accuracy": 0.9}, spec=[]), undeclared)["metrics"][0]
    assert neither["verdict"] == "changed" and neither["goal"] is None


def test_non_finite_metrics_are_not_judged():
    diff = diff_records(make("r1", metrics={"accuracy": float("nan")}), make("r2", metrics={"accuracy": 0.9}))
    assert diff["metrics"][0]["verdict"] == "n/a" and diff["metrics"][0]["delta"] is None


def test_json_is_stable_and_complete():
    old, new = make("r1", metrics={"b": 1, "a": 2}), make("r2", C=3.0, metrics={"a": 3, "c": 1})
    first = to_json(diff_records(old, new))
    again = to_json(diff_records(RunRecord.from_dict(json.loads(json.dumps(old.to_dict()))),
                                 RunRecord.from_dict(json.loads(json.dumps(new.to_dict())))))
    assert first == again
    data = json.loads(first)
    assert set(data) == {"old", "new", "status", "started_at", "commit", "dirty", "params", "packages",
                         "inputs", "products", "code", "metrics", "summary"}
    assert list(data) == sorted(data)


def git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_files_changed_between_two_real_commits(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.py").write_text("a = 1\n")
    (repo / "b.py").write_text("b = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "b.py").write_text("b = 2\n")
    (repo / "notebooks").mkdir()
    (repo / "notebooks" / "c.ipynb").write_text("{}")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two")
    second = git(repo, "rev-parse", "HEAD")

    diff = diff_records(make("r1", commit=first), make("r2", commit=second, dirty=True), repo=repo)
    assert diff["commit"] == {"old": first, "new": second, "changed": True,
                              "files": ["b.py", "notebooks/c.ipynb"], "files_note": None}
    assert diff["dirty"] == {"old": False, "new": True}
    text = render_text(diff)
    assert "2 file(s) changed between the commits" in text and "notebooks/c.ipynb" in text

    unknown = diff_records(make("r1", commit="f" * 40), make("r2", commit=second), repo=repo)["commit"]
    assert unknown["files"] is None and "ffffffffffff is not in the local repository" in unknown["files_note"]
    elsewhere = diff_records(make("r1", commit=first), make("r2", commit=second), repo=tmp_path)["commit"]
    assert elsewhere["files"] is None and "is not a git repository" in elsewhere["files_note"]
    no_repo = diff_records(make("r1", commit=first), make("r2", commit=second))["commit"]
    assert no_repo["files"] is None and no_repo["files_note"]
    uncommitted = diff_records(make("r1", commit=None), make("r2", commit=second), repo=repo)["commit"]
    assert uncommitted["files"] is None and "no git commit recorded for run r1" in uncommitted["files_note"]


def test_render_text_shows_changes_and_always_the_metrics():
    same = render_text(diff_records(make("r1"), make("r2")))
    assert "parameters" not in same and "packages" not in same and "products" not in same
    assert "metrics" in same and "accuracy *" in same and "unchanged" in same
    assert "no parameter, package, input, product or code changed" in same
    changed = render_text(diff_records(make("r1"), make("r2", C=0.5, model="m9", status="failed",
                                                         metrics={"accuracy": 0.95})))
    assert "status    succeeded -> failed" in changed
    assert "train   C        1      0.5" in changed
    assert "products (sha256)" in changed and "m9m9m9m9m9m9" in changed
    assert "improved" in changed and "removed" in changed
    empty = render_text(diff_records(make("r1", metrics={}), make("r2", metrics={})))
    assert "neither run recorded a numeric scrap" in empty


def test_a_metric_that_became_nan_is_n_a_not_removed():
    old = make("r1")
    new = make("r2")
    # how the recorder stores a glued NaN (scraps.encode): no value, a "nonfinite" marker
    new.task("train").scraps["log_loss"] = {"value": None, "encoder": "json", "nonfinite": "nan"}
    row = by(diff_records(old, new)["metrics"], "name")["log_loss"]
    assert (row["old"], row["new"], row["verdict"], row["delta"]) == (0.3, "nan", "n/a", None)


def with_sources(record, **hashes):
    for task in record.tasks:
        task.source = f"{task.name}.ipynb"
        task.source_sha256 = hashes.get(task.name)
    return record


def test_a_changed_task_source_is_a_code_change_without_git():
    old = with_sources(make("r1", commit=None), ingest="a" * 64, train="b" * 64)
    new = with_sources(make("r2", commit=None), ingest="a" * 64, train="c" * 64)
    diff = diff_records(old, new)
    assert diff["code"] == [{"task": "train", "source": "train.ipynb", "old": "b" * 64, "new": "c" * 64}]
    assert diff["summary"]["code"] == 1
    text = render_text(diff)
    assert "code changed (sha256 of each task's source)" in text and "cccccccccccc" in text
    assert "1 task source(s)" in text
    same = diff_records(old, with_sources(make("r3", commit=None), ingest="a" * 64, train="b" * 64))
    assert same["code"] == [] and same["summary"]["code"] == 0
    # a record from before source hashes (None) says nothing, rather than "changed"
    assert diff_records(with_sources(make("r1")), new)["code"] == []
    assert to_json(diff) == to_json(diff_records(RunRecord.from_dict(json.loads(json.dumps(old.to_dict()))),
                                                 RunRecord.from_dict(json.loads(json.dumps(new.to_dict())))))
