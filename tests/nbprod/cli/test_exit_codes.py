"""Exit codes of the `nbprod` command, through real `python -m nbprod.cli` processes (no kernels).

0 ok, 1 a task failed, 2 usage or configuration, 3 store, 4 a check said no,
5 a reproduction differs, 130 interrupted (src/nbprod/errors.py). Every error
case checks the exact code and that stderr is one line, ``nbprod: ...``;
the kernel-running cases (1, 130, a successful build) are in
tests/e2e/test_build_exit_codes.py.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_notebook
from runfactory import store_run

from nbprod import errors
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store

LAYOUT_99 = "layout 99, newer than this nbprod reads (1)"


def nbprod(*args: str, store, spool: Path | None = None, cwd: Path | None = None,
           **extra: str) -> subprocess.CompletedProcess:
    """`python -m nbprod.cli ARGS` with its own store and spool (default: beside a store
    folder), and nothing of the caller's NBPROD_/PLOOMBER_/AWS_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBPROD_", "PLOOMBER_", "AWS_"))}
    env.update(
        NBPROD_STORE=str(store),
        NBPROD_SPOOL=str(spool or Path(store).parent / "spool"),
        PLOOMBER_STATS_ENABLED="false",
        PLOOMBER_VERSION_CHECK_DISABLED="true",
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def stderr_lines(done) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def assert_one_line_error(done, code: int, *fragments: str) -> str:
    """Exit ``code``, and stderr exactly one line, ``nbprod: ...``, holding every fragment."""
    lines = stderr_lines(done)
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nbprod: "), lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_last_line_error(done, code: int, *fragments: str) -> str:
    """For commands that print progress on stderr (`store verify`, `report`): exit ``code``,
    every stderr line ``nbprod: ...``, and exactly one error line, the last."""
    lines = stderr_lines(done)
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    assert lines and all(line.startswith("nbprod: ") for line in lines), done.stderr
    assert [line for line in lines if line.startswith("nbprod: error: ")] == lines[-1:], done.stderr
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])
    return lines[-1]


def one_run(store_dir: Path) -> str:
    """A store holding one minimal run written by nbprod's own Store; its id."""
    record = RunRecord(run_id=new_run_id(), status="succeeded", started_at="2026-11-01T00:00:00+00:00",
                       tasks=[TaskRecord(name="t", kind="notebook", status="succeeded")])
    Store(str(store_dir)).write_record(record)
    return record.run_id


# -- the error classes -----------------------------------------------------------------

EXPECTED = {
    errors.NbprodError: 1,
    errors.BuildFailedError: 1,
    errors.ConfigError: 2,
    errors.PipelineError: 2,
    errors.RunNotFoundError: 2,
    errors.StoreError: 3,
    errors.StoreUnreachableError: 3,
    errors.IntegrityError: 3,
    errors.RecordExistsError: 3,
    errors.CheckFailedError: 4,
    errors.ReproductionDiffersError: 5,
    errors.BuildInterruptedError: 130,
    errors.BuildLockedError: 2,
    errors.DetailedPipelineError: 2,
    errors.BuildTimedOutError: 1,  # a build past NBPROD_BUILD_TIMEOUT failed, nobody interrupted it
    errors.NotReproducibleError: 2,
    errors.ModelNotFoundError: 2,  # `models show nosuchmodel`, `penguins@staging` with no staging version
    errors.GateRefusedError: 4,  # a gate said no to a promotion
    errors.PromotionConflictError: 4,  # production moved meanwhile, or the gate's baseline is stale
}

DEFINED = sorted(
    (cls for _, cls in inspect.getmembers(errors, inspect.isclass)
     if issubclass(cls, errors.NbprodError) and cls.__module__ == errors.__name__),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls, code", sorted(EXPECTED.items(), key=lambda item: item[0].__name__),
                         ids=lambda value: value.__name__ if isinstance(value, type) else str(value))
def test_error_class_exit_code(cls, code):
    err = cls("something is wrong", hint="do this")
    assert err.exit_code == code
    assert type(err).exit_code == code


@pytest.mark.parametrize("cls", DEFINED, ids=lambda cls: cls.__name__)
def test_every_error_class_has_a_documented_exit_code(cls):
    assert cls.exit_code in {1, 2, 3, 4, 5, 130}
    assert cls in EXPECTED, f"{cls.__name__} is new: add its exit code to EXPECTED (and README's table)"


def test_exit_code_constants():
    assert (errors.OK, errors.TASK_FAILED, errors.USAGE, errors.STORE, errors.CHECK_FAILED,
            errors.REPRODUCTION_DIFFERS, errors.INTERRUPTED) == (0, 1, 2, 3, 4, 5, 130)


# -- 0 -------------------------------------------------------------------------------------


def test_runs_ls_on_an_empty_store_exits_0(tmp_path):
    done = nbprod("runs", "ls", store=tmp_path / "store")
    assert done.returncode == 0, done.stderr
    assert "no runs recorded yet" in done.stdout
    assert done.stderr == ""


