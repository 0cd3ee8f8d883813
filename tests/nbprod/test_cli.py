"""The `nbprod` CLI: runs ls / show against a real store folder, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from nbprod.records import ErrorInfo, RunRecord, TaskRecord, new_run_id
from nbprod.store import Store


def nbprod(*args, store, check=True):
    done = subprocess.run(
        [sys.executable, "-m", "nbprod.cli", *args],
        capture_output=True, text=True, env={"NBPROD_STORE": str(store), "PATH": "/usr/bin:/bin"},
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def filled(tmp_path):
    store = Store(str(tmp_path / "store"))
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    ids = []
    for i in range(25):
        run_id = new_run_id(base + timedelta(minutes=i))
        failed = i == 24
        record = RunRecord(
            run_id=run_id,
            status="failed" if failed else "succeeded",
            started_at=(base + timedelta(minutes=i)).isoformat(),
            duration_s=12.5,
            git={"commit": f"{i:040x}", "dirty": i % 2 == 0},
            tasks=[
                TaskRecord(name="train", kind="notebook", status="failed" if failed else "succeeded",
                           params={"C": 1.0}, scraps={"accuracy": {"value": 0.9 + i / 1000}}),
            ],
            error=ErrorInfo(task="train", ename="ValueError", evalue="boom", cell_index=2, execution_count=3) if failed else None,
        )
        store.write_record(record)
        ids.append(run_id)
    return tmp_path / "store", ids


def test_ls_table_newest_first_with_limit(filled):
    store, ids = filled
    out = nbprod("runs", "ls", store=store).stdout
    lines = [l for l in out.splitlines() if l.startswith("2026")]
    assert len(lines) == 20  # default limit
    assert lines[0].startswith(ids[-1]) and "failed" in lines[0]
    assert "accuracy=0.924" in out
    short = nbprod("runs", "ls", "--limit", "3", store=store).stdout
    assert len([l for l in short.splitlines() if l.startswith("2026")]) == 3


def test_ls_json_is_machine_readable(filled):
    store, ids = filled
    rows = json.loads(nbprod("runs", "ls", "--json", "--all", store=store).stdout)
    assert [r["run_id"] for r in rows] == list(reversed(ids))
    assert rows[0]["status"] == "failed" and rows[0]["metrics"] == {"accuracy": 0.924}
    assert rows[0]["error"] == "task 'train', cell 2 (In [3]) failed: ValueError: boom"


def test_show_by_prefix_latest_and_json(filled):
    store, ids = filled
    latest = nbprod("runs", "show", "latest", store=store).stdout
    assert ids[-1] in latest and "error     task 'train', cell 2" in latest
    prefix = ids[3][:13]  # "20261101T0003": one run per minute, so unique
    assert ids[3] in nbprod("runs", "show", prefix, store=store).stdout
    ambiguous = nbprod("runs", "show", "20261101T001", store=store, check=False)  # minutes 10-19
    assert ambiguous.returncode == 1 and "matches 10 runs" in ambiguous.stderr
    data = json.loads(nbprod("runs", "show", ids[0], "--json", store=store).stdout)
    assert data["run_id"] == ids[0] and data["tasks"][0]["params"] == {"C": 1.0}


def test_unknown_run_is_one_line_exit_1(filled):
    store, _ = filled
    done = nbprod("runs", "show", "19990101", store=store, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("nbprod: error: no run matches '19990101'")


def test_empty_store_says_so(tmp_path):
    out = nbprod("runs", "ls", store=tmp_path / "empty").stdout
    assert "no runs recorded yet" in out
    done = nbprod("runs", "show", "latest", store=tmp_path / "empty", check=False)
    assert done.returncode == 1 and "no runs in store" in done.stderr


def test_help_imports_nothing_heavy():
    code = (
        "import sys\nfrom nbprod import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('ploomber', 'papermill', 'scrapbook', 'fsspec', 'pandas', 'nbformat') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout


# -- push / pull / store verify / store gc -------------------------------------------


def nbprod_env(*args, env, check=True):
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", *args], capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def spooled_env(tmp_path):
    """A run waiting in the spool for a store folder that does not have it yet."""
    from runfactory import store_run

    from nbprod import spool
    from nbprod.config import Settings

    settings = Settings(store=str(tmp_path / "store"), spool=str(tmp_path / "spool"))
    run = store_run(spool.open_spool(settings, settings.store), tmp_path / "work")
    env = {"NBPROD_STORE": settings.store, "NBPROD_SPOOL": settings.spool, "PATH": "/usr/bin:/bin"}
    return env, run


def test_push_uploads_the_spooled_run(spooled_env):
    env, run = spooled_env
    done = nbprod_env("push", env=env)
    assert f"pushed 1 run(s) to {env['NBPROD_STORE']}" in done.stdout
    assert Store(env["NBPROD_STORE"]).run_ids() == [run.run_id]
    again = nbprod_env("push", env=env)
    assert "nothing spooled" in again.stdout


def test_the_next_command_pushes_spooled_runs_with_a_message(spooled_env):
    env, run = spooled_env
    done = nbprod_env("runs", "ls", env=env)
    assert "1 run(s) spooled while" in done.stderr and "pushing" in done.stderr
    assert run.run_id in done.stdout
    assert "spooled" not in nbprod_env("runs", "ls", env=env).stderr


def test_pull_verify_and_gc_from_the_cli(tmp_path):
    from runfactory import store_run

    store = Store(str(tmp_path / "store"))
    run = store_run(store, tmp_path / "work", model=b"weights")
    orphan = store.put_bytes(b"orphan")
    env = {"NBPROD_STORE": store.url, "NBPROD_SPOOL": str(tmp_path / "spool"), "PATH": "/usr/bin:/bin"}

    dest = tmp_path / "pulled"
    done = nbprod_env("pull", run.run_id[:12], "--to", str(dest), env=env)
    assert f"pulled run {run.run_id} into {dest}: 3 files" in done.stdout
    assert (dest / "outputs/model/model.joblib").read_bytes() == b"weights"

    ok = nbprod_env("store", "verify", env=env)
    assert "verified: 1 runs, 4 objects" in ok.stdout

    dry = nbprod_env("store", "gc", "--grace", "0", env=env)
    assert orphan["key"] in dry.stdout and "gc dry run: 1 unreferenced object(s)" in dry.stdout
    assert store.exists(orphan["key"])
    young = nbprod_env("store", "gc", env=env)  # default grace: a week
    assert "0 unreferenced object(s)" in young.stdout
    gone = nbprod_env("store", "gc", "--grace", "0", "--delete", env=env)
    assert "gc deleted 1 unreferenced object(s)" in gone.stdout
    assert not store.exists(orphan["key"])

    key = Store.object_key(run.tasks[0].products[0]["sha256"])
    (tmp_path / "store" / key).write_bytes(b"WEIGHTS")
    bad = nbprod_env("store", "verify", env=env, check=False)
    assert bad.returncode == 1
    assert f"run {run.run_id}: task 'train' product model: {key}: corrupt" in bad.stdout
    assert bad.stderr.strip().splitlines()[-1].startswith("nbprod: error: store ")
    assert "1 of 4 objects missing or corrupt" in bad.stderr


def test_gc_rejects_a_bad_grace_period(tmp_path):
    env = {"NBPROD_STORE": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}
    done = nbprod_env("store", "gc", "--grace", "soon", env=env, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == "nbprod: error: grace period 'soon' is not a duration: use e.g. 0, 30m, 12h, 7d or 2w"
