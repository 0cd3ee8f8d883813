"""papermill itself, checked and recorded: real `papermill --engine nbprod` and `nbprod run`
subprocesses with real kernels, each with its own store.

One tiny notebook, `mode` choosing what it does (ok, raise, die, sleep); every run writes
ran.flag in its first cell after the parameters, so "nothing executed" is seen on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import Shell, default_signals, write_notebook

pytestmark = pytest.mark.e2e

PARAMS = "mode = 'ok'  # what the notebook does\nfactor = 2  # how much to scale"
SHIM = """\
import sys
from nbprod.cli import cli, main
cli.lazy.setdefault("run", "run:run")  # until `run` is in nbprod.cli.COMMANDS
main()
"""


@pytest.fixture
def here(tmp_path, store) -> Shell:
    project = tmp_path / "project"
    write_notebook(
        project / "job.ipynb", PARAMS,
        "import os, time, pathlib\npathlib.Path('ran.flag').write_text(str(factor * 3))",
        "if mode == 'raise':\n    raise ValueError('boom in job')",
        "if mode == 'die':\n    os._exit(1)",
        "if mode == 'sleep':\n    pathlib.Path('sleeping.flag').write_text('1')\n    time.sleep(120)",
    )
    shim = tmp_path / "bin" / "nbprod"  # `nbprod run` as typed, whether or not it is registered yet
    shim.parent.mkdir()
    shim.write_text(f"#!{sys.executable}\n{SHIM}")
    shim.chmod(0o755)
    shell = Shell(project, store)
    shell.env["PATH"] = f"{shim.parent}{os.pathsep}{shell.env['PATH']}"
    return shell


def papermill(shell: Shell, *args: str):
    return shell("papermill", "-k", "python3", "--engine", "nbprod", "--no-progress-bar", "job.ipynb",
                 "out.ipynb", *args, check=False)


def nbprod_run(shell: Shell, *args: str):
    return shell("nbprod", "run", "job.ipynb", "out.ipynb", *args, check=False)


def recorded(shell: Shell) -> list[dict]:
    return shell.runs() if shell.store.exists() else []


def test_an_undeclared_parameter_is_refused_before_anything_runs(here):
    done = papermill(here, "-p", "yeras", "2008")
    assert done.returncode == 2, done.stderr
    assert ("nbprod: error: job.ipynb got parameter(s) yeras that its parameters cell does not declare "
            "(it declares: factor, mode)") in done.stderr
    assert "Traceback" not in done.stderr
    assert not (here.cwd / "ran.flag").exists() and not (here.cwd / "out.ipynb").exists()
    assert recorded(here) == []
    again = nbprod_run(here, "-p", "yeras", "2008")
    assert again.returncode == 2 and "yeras that its parameters cell does not declare" in again.stderr
    assert not (here.cwd / "ran.flag").exists() and recorded(here) == []


def test_a_mistyped_parameter_is_refused(here):
    done = nbprod_run(here, "-p", "factor", "2x")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "nbprod: error: job.ipynb: `factor` is declared as an int but got the str '2x'")
    assert papermill(here, "-p", "factor", "2x").returncode == 2
    assert papermill(here, "-r", "factor", "2").returncode == 2  # -r: the string '2'
    assert not (here.cwd / "ran.flag").exists() and recorded(here) == []


def test_a_succeeded_run_is_recorded_as_one_papermill_task(here):
    done = nbprod_run(here, "-p", "factor", "3", "-y", "mode: ok")
    assert done.returncode == 0, done.stderr
    assert (here.cwd / "ran.flag").read_text() == "9"
    (summary,) = recorded(here)
    run = here.latest()
    assert run["status"] == "succeeded" and run["command"][:2] == ["nbprod", "run"]
    (task,) = run["tasks"]
    assert (task["name"], task["kind"], task["status"]) == ("job", "papermill", "succeeded")
    assert task["params"] == {"factor": 3, "mode": "ok"} and task["source"] == "job.ipynb"
    assert [(p["name"], p["path"]) for p in task["products"]] == [("nb", "out.ipynb")]
    assert task["notebook"]["sha256"] == task["products"][0]["sha256"]
    via_papermill = papermill(here, "-p", "factor", "4")
    assert via_papermill.returncode == 0, via_papermill.stderr
    assert here.latest()["command"][0] == "papermill" and len(recorded(here)) == 2


def test_a_raising_cell_is_recorded_failed_naming_the_cell(here):
    done = nbprod_run(here, "-p", "mode", "raise")
    assert done.returncode == 1, done.stderr
    run = here.latest()
    assert run["status"] == "failed" and run["tasks"][0]["status"] == "failed"
    assert (run["error"]["ename"], run["error"]["cell_index"]) == ("ValueError", 2)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"nbprod: run {run['run_id']} failed: task 'job', cell 2 ") and "boom in job" in last
    by_papermill = papermill(here, "-p", "mode", "raise")
    assert by_papermill.returncode == 1
    assert "failed: task 'job', cell 2 " in by_papermill.stderr.strip().splitlines()[-1]


def test_a_dead_kernel_is_recorded_as_such(here):
    done = nbprod_run(here, "-p", "mode", "die")
    assert done.returncode == 1, done.stderr
    run = here.latest()
    assert run["status"] == "failed"
    assert run["error"]["kernel_died"] is True and run["error"]["cell_index"] == 3
    assert "the kernel died" in done.stderr.strip().splitlines()[-1]
    assert papermill(here, "-p", "mode", "die").returncode == 138  # papermill's own code for a dead kernel
    assert here.latest()["error"]["kernel_died"] is True


def test_ctrl_c_during_nbprod_run_records_an_interrupted_run(here):
    process = subprocess.Popen(["nbprod", "run", "job.ipynb", "out.ipynb", "-p", "mode", "sleep"], cwd=here.cwd,
                               env=here.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_signals)
    flag = here.cwd / "sleeping.flag"
    deadline = time.monotonic() + 120
    while not flag.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert flag.exists(), process.communicate()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    run = here.latest()
    assert run["status"] == "interrupted" and run["interrupted_by"] == "SIGINT"
    assert run["tasks"][0]["status"] == "interrupted"
    assert f"run {run['run_id']} interrupted by SIGINT" in err.strip().splitlines()[-1]
