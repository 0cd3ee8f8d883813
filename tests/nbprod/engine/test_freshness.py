"""nbprod.engine.freshness and buildlock over in-memory ploomber DAGs (no kernel).

The content-aware up-to-date rule (a task runs again when its input files,
upstream products or own products differ from what nbprod remembered when it
last ran), the metadata invalidated before a task runs, the failed task's
leftovers, and the build lock between processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nbprod import errors, redact
from nbprod.engine import buildlock, freshness
from nbprod.engine import dag as engine_dag
from nbprod.engine.repair import metadata_of
from isolation import exits  # noqa: F401  (autouse: a Build's at-exit callbacks stay in the test)

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")

from ploomber import DAG  # noqa: E402
from ploomber.executors import Serial  # noqa: E402
from ploomber.products import File  # noqa: E402
from ploomber.tasks import PythonCallable  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:ploomber.dag.dag")
SEEN: list = []


@pytest.fixture(autouse=True)
def _contained(monkeypatch, tmp_path):
    for name in list(os.environ):
        if redact.is_secret_name(name) or name.startswith("NBPROD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("NBPROD_SPOOL", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)  # the project root: where .nbprod/ goes
    SEEN.clear()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def load(product, source):
    SEEN.append(("load", metadata_of(Path(str(product))).exists()))
    Path(str(product)).write_text(Path(source).read_text().upper())


def fit(product, upstream):
    SEEN.append(("fit", metadata_of(Path(str(product))).exists()))
    Path(str(product)).write_text("fit:" + Path(str(upstream["load"])).read_text())


def fit_fails(product, upstream):
    SEEN.append(("fit", metadata_of(Path(str(product))).exists()))
    raise RuntimeError("diverged")


def pipeline(tmp_path, fit_with=fit) -> DAG:
    dag = DAG(executor=Serial(build_in_subprocess=False))
    a = PythonCallable(load, File(tmp_path / "out" / "load.txt"), dag, name="load",
                       params={"source": "data.csv"})
    b = PythonCallable(fit_with, File(tmp_path / "out" / "fit.txt"), dag, name="fit")
    a >> b
    engine_dag.attach(dag)
    return dag


def build(tmp_path, **kw):
    dag = pipeline(tmp_path, **kw)
    try:
        dag.build()
    except Exception:
        pass
    return [name for name, _ in SEEN]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "data.csv").write_text("a,b\n")
    assert build(tmp_path) == ["load", "fit"]
    SEEN.clear()
    return tmp_path


def test_an_unchanged_project_runs_nothing_and_reads_no_file(project, capsys, monkeypatch):
    hashed = []
    real = freshness.sha256_file
    monkeypatch.setattr(freshness, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert build(project) == []
    assert "nothing ran" in capsys.readouterr().out
    assert hashed == []  # size, mtime, ctime and inode unchanged: nothing read


def test_a_product_rewritten_by_hand_runs_its_task_and_what_depends_on_it(project, capsys):
    memory = json.loads((project / ".nbprod" / "tasks.json").read_text())
    run_id = memory["tasks"]["load"]["run_id"]
    (project / "out" / "load.txt").write_text("BY HAND")
    assert build(project) == ["load", "fit"]
    out = capsys.readouterr().out
    assert f"nbprod: load: out/load.txt changed since run {run_id}" in out
    assert (project / "out" / "fit.txt").read_text() == "fit:A,B\n"


def test_new_data_at_the_same_path_runs_the_task_that_reads_it(project, capsys):
    (project / "data.csv").write_text("c,d\n")
    assert build(project) == ["load", "fit"]
    assert "nbprod: load: data.csv changed since run " in capsys.readouterr().out
    assert (project / "out" / "fit.txt").read_text() == "fit:C,D\n"


def test_an_upstream_product_replaced_runs_the_downstream_task(project, capsys):
    # the upstream's own memory is lost (e.g. deleted): the downstream still sees the change
    memory_file = project / ".nbprod" / "tasks.json"
    memory = json.loads(memory_file.read_text())
    del memory["tasks"]["load"]
    memory_file.write_text(json.dumps(memory))
    (project / "out" / "load.txt").write_text("OTHER")
    assert build(project) == ["fit"]
    assert "nbprod: fit: out/load.txt changed since run " in capsys.readouterr().out


def test_the_same_bytes_rewritten_are_not_a_change_and_are_not_hashed_twice(project, monkeypatch):
    (project / "data.csv").write_text("a,b\n")  # new mtime and ctime, same content
    assert build(project) == []
    hashed = []
    real = freshness.sha256_file
    monkeypatch.setattr(freshness, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert build(project) == []
    assert hashed == []  # the new stat was remembered


def test_a_task_about_to_run_has_no_success_metadata_while_it_runs(project):
    # a builder killed mid-task must not leave ploomber's old "up to date" beside a partial file
    (project / "data.csv").write_text("new\n")
    build(project)
    assert SEEN == [("load", False), ("fit", False)]


def test_a_failed_task_keeps_the_last_good_product_it_did_not_write(project):
    (project / "data.csv").write_text("new\n")
    build(project, fit_with=fit_fails)
    assert (project / "out" / "fit.txt").read_text() == "fit:A,B\n"  # not moved aside
    assert not (project / "out" / "fit.failed.txt").exists()
    assert not metadata_of(project / "out" / "fit.txt").exists()  # still runs next time
    SEEN.clear()
    assert build(project) == ["fit"]


def test_a_failed_tasks_leftovers_are_removed_when_it_next_succeeds(project):
    leftover = project / "out" / "fit.failed.txt"
    leftover.write_text("partial")
    (project / "data.csv").write_text("new\n")
    build(project)
    assert not leftover.exists()


def test_lost_or_unreadable_memory_falls_back_to_ploombers_rule(project):
    (project / ".nbprod" / "tasks.json").write_text("{not json")
    assert build(project) == []
    assert freshness.Memory.load(project).tasks == {}


def test_a_malformed_store_url_stops_the_build_before_any_task_runs(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    (tmp_path / "data.csv").write_text("a\n")
    monkeypatch.setenv("NBPROD_STORE", "s3://")
    with pytest.raises(Exception) as caught:
        pipeline(tmp_path).build()
    assert isinstance(engine_dag.as_pipeline_error(caught.value), errors.ConfigError)
    assert SEEN == []


def test_the_state_folder_ignores_itself_in_git(project):
    assert (project / ".nbprod" / ".gitignore").read_text().splitlines()[-1] == "*"


# -- the build lock ------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from nbprod.engine import buildlock
    lock = buildlock.acquire(Path(sys.argv[1]), run_id="20261201T000000Z-abcdef",
                             started="2026-12-01T00:00:00Z", timeout=0)
    print("held", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_a_held_lock_refuses_with_the_holders_pid_host_run_and_start(tmp_path, holder):
    with pytest.raises(errors.BuildLockedError) as caught:
        buildlock.acquire(tmp_path, run_id="x", started="y", timeout=0)
    line = str(caught.value)
    assert f"pid {holder.pid} on " in line and "run 20261201T000000Z-abcdef" in line
    assert "started 2026-12-01T00:00:00Z" in line and "NBPROD_LOCK_TIMEOUT" in line
    assert caught.value.exit_code == 2 and "\n" not in line


def test_a_second_build_of_the_dag_exits_through_render(tmp_path, holder):
    (tmp_path / "out").mkdir()
    (tmp_path / "data.csv").write_text("a\n")
    dag = pipeline(tmp_path)
    with pytest.raises(Exception) as caught:
        dag.build()
    assert isinstance(engine_dag.as_pipeline_error(caught.value), errors.BuildLockedError)
    assert SEEN == []  # nothing ran


def test_a_dead_holders_lock_is_taken_over(tmp_path, holder):
    holder.kill()
    holder.wait()
    said = []
    lock = buildlock.acquire(tmp_path, run_id="new", started="now", timeout=0, say=said.append)
    try:
        assert said and "took over the build lock" in said[0] and f"pid {holder.pid}" in said[0]
        assert json.loads(lock.holder_file.read_text())["run_id"] == "new"
    finally:
        lock.release()
    assert not lock.holder_file.exists()


def test_the_lock_is_released_when_the_run_is_recorded(project):
    again = buildlock.acquire(project, run_id="next", started="now", timeout=0)
    again.release()


def test_a_dag_rendered_before_it_is_built_still_checks_content_and_locks(project, capsys, holder_factory=None):
    (project / "out" / "load.txt").write_text("BY HAND")
    dag = pipeline(project)
    dag.render()  # dag.status() / dag.plot() in JupyterLab first
    dag.build()
    assert [name for name, _ in SEEN] == ["load", "fit"]
    assert "nbprod: load: out/load.txt changed since run " in capsys.readouterr().out
    again = buildlock.acquire(project, run_id="next", started="now", timeout=0)  # released after
    again.release()


class BrokenExecutor(Serial):
    """An executor raising something else than DAGBuildError: it escapes ploomber's hooks."""

    def __call__(self, dag, show_progress):
        raise RuntimeError("the executor broke")


