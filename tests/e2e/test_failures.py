"""Failures are first-class: every way a build can go wrong is recorded.

Runs on a tiny two-notebook project written here (fast kernels), through the
real ``nbprod build`` and ``ploomber build`` commands.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import default_signals, write_notebook

pytestmark = pytest.mark.e2e

HOOKS = """on_render: nbprod.hooks.on_render
on_finish: nbprod.hooks.on_finish
on_failure: nbprod.hooks.on_failure
"""

PIPELINE = """tasks:
  - source: load.ipynb
    product: {nb: out/load.ipynb, data: out/load.txt}
  - source: fit.ipynb
    product: {nb: out/fit.ipynb, data: out/fit.txt}
    params: {mode: '{{mode}}'}
"""


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    write_notebook(
        root / "load.ipynb",
        "upstream = None\nproduct = None",
        "import scrapbook as sb\nsb.glue('n_rows', 3)\nopen(product['data'], 'w').write('abc')",
    )
    write_notebook(
        root / "fit.ipynb",
        "upstream = ['load']\nproduct = None\nmode = 'ok'",
        "import os, time\nimport scrapbook as sb\nsb.glue('started', 1)",
        "if mode == 'raise':\n    raise ValueError('boom in fit')\n"
        "if mode == 'die':\n    os._exit(1)\n"
        "if mode == 'sleep':\n    time.sleep(60)",
        "open(product['data'], 'w').write('fitted')\nsb.glue('score', 0.5)",
    )
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "env.yaml").write_text("mode: ok\n")
    return root


@pytest.fixture
def sh(project, shell_factory):
    return shell_factory(project)


def last_line(text: str) -> str:
    """nbprod's last line; an orphaned kernel's own goodbye (``[IPKernelApp] ... Parent appears
    to have exited``), written by another process after nbprod exited, is not nbprod's."""
    lines = [l for l in text.splitlines() if l.strip() and not l.startswith("[IPKernelApp]")]
    return lines[-1] if lines else ""


