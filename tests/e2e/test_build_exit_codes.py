"""Exit codes of real `nbprod build`s, with real Jupyter kernels.

A one-notebook ploomber project (plain pipeline.yaml: `nbprod build` attaches
its hooks) built three times with a kernel (0 success, 1 a raising cell, 130
SIGINT while a cell sleeps), plus the two ways a parameter can be undeclared,
which stop before any kernel starts (2). The kernel-free codes are in
tests/nbprod/cli/test_exit_codes.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Shell, default_signals, write_notebook

pytestmark = pytest.mark.e2e

PIPELINE = """tasks:
  - source: job.ipynb
    product: {nb: out/job.ipynb, data: out/job.txt}
    params: {mode: '{{mode}}'}
"""


def make_project(root: Path) -> Path:
    """job.ipynb: `mode` raise -> ValueError in cell 2; sleep -> writes sleeping.flag, sleeps."""
    sleeping = root / "sleeping.flag"
    write_notebook(
        root / "job.ipynb",
        "upstream = None\nproduct = None\nmode = 'ok'",
        "import time, pathlib",
        "if mode == 'raise':\n    raise ValueError('boom in job')",
        f"if mode == 'sleep':\n    pathlib.Path({str(sleeping)!r}).write_text('1')\n    time.sleep(120)",
        "pathlib.Path(product['data']).write_text('done')",
    )
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "env.yaml").write_text("mode: ok\n")
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture
def sh(project, shell_factory):
    return shell_factory(project)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_successful_build_exits_0(sh, project):
    done = sh("nbprod", "build", check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (project / "out" / "job.txt").read_text() == "done"
    assert sh.latest()["status"] == "succeeded"


def test_a_success_only_spooled_exits_3_with_nbprod_require_store(sh, project, store):
    """In a CI runner or a pod the spool disappears with the container: NBPROD_REQUIRE_STORE=1
    makes a build whose record could only be spooled exit 3, after spooling it."""
    store.mkdir(parents=True)
    (store / "store.json").write_text('{"layout": 99}')  # a store that refuses every write
    done = sh("nbprod", "build", check=False, NBPROD_REQUIRE_STORE="1")
    assert done.returncode == 3, done.stderr[-3000:]
    last = lines(done.stderr)[-1]
    spool = Path(sh.env["NBPROD_SPOOL"])
    assert last.startswith("nbprod: error: run ") and f"is only in the local spool {spool}" in last, last
    assert "NBPROD_REQUIRE_STORE=1" in last
    assert any(spool.rglob("record.json"))  # nothing lost


def test_tags_and_a_note_are_recorded_and_a_bad_tag_exits_2(sh, project):
    bad = sh("nbprod", "build", "--tag", "has space", check=False)
    assert bad.returncode == 2 and lines(bad.stderr) == [lines(bad.stderr)[-1]], bad.stderr
    assert lines(bad.stderr)[-1].startswith("nbprod: error: --tag 'has space' is not a tag")
    assert sh.runs() == [] and not (project / "out").exists()
    sh("nbprod", "build", "--tag", "pr-123", "--env--mode", "ok", "--tag", "ci", "--note", "from CI")
    record = sh.latest()
    assert record["tags"] == ["pr-123", "ci"] and record["note"] == "from CI"
    assert "--tag" not in record["command"]  # ploomber never saw nbprod's own options
    assert [r["run_id"] for r in sh.nbprod_json("runs", "ls", "--tag", "ci")] == [record["run_id"]]
    assert sh.nbprod_json("runs", "ls", "--tag", "prod") == []


def test_raising_cell_exits_1_with_the_failure_sentence_last(sh, project):
    done = sh("nbprod", "build", "--env--mode", "raise", check=False)
    assert done.returncode == 1, done.stderr[-3000:]
    last = lines(done.stderr)[-1]
    run_id = sh.latest()["run_id"]
    # parameters=0, imports=1, raising=2
    assert re.fullmatch(
        rf"nbprod: run {run_id} failed: task 'job', cell 2 \(In \[\d+\]\) failed: ValueError: boom in job.*", last
    ), last
    assert sh.latest()["status"] == "failed"


def test_undeclared_env_parameter_exits_2_naming_the_known_ones(sh, project):
    """`--env--typo` with no `typo` in env.yaml: refused before anything loads, as one nbprod
    line naming the pipeline's parameters (not ploomber's argparse usage text)."""
    done = sh("nbprod", "build", "--env--typo", "1", check=False)
    assert done.returncode == 2, done.stderr
    assert lines(done.stderr) == ["nbprod: error: unknown parameter --env--typo: the pipeline's parameters "
                                  "are --env--mode: use one of those names, or add the parameter to env.yaml"]
    assert not (project / "out").exists()
    assert sh.runs() == []


def test_parameter_the_notebook_does_not_declare_exits_2(sh, project):
    """Declared in env.yaml and pipeline.yaml but not in the notebook's parameters cell:
    nbprod's own check at render, one line, no kernel."""
    (project / "env.yaml").write_text("mode: ok\ntypo: 0\n")
    (project / "pipeline.yaml").write_text(PIPELINE.replace("'{{mode}}'}", "'{{mode}}', typo: '{{typo}}'}"))
    done = sh("nbprod", "build", "--env--typo", "1", check=False)
    assert done.returncode == 2, done.stderr
    err = lines(done.stderr)
    assert len(err) == 1, done.stderr
    assert err[0].startswith("nbprod: error: task 'job' (")
    assert "got parameter(s) typo that its parameters cell does not declare (it declares: mode, product, upstream)" in err[0]
    assert not (project / "out").exists()
    assert sh.runs() == []


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """One `nbprod build` sent SIGINT while its cell sleeps: (shell, returncode, stderr)."""
    base = tmp_path_factory.mktemp("interrupted")
    project = make_project(base / "proj")
    sh = Shell(project, base / "store")
    proc = subprocess.Popen(
        ["nbprod", "build", "--env--mode", "sleep"],
        cwd=project, env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals,
    )
    try:
        deadline = time.time() + 300  # a cold venv compiles every import in the kernel
        while time.time() < deadline and not (project / "sleeping.flag").exists() and proc.poll() is None:
            time.sleep(0.3)
        assert (project / "sleeping.flag").exists(), "the sleeping cell never started"
        time.sleep(1)  # papermill is now waiting on the cell
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return sh, proc.returncode, err


