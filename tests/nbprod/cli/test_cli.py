"""The `nbprod` CLI: runs ls / show against a real store folder, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from nbprod.schema import ErrorInfo, RunRecord, TaskRecord, new_run_id
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
    assert ambiguous.returncode == 2 and "matches 10 runs" in ambiguous.stderr
    data = json.loads(nbprod("runs", "show", ids[0], "--json", store=store).stdout)
    assert data["run_id"] == ids[0] and data["tasks"][0]["params"] == {"C": 1.0}


def test_unknown_run_is_one_line_exit_2(filled):
    store, _ = filled
    done = nbprod("runs", "show", "19990101", store=store, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("nbprod: error: no run matches '19990101'")


def test_empty_store_says_so(tmp_path):
    out = nbprod("runs", "ls", store=tmp_path / "empty").stdout
    assert "no runs recorded yet" in out
    done = nbprod("runs", "show", "latest", store=tmp_path / "empty", check=False)
    assert done.returncode == 2 and "no runs in store" in done.stderr


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

    from nbprod.store import spool
    from nbprod.settings import Settings

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
    assert bad.returncode == 3
    assert f"run {run.run_id}: task 'train' product model: {key}: corrupt" in bad.stdout
    assert bad.stderr.strip().splitlines()[-1].startswith("nbprod: error: store ")
    assert "1 of 4 objects missing or corrupt" in bad.stderr


def test_gc_rejects_a_bad_grace_period(tmp_path):
    env = {"NBPROD_STORE": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}
    done = nbprod_env("store", "gc", "--grace", "soon", env=env, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == "nbprod: error: grace period 'soon' is not a duration: use e.g. 0, 30m, 12h, 7d or 2w"


# -- runs ls filters and sorting, runs diff ------------------------------------------------

SPEC = [{"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0},
        {"name": "log_loss", "goal": "min", "headline": False, "tolerance": 0.0}]


@pytest.fixture
def varied(tmp_path):
    """Six runs an hour apart: different statuses, parameters, task statuses and metrics."""
    store = Store(str(tmp_path / "store"))
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    plan = [  # status, C, seed, train status, accuracy, log_loss
        ("succeeded", 1.0, 42, "succeeded", 0.90, 0.30),
        ("succeeded", 0.01, 42, "succeeded", 0.97, 0.25),
        ("failed", 0.5, 7, "failed", None, None),
        ("succeeded", 1.0, 7, "skipped", 0.93, 0.20),
        ("interrupted", 1.0, 42, "interrupted", None, None),
        ("succeeded", 2.0, 42, "succeeded", 0.95, 0.40),
    ]
    ids = []
    for hour, (status, C, seed, train, accuracy, loss) in enumerate(plan):
        moment = base + timedelta(hours=hour)
        metrics = {} if accuracy is None else {"accuracy": {"value": accuracy}, "log_loss": {"value": loss},
                                                "rows": {"value": 344}}
        record = RunRecord(
            run_id=new_run_id(moment), status=status, started_at=moment.isoformat(), duration_s=5.0,
            git={"commit": str(hour) * 40, "dirty": False},
            packages={"numpy": "1.26.4" if hour < 5 else "2.0.0"},
            tasks=[
                TaskRecord(name="ingest", kind="notebook", status="succeeded" if hour == 0 else "skipped",
                           params={"years": [2008] if hour % 2 else [2007, 2008]}),
                TaskRecord(name="train", kind="notebook", status=train, params={"C": C, "seed": seed},
                           scraps=metrics),
            ],
            metrics_spec=SPEC,
        )
        store.write_record(record)
        ids.append(record.run_id)
    return tmp_path / "store", ids


def ls_ids(store, *args):
    return [r["run_id"] for r in json.loads(nbprod("runs", "ls", "--json", *args, store=store).stdout)]


def test_ls_filters_by_status_param_task_and_since(varied):
    store, ids = varied
    assert ls_ids(store, "--status", "failed") == [ids[2]]
    assert ls_ids(store, "--status", "failed", "--status", "interrupted") == [ids[4], ids[2]]
    assert ls_ids(store, "--status", "failed,interrupted") == [ids[4], ids[2]]
    assert ls_ids(store, "--param", "seed=7") == [ids[3], ids[2]]  # "7" parsed: the int 7
    assert ls_ids(store, "--param", "C=1") == [ids[4], ids[3], ids[0]]  # 1 == 1.0
    assert ls_ids(store, "--param", "C=0.01") == [ids[1]]
    assert ls_ids(store, "--param", "years=[2008]") == [ids[5], ids[3], ids[1]]
    assert ls_ids(store, "--param", "years=[2008]", "--param", "seed=42") == [ids[5], ids[1]]
    assert ls_ids(store, "--param", "nope=1") == []
    # --task: runs that executed it (succeeded, failed or interrupted), not skipped ones
    assert ls_ids(store, "--task", "train") == [ids[5], ids[4], ids[2], ids[1], ids[0]]
    assert ls_ids(store, "--task", "ingest") == [ids[0]]
    assert ls_ids(store, "--since", "2026-11-01T03:00:00Z") == [ids[5], ids[4], ids[3]]
    assert ls_ids(store, "--since", "2026-11-01T03:00") == [ids[5], ids[4], ids[3]]  # naive: UTC
    assert ls_ids(store, "--since", "2026-11-02") == []
    assert ls_ids(store, "--since", "100000d") == list(reversed(ids))
    assert ls_ids(store, "--status", "succeeded", "--limit", "2") == [ids[5], ids[3]]


def test_ls_filters_skip_summaries_without_params(tmp_path):
    store = Store(str(tmp_path / "store"))
    record = RunRecord(run_id=new_run_id(), status="succeeded", started_at="2026-11-01T00:00:00+00:00",
                       tasks=[TaskRecord(name="t", kind="notebook", status="succeeded", params={"seed": 1})])
    store.write_record(record)
    summary = tmp_path / "store" / "summaries" / f"{record.run_id}.json"
    old = json.loads(summary.read_text())
    del old["params"]  # written by an nbprod before summaries carried params
    summary.write_text(json.dumps(old))
    assert ls_ids(tmp_path / "store", "--param", "seed=1") == []
    assert ls_ids(tmp_path / "store") == [record.run_id]


def test_ls_sorts_by_metric_goal_best_first(varied):
    store, ids = varied
    # accuracy: goal max, so highest first; runs without it last, newest first
    assert ls_ids(store, "--sort", "accuracy") == [ids[1], ids[5], ids[3], ids[0], ids[4], ids[2]]
    # log_loss: goal min, so lowest first
    assert ls_ids(store, "--sort", "log_loss")[:4] == [ids[3], ids[1], ids[0], ids[5]]
    # undeclared: highest first, ties newest first
    assert ls_ids(store, "--sort", "rows")[:4] == [ids[5], ids[3], ids[1], ids[0]]
    assert ls_ids(store, "--sort", "accuracy", "--limit", "1") == [ids[1]]
    assert ls_ids(store, "--sort", "started") == list(reversed(ids))


def test_ls_table_has_headline_metric_columns(varied):
    store, ids = varied
    out = nbprod("runs", "ls", store=store).stdout
    header = out.splitlines()[0].split()
    assert "accuracy" in header and "other" in header
    line = next(l for l in out.splitlines() if l.startswith(ids[1]))
    assert "0.97" in line and "log_loss=0.25" in line and "accuracy=" not in line
    none = nbprod("runs", "ls", "--status", "failed", "--param", "C=9", store=store).stdout
    assert "match these filters" in none and "no runs in " in none


@pytest.mark.parametrize("args, message", [
    (["--param", "seed"], "nbprod: error: --param 'seed' is not KEY=VALUE: use e.g. --param seed=42 or --param years=[2008]"),
    (["--param", "=3"], "nbprod: error: --param '=3' is not KEY=VALUE"),
    (["--since", "yesterday"], "nbprod: error: --since 'yesterday' is neither a date nor a duration: use e.g."),
    (["--status", "done"], "nbprod: error: --status 'done' is not a run status: use succeeded, failed or interrupted"),
    (["--sort", "acuracy"], "nbprod: error: --sort 'acuracy': no listed run has that metric: use `started` or one of: accuracy, log_loss, rows"),
])
def test_ls_bad_options_are_one_line_exit_2(varied, args, message):
    store, _ = varied
    done = nbprod("runs", "ls", *args, store=store, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


def test_diff_human_and_json(varied, tmp_path):
    store, ids = varied
    text = nbprod("runs", "diff", ids[0][:15], ids[1], store=store).stdout
    assert f"old       {ids[0]}" in text and f"new       {ids[1]}" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["train", "C", "1", "0.01"] in rows
    assert ["ingest", "years", "[2007,", "2008]", "[2008]"] in rows
    assert "accuracy *" in text and "improved" in text
    assert "files changed: unknown" in text  # the commits are not in any local repository

    data = json.loads(nbprod("runs", "diff", ids[0], ids[1], "--json", store=store).stdout)
    assert data["old"] == ids[0] and data["new"] == ids[1]
    assert {(p["task"], p["name"]): (p["old"], p["new"]) for p in data["params"]} == {
        ("train", "C"): (1.0, 0.01), ("ingest", "years"): ([2007, 2008], [2008])}
    metrics = {m["name"]: m for m in data["metrics"]}
    assert metrics["accuracy"]["verdict"] == "improved" and metrics["log_loss"]["verdict"] == "improved"
    assert metrics["rows"]["verdict"] == "unchanged"
    assert data["commit"]["changed"] is True and data["commit"]["files"] is None

    # default: latest~1 against latest; byte-identical each time
    first = nbprod("runs", "diff", "--json", store=store).stdout
    assert first == nbprod("runs", "diff", "latest~1", "latest", "--json", store=store).stdout
    again = json.loads(first)
    assert (again["old"], again["new"]) == (ids[4], ids[5])
    assert again["packages"] == [{"name": "numpy", "old": "1.26.4", "new": "2.0.0"}]
    assert {m["name"]: m["verdict"] for m in again["metrics"]} == {"accuracy": "added", "log_loss": "added",
                                                                   "rows": "added"}
    assert json.loads(nbprod("runs", "diff", "latest~5", "latest~2", "--json", store=store).stdout)["old"] == ids[0]


@pytest.mark.parametrize("refs, message", [
    (["19990101", "latest"], "nbprod: error: no run matches '19990101'"),
    (["latest~6", "latest"], "nbprod: error: 'latest~6': store "),
])
def test_diff_unknown_run_is_one_line_exit_2(varied, refs, message):
    store, _ = varied
    done = nbprod("runs", "diff", *refs, store=store, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


def test_show_takes_latest_tilde(varied):
    store, ids = varied
    assert json.loads(nbprod("runs", "show", "latest~2", "--json", store=store).stdout)["run_id"] == ids[3]


def test_errors_are_redacted(varied):
    store, _ = varied
    done = subprocess.run(
        [sys.executable, "-m", "nbprod.cli", "runs", "diff", "hunter2-secret-value", "latest"],
        capture_output=True, text=True,
        env={"NBPROD_STORE": str(store), "PATH": "/usr/bin:/bin", "MY_API_TOKEN": "hunter2-secret-value"},
    )
    assert done.returncode == 2
    assert "hunter2" not in done.stderr
    assert done.stderr.startswith("nbprod: error: no run matches '[redacted:MY_API_TOKEN]'"), done.stderr


def test_report_command_prints_the_stats_as_one_line(varied, tmp_path):
    if not hasattr(pytest.importorskip("nbprod.report"), "build_site"):
        pytest.skip("nbprod.report.build_site is not written yet")
    store, _ = varied
    done = nbprod("report", "--out", str(tmp_path / "site"), store=store)
    assert done.stdout.startswith("nbprod: report: ") and done.stdout.count("\n") == 1
    assert (tmp_path / "site").is_dir()
