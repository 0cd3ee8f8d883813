"""nbprod.schema (run ids, the run record and its JSON) and nbprod.record.provenance."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import warnings
from datetime import datetime, timedelta, timezone
from importlib import metadata

import pytest

from nbprod import schema as records
from nbprod.files import sha256_bytes, sha256_file
from nbprod.record import provenance
from nbprod.record.provenance import git_info, package_versions
from nbprod.schema import (
    SCHEMA,
    ErrorInfo,
    RunRecord,
    TaskRecord,
    isoformat,
    new_run_id,
    parse_time,
)

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
UTC = timezone.utc


# -- run ids ---------------------------------------------------------------


def test_run_id_format_now():
    run_id = new_run_id()
    assert RUN_ID.fullmatch(run_id), run_id


def test_run_id_format_from_a_moment():
    run_id = new_run_id(datetime(2026, 11, 22, 14, 33, 8, 999_999, tzinfo=UTC))
    assert RUN_ID.fullmatch(run_id)
    assert run_id.startswith("20261122T143308Z-")


def test_run_id_uses_utc_whatever_the_zone_of_the_moment():
    plus_two = timezone(timedelta(hours=2))
    run_id = new_run_id(datetime(2026, 11, 22, 16, 33, 8, tzinfo=plus_two))
    assert run_id.startswith("20261122T143308Z-")


def test_run_id_now_is_the_current_utc_second():
    before = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id()
    after = datetime.now(UTC)
    stamp = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= after


def test_run_ids_sort_by_time():
    start = datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC)
    steps = [
        timedelta(seconds=1),
        timedelta(seconds=1),  # crosses the year
        timedelta(seconds=9),
        timedelta(minutes=1),
        timedelta(hours=3),
        timedelta(days=40),
        timedelta(days=400),
    ]
    moments = [start]
    for step in steps:
        moments.append(moments[-1] + step)
    # the same instants expressed in assorted time zones still sort by instant
    zones = [timezone(timedelta(hours=h)) for h in (0, 5, -7, 9, -3, 1, 12, -11)]
    moments = [m.astimezone(z) for m, z in zip(moments, zones)]
    ids = [new_run_id(m) for m in moments]
    assert sorted(ids) == ids
    assert sorted(reversed(ids)) == ids
    assert len(set(ids)) == len(ids)


def test_run_ids_of_the_same_second_share_the_prefix_and_differ_in_the_suffix():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = [new_run_id(moment) for _ in range(100)]
    assert {i[:16] for i in ids} == {"20260102T030405Z"}
    assert len({i[17:] for i in ids}) > 1  # the suffix is random, not constant


def test_run_ids_are_unique_over_10k():
    # five batches of 10k ids, each batch in one second: every batch must be unique.
    # (with 24 random bits each batch has only a ~5% chance to be duplicate-free)
    for second in range(5):
        moment = datetime(2026, 11, 22, 14, 33, second, tzinfo=UTC)
        ids = [new_run_id(moment) for _ in range(10_000)]
        assert len(set(ids)) == len(ids), f"{len(ids) - len(set(ids))} duplicates"


# -- time helpers ------------------------------------------------------------


def test_isoformat_and_parse_time_round_trip():
    moment = datetime(2026, 11, 22, 14, 33, 8, 123_000, tzinfo=UTC)
    text = isoformat(moment)
    assert text == "2026-11-22T14:33:08.123Z"
    assert parse_time(text) == moment
    assert parse_time(None) is None
    assert parse_time("") is None


def test_isoformat_converts_to_utc():
    moment = datetime(2026, 11, 22, 16, 33, 8, tzinfo=timezone(timedelta(hours=2)))
    assert isoformat(moment) == "2026-11-22T14:33:08.000Z"


def test_sha256_helpers(tmp_path):
    data = b"penguins\x00" * 1000
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_bytes(data) == expected
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk=7) == expected


# -- the run record -----------------------------------------------------------


def _record() -> RunRecord:
    error = ErrorInfo(
        task="train",
        ename="ValueError",
        evalue="boom",
        cell_index=3,
        execution_count=4,
        cell_source="raise ValueError('boom')",
        traceback="ValueError: boom",
    )
    return RunRecord(
        run_id="20261122T143308Z-a1b2c3",
        status=records.FAILED,
        started_at="2026-11-22T14:33:08.000Z",
        ended_at="2026-11-22T14:35:08.500Z",
        duration_s=120.5,
        nbprod_version="0.1.0",
        command=["nbprod", "build"],
        user="ada",
        host="ci-1",
        project={"root": "/srv/project"},
        git={"commit": "f" * 40, "branch": "main", "dirty": True, "diff_sha256": "0" * 64},
        python={"version": "3.11.9"},
        packages={"papermill": "2.7.0"},
        inputs=[{"path": "data/raw.csv", "sha256": "a" * 64, "size": 10}],
        tasks=[
            TaskRecord(
                name="features",
                kind="notebook",
                status=records.TASK_SUCCEEDED,
                source="notebooks/features.ipynb",
                params={"sample": 0.5, "seed": 1},
                products=[{"name": "data", "sha256": "b" * 64, "size": 3}],
                notebook={"key": "runs/x/notebooks/features.ipynb"},
                scraps={
                    "rows": {"value": 344, "encoder": "json"},
                    "accuracy": {"value": 0.75, "encoder": "json"},
                    "ok": {"value": True, "encoder": "json"},
                    "label": {"value": "adelie", "encoder": "text"},
                    "missing": {"value": None, "encoder": "json"},
                    "table": {"encoder": "pandas", "type": "dataframe", "shape": [3, 2]},
                    "fig": {"encoder": "display", "display_only": True},
                },
            ),
            TaskRecord(
                name="train",
                kind="notebook",
                status=records.TASK_FAILED,
                upstream=["features"],
                scraps={
                    "accuracy": {"value": 0.99, "encoder": "json"},
                    "loss": {"value": 0.1, "encoder": "json"},
                },
                error=error,
            ),
            TaskRecord(name="report", kind="notebook", status=records.TASK_ABORTED, upstream=["train"]),
        ],
        error=error,
        recording_s=0.2,
    )


def test_to_dict_is_plain_json():
    data = _record().to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["schema"] == SCHEMA
    assert data["tasks"][1]["error"]["ename"] == "ValueError"
    assert data["error"]["cell_index"] == 3


def test_round_trip_through_dict_and_json():
    record = _record()
    back = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert back == record
    assert isinstance(back.tasks[0], TaskRecord)
    assert isinstance(back.tasks[1].error, ErrorInfo)
    assert isinstance(back.error, ErrorInfo)
    assert back.tasks[2].error is None


def test_round_trip_of_a_minimal_record():
    record = RunRecord(run_id="20261122T143308Z-000000", status=records.SUCCEEDED, started_at="t")
    assert RunRecord.from_dict(record.to_dict()) == record


def test_from_dict_tolerates_unknown_keys_at_every_level():
    data = _record().to_dict()
    data["added_in_a_later_version"] = {"x": 1}
    data["tasks"][0]["gpu_seconds"] = 12
    data["tasks"][1]["error"]["exit_code"] = 3
    data["error"]["signal"] = "SIGKILL"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same schema: no warning either
        back = RunRecord.from_dict(data)
    assert back == _record()


def test_from_dict_warns_on_a_newer_schema_and_still_reads():
    data = _record().to_dict()
    data["schema"] = SCHEMA + 1
    data["new_field"] = [1, 2]
    with pytest.warns(UserWarning, match=data["run_id"]):
        back = RunRecord.from_dict(data)
    assert back.run_id == data["run_id"]
    assert back.schema == SCHEMA + 1
    assert [t.name for t in back.tasks] == ["features", "train", "report"]
    assert back.error.ename == "ValueError"


def test_from_dict_of_an_older_record_does_not_warn():
    data = _record().to_dict()
    del data["schema"]  # records before the field existed
    del data["recording_s"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = RunRecord.from_dict(data)
    assert back.schema == 1
    assert back.recording_s is None


def test_task_lookup():
    record = _record()
    assert record.task("train").status == records.TASK_FAILED
    with pytest.raises(KeyError):
        record.task("nope")


def test_metrics_are_numbers_only_and_first_task_wins():
    metrics = _record().metrics()
    assert metrics == {"rows": 344, "accuracy": 0.75, "loss": 0.1}
    assert "ok" not in metrics  # bools are not metrics
    assert "label" not in metrics and "missing" not in metrics and "table" not in metrics


def test_metrics_exclude_bools_even_alone():
    record = RunRecord(run_id="r", status="succeeded", started_at="t")
    record.tasks = [
        TaskRecord(
            name="t",
            kind="notebook",
            status="succeeded",
            scraps={"flag": {"value": False}, "zero": {"value": 0}, "neg": {"value": -1.5}},
        )
    ]
    assert record.metrics() == {"zero": 0, "neg": -1.5}


def test_summary_contents():
    record = _record()
    summary = record.summary()
    assert summary == {
        "schema": SCHEMA,
        "run_id": "20261122T143308Z-a1b2c3",
        "status": "failed",
        "started_at": "2026-11-22T14:33:08.000Z",
        "duration_s": 120.5,
        "user": "ada",
        "host": "ci-1",
        "commit": "f" * 40,
        "dirty": True,
        "tasks": {"features": "succeeded", "train": "failed", "report": "aborted"},
        "metrics": {"rows": 344, "accuracy": 0.75, "loss": 0.1},
        "params": {"sample": 0.5, "seed": 1},
        "task_params": {"features": {"sample": 0.5, "seed": 1}},
        "error": record.error.sentence(),
        "command": record.command,  # `runs ls` and the report index show it
        "tags": [],
        "note": None,
        "smoke": False,
        "reproduces": None,  # `nbprod reproduce`: the run this one re-created, and its verdict
        "verdict": None,
        "orchestrator": None,
    }
    json.dumps(summary, allow_nan=False)


def test_summary_without_git_or_error():
    record = RunRecord(run_id="20261122T143308Z-a1b2c3", status="succeeded", started_at="t")
    summary = record.summary()
    assert summary["commit"] is None
    assert summary["dirty"] is None
    assert summary["error"] is None
    assert summary["tasks"] == {}
    assert summary["metrics"] == {}


def test_error_sentence_for_a_raising_cell():
    error = ErrorInfo(task="train", ename="ValueError", evalue="boom", cell_index=3, execution_count=4)
    sentence = error.sentence()
    assert sentence == "task 'train', cell 3 (In [4]) failed: ValueError: boom"
    assert "\n" not in sentence


def test_error_sentence_without_cell_or_value():
    assert ErrorInfo(task="load", ename="KeyboardInterrupt", evalue="").sentence() == (
        "task 'load' failed: KeyboardInterrupt"
    )


def test_error_sentence_for_a_dead_kernel():
    error = ErrorInfo(
        task="train",
        ename="DeadKernelError",
        evalue="the kernel died",
        cell_index=2,
        kernel_died=True,
    )
    sentence = error.sentence()
    assert sentence.startswith("task 'train', cell 2")
    assert "kernel died" in sentence
    assert "DeadKernelError" not in sentence
    assert "\n" not in sentence


# -- git ------------------------------------------------------------------------


def _run_git(cwd, *args):
    return subprocess.run(
        [
            "git",
            "-c", "user.name=nbprod tests",
            "-c", "user.email=tests@example.invalid",
            "-c", "commit.gpgsign=false",
            "-c", "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def git_env(monkeypatch, tmp_path):
    """Keep the user's and the system's git configuration out of the tests."""
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def repo(git_env, tmp_path):
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / "train.ipynb").write_text('{"cells": []}\n')
    (root / "README.md").write_text("hello\n")
    _run_git(root, "init", "-q")
    _run_git(root, "add", ".")
    _run_git(root, "commit", "-q", "-m", "initial")
    return root


def test_git_info_outside_a_repository_is_none(git_env, tmp_path):
    folder = tmp_path / "exported"
    folder.mkdir()
    assert git_info(folder) is None


def test_git_info_without_git_installed_is_none(git_env, repo, tmp_path):
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    git_env.setenv("PATH", str(empty_bin))
    assert git_info(repo) is None


def test_git_info_of_a_clean_repository(repo):
    info = git_info(repo)
    head = _run_git(repo, "rev-parse", "HEAD").strip()
    assert info["commit"] == head
    assert re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert info["branch"] == "main"
    assert info["dirty"] is False
    assert info["diff_sha256"] is None
    assert info["root"] == str(repo.resolve())


def test_git_info_from_a_subdirectory_names_the_top(repo):
    info = git_info(repo / "notebooks")
    assert info["root"] == str(repo.resolve())
    assert info["commit"] == _run_git(repo, "rev-parse", "HEAD").strip()


def test_edited_tracked_file_makes_it_dirty_with_a_diff_hash(repo):
    (repo / "README.md").write_text("hello\nedited\n")
    info = git_info(repo)
    assert info["dirty"] is True
    assert re.fullmatch(r"[0-9a-f]{64}", info["diff_sha256"])
    assert info["commit"] == _run_git(repo, "rev-parse", "HEAD").strip()


def test_diff_hash_is_stable_for_the_same_edit_and_changes_with_it(repo):
    readme = repo / "README.md"
    readme.write_text("hello\nedit one\n")
    first = git_info(repo)["diff_sha256"]
    assert git_info(repo)["diff_sha256"] == first  # nothing changed: same hash
    readme.write_text("hello\nedit two\n")
    second = git_info(repo)["diff_sha256"]
    assert second != first
    readme.write_text("hello\nedit one\n")
    assert git_info(repo)["diff_sha256"] == first  # the same edit again: same hash


def test_staged_edit_is_dirty(repo):
    (repo / "README.md").write_text("staged\n")
    _run_git(repo, "add", "README.md")
    info = git_info(repo)
    assert info["dirty"] is True
    assert info["diff_sha256"] is not None


def test_untracked_file_makes_it_dirty(repo):
    (repo / "notes.txt").write_text("scratch\n")
    info = git_info(repo)
    assert info["dirty"] is True
    assert re.fullmatch(r"[0-9a-f]{64}", info["diff_sha256"])


def test_untracked_file_content_changes_the_diff_hash(repo):
    scratch = repo / "notes.txt"
    scratch.write_text("one\n")
    first = git_info(repo)["diff_sha256"]
    scratch.write_text("two\n")
    second = git_info(repo)["diff_sha256"]
    assert first != second
    scratch.write_text("one\n")
    assert git_info(repo)["diff_sha256"] == first


def test_ignored_file_does_not_make_it_dirty(repo):
    (repo / ".gitignore").write_text("outputs/\n")
    _run_git(repo, "add", ".gitignore")
    _run_git(repo, "commit", "-q", "-m", "ignore outputs")
    (repo / "outputs").mkdir()
    (repo / "outputs" / "model.pkl").write_bytes(b"\x00\x01")
    info = git_info(repo)
    assert info["dirty"] is False
    assert info["diff_sha256"] is None


def test_untracked_content_is_hashed_when_called_from_a_subdirectory(repo):
    scratch = repo / "notebooks" / "scratch.py"
    scratch.write_text("x = 1\n")
    first = git_info(repo / "notebooks")
    scratch.write_text("x = 2\n")
    second = git_info(repo / "notebooks")
    assert first["dirty"] is True and second["dirty"] is True
    assert first["diff_sha256"] != second["diff_sha256"]


def test_repository_without_commits(git_env, tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    _run_git(root, "init", "-q")
    (root / "a.txt").write_text("a\n")
    info = git_info(root)
    assert info is not None
    assert info["commit"] is None
    assert info["dirty"] is True


# -- environment ----------------------------------------------------------------


def test_package_versions_include_papermill():
    versions = package_versions()
    assert versions["papermill"] == metadata.version("papermill")
    assert "nbformat" in versions
    assert list(versions) == sorted(versions)
    assert all(name == name.lower() for name in versions)


def test_python_info_and_host():
    info = provenance.python_info()
    assert set(info) >= {"version", "implementation", "executable", "platform"}
    assert info["version"].startswith("3.")
    assert records.current_host() and "@" in records.actor()