def test_runs_ls_from_a_subfolder_reads_the_projects_store_and_names_it(tmp_path):
    project = tmp_path / "proj"
    (project / "notebooks").mkdir(parents=True)
    (project / "pipeline.yaml").write_text("tasks: []\n")
    spool = tmp_path / "spool"
    empty = nbprod("runs", "ls", store="", spool=spool, cwd=project / "notebooks")
    assert empty.returncode == 0, empty.stderr
    assert f"no runs recorded yet in {project.resolve() / 'outputs' / 'store'}" in empty.stdout
    run = store_run(Store(str(project / "outputs" / "store")), tmp_path / "work")
    listed = nbprod("runs", "ls", "--json", store="", spool=spool, cwd=project / "notebooks")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run.run_id]
    assert not (project / "notebooks" / "outputs").exists()


# -- 2: usage and configuration ------------------------------------------------------------


def test_unknown_option_exits_2(tmp_path):
    done = nbprod("runs", "ls", "--bogus", store=tmp_path / "store")
    assert done.returncode == 2
    assert "No such option '--bogus'" in done.stderr
    assert done.stdout == ""


def test_unknown_option_is_one_nbprod_line(tmp_path):
    done = nbprod("runs", "ls", "--bogus", store=tmp_path / "store")
    assert_one_line_error(done, 2, "--bogus")


@pytest.mark.parametrize("args, message", [
    (["runs", "ls", "--since", "yesterday"], "nbprod: error: --since 'yesterday' is neither a date nor a duration"),
    (["store", "gc", "--grace", "soon"], "nbprod: error: grace period 'soon' is not a duration"),
], ids=["runs-ls-since", "store-gc-grace"])
def test_bad_option_value_exits_2(tmp_path, args, message):
    done = nbprod(*args, store=tmp_path / "store")
    assert assert_one_line_error(done, 2).startswith(message)


def test_unknown_run_exits_2(tmp_path):
    one_run(tmp_path / "store")
    done = nbprod("runs", "show", "nosuchrun", store=tmp_path / "store")
    assert assert_one_line_error(done, 2).startswith("nbprod: error: no run matches 'nosuchrun'")


def test_any_run_of_an_empty_store_exits_2(tmp_path):
    done = nbprod("runs", "show", "nosuchrun", store=tmp_path / "store")
    assert assert_one_line_error(done, 2).startswith("nbprod: error: no runs in store ")


@pytest.fixture
def tiny_project(tmp_path) -> Path:
    """One notebook task; its cell would leave ran.flag if a kernel ever ran it."""
    root = tmp_path / "proj"
    flag = root / "ran.flag"
    write_notebook(root / "job.ipynb", "upstream = None\nproduct = None",
                   f"open({str(flag)!r}, 'w').write('ran')")
    (root / "pipeline.yaml").write_text("tasks:\n  - source: job.ipynb\n    product: out/job.ipynb\n")
    return root


def assert_nothing_ran(project: Path, store: Path) -> None:
    assert not (project / "ran.flag").exists()
    assert not (project / "out").exists()
    assert not store.exists() or Store(str(store)).run_ids() == []


def test_nbprod_yaml_unknown_section_exits_2_at_render(tiny_project, tmp_path):
    (tiny_project / "nbprod.yaml").write_text(
        "# metrics only\nmetrics:\n  - name: accuracy\n    goal: max\nmetricz:\n  - name: f1\n")
    store = tmp_path / "store"
    done = nbprod("build", store=store, cwd=tiny_project)
    line = assert_one_line_error(done, 2, "nbprod.yaml line 5: unknown section 'metricz'", "known sections: metrics")
    assert line.startswith("nbprod: error: ")
    assert_nothing_ran(tiny_project, store)  # raised while rendering: no kernel, no product, no run


def test_pipeline_yaml_that_does_not_parse_exits_2(tiny_project, tmp_path):
    (tiny_project / "pipeline.yaml").write_text("tasks: [\n  - source: job.ipynb\n    product: {nb: out/a.ipynb")
    store = tmp_path / "store"
    done = nbprod("build", store=store, cwd=tiny_project)
    line = assert_one_line_error(done, 2, "while parsing", "fix pipeline.yaml")
    assert line.startswith("nbprod: error: ")
    assert_nothing_ran(tiny_project, store)


# -- 3: the store -------------------------------------------------------------------------------


def test_corrupt_record_exits_3(tmp_path):
    store = tmp_path / "store"
    run_id = one_run(store)
    (store / "runs" / run_id / "record.json").write_text("{garbage, not json")
    done = nbprod("runs", "show", run_id, store=store)
    line = assert_one_line_error(done, 3, f"run {run_id}: its record.json", "is corrupt (JSONDecodeError")
    assert line.startswith("nbprod: error: ")