def test_a_build_that_raised_past_the_hooks_lets_the_next_build_of_the_dag_run(project, capsys):
    (project / "data.csv").write_text("new\n")
    dag = pipeline(project)
    dag.executor = BrokenExecutor(build_in_subprocess=False)
    with pytest.raises(RuntimeError, match="the executor broke"):
        dag.build()
    dag.executor = Serial(build_in_subprocess=False)
    dag.build()  # was: "another build of this project is running" (its own pid), or the old run id
    out = capsys.readouterr().out
    assert "ended without ploomber's hooks: it was not recorded" in out
    assert (project / "out" / "fit.txt").read_text() == "fit:NEW\n"
    again = buildlock.acquire(project, run_id="next", started="now", timeout=0)  # released after
    again.release()


def report(product, source):
    SEEN.append(("report", True))
    Path(str(product)).write_text("report:" + Path(source).read_text())


def test_an_input_two_tasks_take_runs_both_when_it_changes(project, capsys):
    def shared_dag():
        dag = pipeline(project)
        PythonCallable(report, File(project / "out" / "report.txt"), dag, name="report",
                       params={"source": "data.csv"})
        engine_dag.attach(dag)
        return dag

    shared_dag().build()  # report runs once; load and fit are up to date
    SEEN.clear()
    (project / "data.csv").write_text("z,z\n")
    shared_dag().build()
    assert sorted(name for name, _ in SEEN) == ["fit", "load", "report"]
    out = capsys.readouterr().out
    assert "nbprod: load: data.csv changed" in out and "nbprod: report: data.csv changed" in out
