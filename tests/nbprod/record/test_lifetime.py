"""nbprod.record.lifetime.Build driven by hand: fabricated task views, no ploomber, no kernel.

The process-wide things a Build touches are contained per test: SIGINT/SIGTERM
handlers are put back, ``atexit`` registrations go to a fake registry (nothing
runs at interpreter exit), and the store and spool are folders under tmp_path
(``NBPROD_STORE`` / ``NBPROD_SPOOL``, which ``finish()`` reads by default).
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from nbprod import redact, schema
from nbprod.record import provenance
from nbprod.record.lifetime import Build
from nbprod.record.session import Session
from nbprod.record.taskview import ABORTED, ERRORED, EXECUTED, PENDING, SKIPPED, TaskView
from nbprod.settings import Settings
from nbprod.store import Store
from isolation import exits  # noqa: F401  (autouse: a Build's at-exit callbacks stay in the test)

SECRET = "tok-1a2b3c4d5e6f-SECRET"
_PACKAGES = functools.cache(provenance.package_versions)  # ~0.3 s: once per process


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    for name in list(os.environ):
        if redact.is_secret_name(name) or name.startswith("NBPROD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("NBPROD_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setattr(provenance, "package_versions", _PACKAGES)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


# -- helpers ---------------------------------------------------------------------------------


def view(name, outcome=EXECUTED, products=None):
    return TaskView(name=name, kind="function", outcome=outcome, source=None, params={}, upstream=[],
                    products={k: str(v) for k, v in (products or {}).items()})


def product(tmp_path: Path, name: str, data: str = "data") -> Path:
    path = tmp_path / "outputs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


class Recorder:
    """A Build's describe()/repair() callables, counting their calls."""

    def __init__(self, views):
        self.views = views
        self.described = 0
        self.repaired = []

    def describe(self):
        self.described += 1
        return list(self.views)

    def repair(self, names):
        self.repaired.append(list(names))
        return [(Path(f"/p/outputs/{n}.csv"), Path(f"/p/outputs/{n}.csv.failed")) for n in names]


def new_build(tmp_path, views, **session_kw):
    session_kw.setdefault("argv", ["ploomber", "build"])
    rec = Recorder(views)
    build = Build(Session(root=tmp_path, **session_kw), describe=rec.describe, repair=rec.repair)
    return build, rec


def runs(tmp_path) -> list[str]:
    return Store(str(tmp_path / "store")).run_ids()


TRACEBACK = "Traceback (most recent call last):\n  File 'tasks.py', line 3, in fit\nValueError: n must be positive\n"


# -- the nothing-ran policy --------------------------------------------------------------------


def test_a_build_where_everything_was_up_to_date_is_not_recorded(tmp_path, capsys, exits):
    build, rec = new_build(tmp_path, [view("a", SKIPPED, {"p": product(tmp_path, "a.csv")}), view("b", SKIPPED)])
    build.start()
    assert build.finish(schema.SUCCEEDED) is None
    assert capsys.readouterr().out == "nbprod: nothing ran (2 tasks up to date): no run recorded\n"
    assert not (tmp_path / "store").exists()  # no record, no object
    assert build.record is None and build.done
    assert build.take_final_line() is None
    assert rec.repaired == []
    assert exits.callbacks == []


@pytest.mark.parametrize("status, outcomes", [
    (schema.SUCCEEDED, [SKIPPED, EXECUTED]),  # something ran
    (schema.FAILED, [SKIPPED, SKIPPED]),  # all up to date, but the build failed (a hook, the DAG)
])
def test_a_build_where_something_ran_or_failed_is_recorded(tmp_path, capsys, status, outcomes):
    build, _ = new_build(tmp_path, [view(f"t{i}", o) for i, o in enumerate(outcomes)])
    record = build.finish(status, traceback_text=TRACEBACK)
    assert record is not None and record.status == status
    assert runs(tmp_path) == [record.run_id]
    assert "nothing ran" not in capsys.readouterr().out
    build.take_final_line()


# -- recording and the final line ------------------------------------------------------------