def test_sigint_while_a_cell_sleeps_exits_130_and_is_recorded_interrupted(interrupted):
    sh, returncode, err = interrupted
    assert returncode == 130, err[-3000:]
    rows = json.loads(sh("nbprod", "runs", "ls", "--json").stdout)
    assert len(rows) == 1 and rows[0]["status"] == "interrupted", rows
    assert rows[0]["tasks"] == {"job": "interrupted"}
    run_id = rows[0]["run_id"]
    assert lines(err)[-1] == f"nbprod: run {run_id} interrupted by SIGINT during task 'job'", err[-3000:]
    assert sh.latest()["interrupted_by"] == "SIGINT"
    assert not (sh.cwd / "out" / "job.txt").exists()


def test_sigint_prints_no_false_nothing_recorded_line(interrupted):
    sh, returncode, err = interrupted
    assert sh.runs(), "precondition: the run is recorded"
    assert not [line for line in lines(err) if "before anything was recorded" in line], err[-3000:]


def test_sigint_ends_with_one_block_and_no_traceback(interrupted):
    """What was recorded and what was interrupted, together at the end of stderr; the
    abandoned kernel tasks' asyncio tracebacks (~100 lines) only with NBPROD_DEBUG=1."""
    sh, returncode, err = interrupted
    run_id = sh.runs()[0]["run_id"]
    assert "Traceback" not in err and "never retrieved" not in err, err[-3000:]
    assert lines(err)[-3:] == [
        f"nbprod: moved product of interrupted task aside: {sh.cwd / 'out' / 'job.ipynb'} -> job.failed.ipynb",
        lines(err)[-2],
        f"nbprod: run {run_id} interrupted by SIGINT during task 'job'",
    ], err[-3000:]
    assert lines(err)[-2].startswith(f"nbprod: run {run_id} interrupted, recorded in {sh.store} (")


def test_sigterm_stops_a_parallel_build_and_its_kernel(tmp_path, shell_factory):
    """ploomber's `executor: parallel` waits for every running task before an interruption
    reaches the build: the first SIGTERM seemed ignored and the kernel kept running."""
    project = make_project(tmp_path / "proj")
    (project / "pipeline.yaml").write_text("executor: parallel\n" + PIPELINE)
    nb = json.loads((project / "job.ipynb").read_text())
    nb["cells"][1]["source"] = "import time, pathlib, os\npathlib.Path('kernel.pid').write_text(str(os.getpid()))"
    (project / "job.ipynb").write_text(json.dumps(nb))
    sh = shell_factory(project)
    proc = subprocess.Popen(["nbprod", "build", "--env--mode", "sleep"], cwd=project, env=sh.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_signals,
                            start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not (project / "sleeping.flag").exists() and proc.poll() is None:
            time.sleep(0.3)
        assert (project / "sleeping.flag").exists(), "the sleeping cell never started"
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)  # the cell sleeps 120 s: not waited for
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    record = sh.latest()
    assert record["status"] == "interrupted" and record["interrupted_by"] == "SIGTERM"
    assert [t["status"] for t in record["tasks"]] == ["interrupted"]
    assert "Traceback" not in err, err[-3000:]
    kernel = int((project / "kernel.pid").read_text())
    deadline = time.time() + 30  # ipykernel notices its parent is gone within a few seconds
    while time.time() < deadline and Path(f"/proc/{kernel}").exists():
        time.sleep(0.5)
    assert not Path(f"/proc/{kernel}").exists(), "the kernel outlived its build"