def test_store_verify_with_a_corrupt_object_exits_3(tmp_path):
    store = Store(str(tmp_path / "store"))
    run = store_run(store, tmp_path / "work", model=b"weights")
    key = Store.object_key(run.tasks[0].products[0]["sha256"])
    (tmp_path / "store" / key).write_bytes(b"WEIGHTS")  # same size, another hash
    done = nbprod("store", "verify", store=tmp_path / "store")
    # verify prints its progress on stderr ("nbprod: verify: 1/4 objects checked"); the error is the last line
    assert_last_line_error(done, 3, "nbprod: error: store ", "1 of 4 objects missing or corrupt")
    assert f"{key}: corrupt" in done.stdout


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed once the socket is: nothing listens there


def test_unreachable_s3_store_exits_3_in_bounded_time(tmp_path):
    port = closed_port()
    started = time.monotonic()
    done = nbprod(
        "runs", "ls", store="s3://b/x", spool=tmp_path / "spool", cwd=tmp_path,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="dummy-key-id",
        AWS_SECRET_ACCESS_KEY="dummy-secret", AWS_DEFAULT_REGION="us-east-1", NBPROD_STORE_TIMEOUT="1",
    )
    elapsed = time.monotonic() - started
    assert_one_line_error(done, 3, f"cannot reach the store s3://b/x at http://127.0.0.1:{port}", "NBPROD_STORE_TIMEOUT")
    assert "dummy-secret" not in done.stderr
    assert elapsed < 30, elapsed


# -- 3: a store written by a newer nbprod (store.json {"layout": 99}) --------------------


@pytest.fixture
def newer_store(tmp_path):
    """A store with one run, a run waiting in the spool for it, and a layout marker
    from the future. Returns (store dir, the stored run)."""
    from nbprod.settings import Settings
    from nbprod.store import spool

    store_dir = tmp_path / "store"
    store = Store(str(store_dir))
    run = store_run(store, tmp_path / "work")
    settings = Settings(store=str(store_dir), spool=str(tmp_path / "spool"))
    store_run(spool.open_spool(settings, settings.store), tmp_path / "work-spooled", minute=5)
    (store_dir / "store.json").write_text('{"layout": 99}')
    return store_dir, run


def test_newer_layout_push_exits_3(newer_store, tmp_path):
    store_dir, run = newer_store
    done = nbprod("push", store=store_dir)
    line = assert_one_line_error(done, 3, f"store {store_dir} has {LAYOUT_99}", "upgrade nbprod")
    assert line.startswith("nbprod: error: ")
    assert sorted(p.stem for p in (store_dir / "summaries").glob("*.json")) == [run.run_id]  # nothing written
    assert any((tmp_path / "spool").iterdir())  # the spooled run is kept for a later push


def test_newer_layout_report_into_the_store_exits_3(newer_store):
    store_dir, _ = newer_store
    done = nbprod("report", store=store_dir)
    # stderr: the auto-push warning, the report's progress line, then the error
    assert_last_line_error(done, 3, f"store {store_dir} has {LAYOUT_99}")
    assert not (store_dir / "site").exists()


def test_newer_layout_auto_push_only_warns_then_the_command_is_refused(newer_store):
    """Every command first pushes spooled runs; a push the store refuses is a warning, by design,
    and then the command itself is refused too: reading a newer layout could misread it."""
    store_dir, run = newer_store
    done = nbprod("runs", "ls", "--json", store=store_dir)
    warning = [line for line in stderr_lines(done) if line.startswith("nbprod: warning: ")]
    assert len(warning) == 1 and LAYOUT_99 in warning[0], done.stderr
    assert_last_line_error(done, 3, f"store {store_dir} has {LAYOUT_99}")
    assert done.stdout == ""


@pytest.mark.parametrize("args", [["runs", "ls"], ["runs", "show", "latest"], ["store", "verify"]],
                         ids=["runs-ls", "runs-show", "store-verify"])
def test_newer_layout_read_exits_3(tmp_path, args):
    store_dir = tmp_path / "store"
    store_run(Store(str(store_dir)), tmp_path / "work")
    (store_dir / "store.json").write_text('{"layout": 99}')
    done = nbprod(*args, store=store_dir)
    assert_last_line_error(done, 3, LAYOUT_99)


def test_newer_layout_gc_delete_exits_3_and_deletes_nothing(tmp_path):
    store_dir = tmp_path / "store"
    store = Store(str(store_dir))
    store_run(store, tmp_path / "work")
    orphan = store.put_bytes(b"nobody references me")["key"]
    (store_dir / "store.json").write_text('{"layout": 99}')
    done = nbprod("store", "gc", "--grace", "0", "--delete", store=store_dir)
    try:
        assert_last_line_error(done, 3, LAYOUT_99)
    finally:
        assert (store_dir / orphan).exists(), "gc deleted an object from a store it cannot read"