def test_a_succeeded_build_is_recorded_once_and_says_where(tmp_path, capsys, exits):
    build, rec = new_build(tmp_path, [view("a", EXECUTED, {"p": product(tmp_path, "a.csv")})])
    build.start()
    assert exits.callbacks == [build._at_exit]
    record = build.finish(schema.SUCCEEDED, elapsed={"a": 0.5})
    assert record is build.record and record.status == schema.SUCCEEDED
    assert record.task("a").duration_s == 0.5
    out = capsys.readouterr().out
    assert out.startswith(f"nbprod: run {record.run_id} succeeded, recorded in {tmp_path / 'store'} (")
    assert out.rstrip().endswith(f"s to record); see `nbprod runs show {record.run_id}`")
    assert runs(tmp_path) == [record.run_id]
    assert build.take_final_line() is None
    assert exits.callbacks == []  # nothing left to do at exit
    # finishing again records nothing more
    assert build.finish(schema.FAILED, traceback_text=TRACEBACK) is None
    assert runs(tmp_path) == [record.run_id] and rec.described == 1
    assert capsys.readouterr().out == ""


def test_a_failed_build_holds_its_final_line_until_taken_once(tmp_path, capsys, exits):
    build, _ = new_build(tmp_path, [view("prep"), view("fit", ERRORED), view("report", ABORTED)])
    build.start()
    record = build.finish(schema.FAILED, traceback_text=TRACEBACK)
    assert record.status == schema.FAILED and runs(tmp_path) == [record.run_id]
    assert f"nbprod: run {record.run_id} failed, recorded in" in capsys.readouterr().out
    assert exits.callbacks == [build._at_exit]  # the line is printed at exit unless a caller takes it
    assert build.take_final_line() == f"run {record.run_id} failed: task 'fit' failed: ValueError: n must be positive"
    assert build.take_final_line() is None
    assert exits.callbacks == []


def test_a_failed_build_without_a_task_error_says_so(tmp_path):
    build, _ = new_build(tmp_path, [view("a", ERRORED)])
    record = build.finish(schema.FAILED)
    assert build.take_final_line() == f"run {record.run_id} failed: no task error recorded"


def test_interrupted_by_makes_the_run_interrupted(tmp_path, capsys):
    cut = product(tmp_path, "b.csv", "half")
    build, rec = new_build(tmp_path, [view("a", EXECUTED), view("b", PENDING, {"p": cut}), view("c", PENDING)],
                           started_clock=time.time() - 60)
    build.session.interrupted_by = "SIGTERM"
    record = build.finish(schema.SUCCEEDED)  # whatever the caller says
    assert record.status == schema.INTERRUPTED and record.interrupted_by == "SIGTERM"
    assert {t.name: t.status for t in record.tasks} == {
        "a": schema.TASK_SUCCEEDED, "b": schema.TASK_INTERRUPTED, "c": schema.TASK_NOT_RUN}
    assert Store(str(tmp_path / "store")).read_record(record.run_id).status == schema.INTERRUPTED
    assert f"nbprod: run {record.run_id} interrupted, recorded in" in capsys.readouterr().err  # one block
    assert build.take_final_line() == f"run {record.run_id} interrupted by SIGTERM during task 'b'"
    assert rec.repaired == [["b"]]


def test_repair_gets_the_failed_and_interrupted_tasks_only(tmp_path, capsys):
    session_kw = dict(started_clock=time.time() - 60, interrupted_by="SIGINT")
    views = [view("ok", EXECUTED), view("old", SKIPPED), view("bad", ERRORED), view("down", ABORTED),
             view("cut", PENDING, {"p": product(tmp_path, "cut.csv")}), view("waiting", PENDING)]
    build, rec = new_build(tmp_path, views, **session_kw)
    build.finish(schema.FAILED, traceback_text=TRACEBACK)
    assert rec.repaired == [["bad"], ["cut"]]
    err = capsys.readouterr().err
    assert "nbprod: moved product of failed task aside: /p/outputs/bad.csv -> bad.csv.failed\n" in err
    assert "nbprod: moved product of interrupted task aside: /p/outputs/cut.csv -> cut.csv.failed\n" in err
    build.take_final_line()


def test_repair_is_not_called_when_nothing_broke(tmp_path):
    build, rec = new_build(tmp_path, [view("a", EXECUTED), view("b", ABORTED)])
    build.finish(schema.FAILED, traceback_text=TRACEBACK)  # failed, but no task failed
    assert rec.repaired == []
    build.take_final_line()