def test_raising_cell_is_recorded_as_failed_with_partial_notebook(sh, project, store):
    done = sh("nbprod", "build", "--env--mode", "raise", check=False)
    assert done.returncode == 1
    line = last_line(done.stderr)
    assert "task 'fit', cell 2" in line and "ValueError: boom in fit" in line, line

    record = sh.latest()
    assert record["status"] == "failed"
    fit = next(t for t in record["tasks"] if t["name"] == "fit")
    load = next(t for t in record["tasks"] if t["name"] == "load")
    assert fit["status"] == "failed" and load["status"] == "succeeded"
    assert fit["error"]["ename"] == "ValueError"
    assert fit["error"]["evalue"] == "boom in fit"
    assert fit["error"]["cell_index"] == 2  # parameters=0, imports=1, raising=2
    assert "raise ValueError" in fit["error"]["cell_source"]
    assert "ValueError" in fit["error"]["traceback"] and "\x1b[" not in fit["error"]["traceback"]
    assert record["error"]["task"] == "fit"
    # upstream scraps and products are in the failed run's record
    assert load["scraps"]["n_rows"]["value"] == 3
    assert {p["name"] for p in load["products"]} == {"nb", "data"}
    # the partial notebook is in the store and shows the error
    key = fit["notebook"]["key"]
    stored = json.loads((store / key).read_text())
    errors = [o for c in stored["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "ValueError"
    assert fit["scraps"]["started"]["value"] == 1  # scraps glued before the failure
    # nothing of the failed task looks complete under its final name
    assert not (project / "out" / "fit.ipynb").exists()
    assert (project / "out" / "fit.failed.ipynb").exists()
    assert (project / "out" / "load.txt").exists()


def test_ploomber_build_with_hooks_ends_with_the_sentence(sh, project):
    (project / "pipeline.yaml").write_text(HOOKS + PIPELINE)
    done = sh("ploomber", "build", "--env--mode", "raise", check=False)
    assert done.returncode != 0
    line = last_line(done.stderr)
    assert line.startswith("nbprod: run ") and "task 'fit', cell 2" in line and "boom in fit" in line, line
    assert sh.latest()["status"] == "failed"


def test_nbprod_build_of_a_project_with_hooks_records_once(sh, project):
    (project / "pipeline.yaml").write_text(HOOKS + PIPELINE)
    sh("nbprod", "build")
    assert len(sh.runs()) == 1
    failed = sh("nbprod", "build", "--env--mode", "raise", check=False)
    assert len(sh.runs()) == 2
    line = last_line(failed.stderr)
    assert "task 'fit', cell 2 (In [" in line, line


def test_kernel_death_is_detected(sh):
    done = sh("nbprod", "build", "--env--mode", "die", check=False)
    assert done.returncode == 1
    assert "kernel died" in last_line(done.stderr)
    record = sh.latest()
    assert record["status"] == "failed"
    error = record["tasks"][1]["error"]
    assert error["kernel_died"] is True
    assert error["cell_index"] == 2
    assert "os._exit" in error["cell_source"]


def test_failed_task_reruns_next_build_after_failed_forced_rerun(sh):
    """ploomber 0.23 keeps stale success metadata after a failed forced re-run."""
    sh("nbprod", "build")
    assert [t["status"] for t in sh.latest()["tasks"]] == ["succeeded", "succeeded"]
    failed = sh("nbprod", "build", "--force", "--env--mode", "raise", check=False)
    assert failed.returncode == 1
    sh("nbprod", "build")
    record = sh.latest()
    assert record["status"] == "succeeded"
    statuses = {t["name"]: t["status"] for t in record["tasks"]}
    assert statuses == {"load": "skipped", "fit": "succeeded"}


def test_failed_run_then_plain_build_reexecutes_with_ploomber_hooks(sh, project):
    (project / "pipeline.yaml").write_text(HOOKS + PIPELINE)
    sh("ploomber", "build")
    sh("ploomber", "build", "--env--mode", "raise", check=False)
    sh("ploomber", "build")
    statuses = {t["name"]: t["status"] for t in sh.latest()["tasks"]}
    assert statuses["fit"] == "succeeded"
    assert len(sh.runs()) == 3


def test_nothing_ran_is_not_recorded(sh):
    sh("nbprod", "build")
    again = sh("nbprod", "build")
    assert "nothing ran" in again.stdout
    assert len(sh.runs()) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_build_is_recorded(sh, project, signum):
    proc = subprocess.Popen(
        ["nbprod", "build", "--env--mode", "sleep"],
        cwd=project, env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals,
    )
    deadline = time.time() + 300  # a cold venv compiles every import in the kernel
    # wait until the sleeping cell runs: fit's partial notebook exists
    while time.time() < deadline and not (project / "out" / "load.txt").exists():
        time.sleep(0.5)
    time.sleep(6)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    record = sh.latest()
    assert record["status"] == "interrupted", err[-3000:]
    assert record["interrupted_by"] == signal.Signals(signum).name
    statuses = {t["name"]: t["status"] for t in record["tasks"]}
    assert statuses == {"load": "succeeded", "fit": "interrupted"}
    assert "interrupted" in last_line(err)


BAD_SPECS = {
    "invalid yaml": "tasks: [\n  - source: load.ipynb\n    product: {nb: out/a.ipynb",
    "unknown key": "tasks:\n  - source: load.ipynb\n    product: out/load.ipynb\n    colour: blue\n",
    "missing notebook": "tasks:\n  - source: nope.ipynb\n    product: out/nope.ipynb\n",
    "cycle": (
        "meta: {extract_upstream: false}\n"
        "tasks:\n"
        "  - {source: load.ipynb, name: a, product: out/a.ipynb, upstream: [b]}\n"
        "  - {source: fit.ipynb, name: b, product: out/b.ipynb, upstream: [a]}\n"
    ),
    "unknown parameter": (
        "tasks:\n  - source: load.ipynb\n    product: {nb: out/load.ipynb, data: out/load.txt}\n"
        "    params: {not_a_param: 1}\n"
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_pipeline_is_one_line_exit_2(sh, project, case):
    (project / "env.yaml").unlink()  # no unused-placeholder warning: only the error
    (project / "pipeline.yaml").write_text(BAD_SPECS[case])
    done = sh("nbprod", "build", check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nbprod: error: ")
    assert "Traceback" not in done.stderr + done.stdout
    assert sh.runs() == []


def test_notebook_without_parameters_cell_given_parameters(sh, project):
    write_notebook(project / "plain.ipynb", None, "x = 1")
    (project / "pipeline.yaml").write_text(
        "tasks:\n  - source: plain.ipynb\n    product: out/plain.ipynb\n    params: {x: 2}\n"
    )
    done = sh("nbprod", "build", check=False)
    assert done.returncode == 2
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "parameters" in lines[0], done.stderr


def test_debug_shows_the_traceback(sh, project):
    (project / "pipeline.yaml").write_text(BAD_SPECS["missing notebook"])
    done = sh("nbprod", "--debug", "build", check=False)
    assert done.returncode != 0
    assert "Traceback" in done.stderr