def test_a_build_whose_store_is_down_says_where_the_run_went(tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    store.mkdir()
    (store / "store.json").write_text('{"layout": 99}')  # written by a newer nbprod: refuses every write
    build, _ = new_build(tmp_path, [view("a", EXECUTED)])
    record = build.finish(schema.SUCCEEDED)
    captured = capsys.readouterr()
    assert f"nbprod: run {record.run_id} kept in the local spool" in captured.err
    assert f"recorded in the local spool {tmp_path / 'spool'}" in captured.out
    assert f"(store {store} unavailable)" in captured.out
    assert not (store / "runs").exists()


def test_nbprod_require_store_makes_a_spooled_success_a_store_error(tmp_path, monkeypatch):
    from nbprod.errors import StoreError

    store = tmp_path / "store"
    store.mkdir()
    (store / "store.json").write_text('{"layout": 99}')  # refuses every write
    monkeypatch.setenv("NBPROD_REQUIRE_STORE", "1")
    build, rec = new_build(tmp_path, [view("a", EXECUTED)])
    with pytest.raises(StoreError) as caught:
        build.finish(schema.SUCCEEDED)
    line = str(caught.value)
    assert caught.value.exit_code == 3 and "\n" not in line
    assert f"is only in the local spool {tmp_path / 'spool'}" in line and "NBPROD_REQUIRE_STORE=1" in line
    assert "nbprod push" in line
    assert (tmp_path / "spool").exists()  # recorded there first: nothing lost


# -- signals -----------------------------------------------------------------------------------


def test_start_catches_sigint_and_sigterm_when_default_and_finish_restores_them(tmp_path):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    build, _ = new_build(tmp_path, [view("a")])
    build.start()
    assert signal.getsignal(signal.SIGINT) == build._on_signal
    assert signal.getsignal(signal.SIGTERM) == build._on_signal
    build.finish(schema.SUCCEEDED)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_start_leaves_handlers_someone_else_installed(tmp_path):
    def mine(signum, frame):
        pass

    signal.signal(signal.SIGINT, mine)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # e.g. nohup
    build, _ = new_build(tmp_path, [view("a")])
    build.start()
    assert signal.getsignal(signal.SIGINT) is mine
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    build.finish(schema.SUCCEEDED)
    assert signal.getsignal(signal.SIGINT) is mine
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN


def test_start_outside_the_main_thread_installs_no_handler(tmp_path):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    build, _ = new_build(tmp_path, [view("a")])
    started = []

    def start():
        build.start()  # signal.signal() would raise ValueError off the main thread
        started.append(True)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert started == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    build.finish(schema.SUCCEEDED)


def test_start_twice_installs_and_registers_once(tmp_path, exits):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    build, _ = new_build(tmp_path, [view("a")])
    build.start()
    build.start()
    assert exits.callbacks == [build._at_exit]
    build.finish(schema.SUCCEEDED)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not our handler "restored"
    assert exits.callbacks == []


@pytest.mark.parametrize("signum, name", [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_a_signal_during_the_build_interrupts_it(tmp_path, signum, name):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    build, _ = new_build(tmp_path, [view("a", EXECUTED), view("b", PENDING)])
    build.start()
    with pytest.raises(KeyboardInterrupt, match=name):
        signal.raise_signal(signum)
    assert build.session.interrupted_by == name and not build.done
    with pytest.raises(KeyboardInterrupt):  # a second one interrupts too, the first name is kept
        build._on_signal(signal.SIGINT if signum == signal.SIGTERM else signal.SIGTERM, None)
    assert build.session.interrupted_by == name
    record = build.finish(schema.FAILED)
    assert record.status == schema.INTERRUPTED and record.interrupted_by == name
    assert build.take_final_line() == f"run {record.run_id} interrupted by {name}"  # no task had started


def uninterrupted(func, *args, **kwargs):
    """func(...), turning a KeyboardInterrupt into a test failure (not the end of the pytest session)."""
    try:
        return func(*args, **kwargs)
    except KeyboardInterrupt as err:
        pytest.fail(f"{func.__name__} was interrupted: KeyboardInterrupt({err})")


def test_a_signal_while_recording_does_not_interrupt_the_recording(tmp_path):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    views = [view("a", EXECUTED, {"p": product(tmp_path, "a.csv")})]

    def describe():
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while nbprod records: swallowed
        return views

    build = Build(Session(root=tmp_path, argv=["ploomber"]), describe=describe)
    build.start()
    record = uninterrupted(build.finish, schema.SUCCEEDED)
    assert record is not None and runs(tmp_path) == [record.run_id]
    assert build.session.interrupted_by == "SIGINT"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_while_recording_leaves_a_consistent_record(tmp_path):
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def describe():
        signal.raise_signal(signal.SIGINT)
        return [view("a", EXECUTED)]

    build = Build(Session(root=tmp_path, argv=["ploomber"]), describe=describe)
    build.start()
    record = uninterrupted(build.finish, schema.SUCCEEDED)
    assert (record.status == schema.INTERRUPTED) == (record.interrupted_by is not None)


# -- at exit -------------------------------------------------------------------------------------


def test_at_exit_records_an_interrupted_build_nobody_finished(tmp_path, capsys, exits):
    cut = product(tmp_path, "train.csv", "half")
    build, rec = new_build(tmp_path, [view("load", EXECUTED), view("train", PENDING, {"p": cut})],
                           started_clock=time.time() - 60)
    build.start()
    build.session.interrupted_by = "SIGINT"  # ploomber caught the KeyboardInterrupt; no hook ran
    assert exits.callbacks == [build._at_exit]
    for callback in list(exits.callbacks):  # what the interpreter does at exit
        callback()
    (run_id,) = runs(tmp_path)
    assert Store(str(tmp_path / "store")).read_record(run_id).status == schema.INTERRUPTED
    captured = capsys.readouterr()
    assert captured.err.endswith(f"nbprod: run {run_id} interrupted by SIGINT during task 'train'\n")
    assert f"nbprod: run {run_id} interrupted, recorded in" in captured.err
    assert rec.repaired == [["train"]]
    assert exits.callbacks == []


def test_at_exit_prints_a_failure_line_nobody_took(tmp_path, capsys):
    build, _ = new_build(tmp_path, [view("fit", ERRORED)])
    record = build.finish(schema.FAILED, traceback_text=TRACEBACK)
    capsys.readouterr()
    build._at_exit()
    assert capsys.readouterr().err == (
        f"nbprod: run {record.run_id} failed: task 'fit' failed: ValueError: n must be positive\n")
    build._at_exit()  # printed once
    assert capsys.readouterr().err == ""


def test_at_exit_does_nothing_for_a_build_that_was_not_interrupted(tmp_path, capsys):
    build, rec = new_build(tmp_path, [view("a", EXECUTED)])
    build.start()
    build._at_exit()  # e.g. ploomber raised before any hook: nothing to say it was interrupted
    assert rec.described == 0 and not (tmp_path / "store").exists()
    assert capsys.readouterr() == ("", "")
    build.finish(schema.SUCCEEDED)


def test_at_exit_says_when_the_interrupted_run_could_not_be_recorded(tmp_path, capsys):
    def describe():
        raise RuntimeError("the DAG is gone")

    build = Build(Session(root=tmp_path, argv=["ploomber"], interrupted_by="SIGTERM"), describe=describe)
    build._at_exit()  # must not raise
    assert capsys.readouterr().err == "nbprod: could not record interrupted run: the DAG is gone\n"
    assert build.done and not (tmp_path / "store").exists()


# -- pickling ------------------------------------------------------------------------------------


def test_a_pickled_build_is_an_inert_copy(tmp_path, capsys):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    build, rec = new_build(tmp_path, [view("a", EXECUTED, {"p": product(tmp_path, "a.csv")})], fetched={"x"})
    build.start()
    copy = pickle.loads(pickle.dumps(build))
    assert copy.done and not build.done  # the original still records
    assert copy.session.run_id == build.session.run_id and copy.session.fetched == {"x"}
    assert copy.finish(schema.FAILED, traceback_text=TRACEBACK) is None
    uninterrupted(copy._on_signal, signal.SIGINT, None)  # does not raise: nothing to interrupt there
    copy._at_exit()
    assert rec.described == 0 and not (tmp_path / "store").exists()
    assert copy.take_final_line() is None
    assert capsys.readouterr() == ("", "")
    assert build.session.interrupted_by is None  # the copy's session is its own
    record = build.finish(schema.SUCCEEDED)
    assert runs(tmp_path) == [record.run_id]


# -- secrets ---------------------------------------------------------------------------------------


def test_start_redacts_everything_printed_when_secrets_are_in_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("API_TOKEN", SECRET)
    build, _ = new_build(tmp_path, [view("fit", ERRORED)])
    out, err = sys.stdout, sys.stderr
    try:
        build.start()
        assert isinstance(sys.stdout, redact.RedactingStream) and isinstance(sys.stderr, redact.RedactingStream)
        print(f"ploomber says {SECRET}")
        print(f"papermill says {SECRET}", file=sys.stderr)
        record = build.finish(schema.FAILED, traceback_text=f"ValueError: bad token {SECRET}")
    finally:
        sys.stdout, sys.stderr = out, err
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "ploomber says [redacted:API_TOKEN]" in captured.out
    assert "papermill says [redacted:API_TOKEN]" in captured.err
    assert build.take_final_line() == (
        f"run {record.run_id} failed: task 'fit' failed: ValueError: bad token [redacted:API_TOKEN]")
    stored = (tmp_path / "store" / "runs" / record.run_id / "record.json").read_text()
    assert SECRET not in stored and "[redacted:API_TOKEN]" in stored


def test_start_leaves_output_alone_without_secrets(tmp_path):
    build, _ = new_build(tmp_path, [view("a")])
    out, err = sys.stdout, sys.stderr
    build.start()
    assert sys.stdout is out and sys.stderr is err
    build.finish(schema.SUCCEEDED)


def test_settings_passed_to_finish_are_used(tmp_path):
    other = tmp_path / "elsewhere"
    build, _ = new_build(tmp_path, [view("a")])
    record = build.finish(schema.SUCCEEDED, settings=Settings(store=str(other), spool=str(tmp_path / "spool")))
    assert Store(str(other)).run_ids() == [record.run_id]
    assert not (tmp_path / "store").exists()


def test_a_signal_stops_process_pool_workers_only(tmp_path):
    """ploomber's parallel executor (concurrent.futures) would wait for its running task; a
    multiprocessing.Pool (its serial executor's function tasks) would wait forever for a
    killed worker, and other children are not the build's."""
    import concurrent.futures
    import multiprocessing

    from nbprod.record.lifetime import _stop_workers

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as executor, ctx.Pool(1) as pool:
        executor.submit(abs, -1).result(timeout=60)
        pool.apply(abs, (-1,))
        executor_workers = list(executor._processes.values())
        pool_workers = list(pool._pool)
        _stop_workers()
        for worker in executor_workers:
            worker.join(timeout=10)
            assert not worker.is_alive()
        assert all(worker.is_alive() for worker in pool_workers)
        assert pool.apply(abs, (-2,)) == 2  # the pool still works


# -- NBPROD_BUILD_TIMEOUT ----------------------------------------------------------------------


def test_a_build_past_its_limit_is_interrupted_by_the_timeout(tmp_path):
    import time

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    build, _ = new_build(tmp_path, [view("a", EXECUTED)])
    build.start()
    build.limit(0.2)
    with pytest.raises(KeyboardInterrupt, match="NBPROD_BUILD_TIMEOUT"):
        time.sleep(30)  # the timer's SIGTERM ends this sleep
    assert build.timed_out and build.session.interrupted_by == "NBPROD_BUILD_TIMEOUT (0.2 s)"
    record = build.finish(schema.FAILED)
    assert (record.status, record.interrupted_by) == (schema.INTERRUPTED, "NBPROD_BUILD_TIMEOUT (0.2 s)")


def test_a_build_recorded_in_time_cancels_its_limit(tmp_path):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    build, _ = new_build(tmp_path, [view("a", EXECUTED)])
    build.start()
    build.limit(60)
    timer = build._timer
    build.finish(schema.SUCCEEDED)
    assert timer is not None and build._timer is None
    timer.join(5)  # cancelled: it ends at once instead of firing in a minute
    assert not timer.is_alive()
    assert not build.timed_out


def test_no_limit_without_our_signal_handler(tmp_path):
    previous = signal.signal(signal.SIGTERM, lambda *a: None)  # someone else's: a limit would kill them
    try:
        build, _ = new_build(tmp_path, [view("a", EXECUTED)])
        build.start()
        build.limit(0.1)
        assert build._timer is None
        build.finish(schema.SUCCEEDED)
    finally:
        signal.signal(signal.SIGTERM, previous)
