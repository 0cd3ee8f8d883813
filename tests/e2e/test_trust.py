"""Records you can trust whatever happens between builds (issue 11, section 1).

Real ``nbprod build`` processes with real kernels on a two-notebook project:
two builds at once (the build lock), a builder killed with SIGKILL mid-task,
a notebook run by hand with papermill, new data at the same path, and a task
that fails. Each flow is one test with several builds, to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import write_notebook

pytestmark = pytest.mark.e2e

PIPELINE = """tasks:
  - source: load.ipynb
    product: {nb: out/load.ipynb, data: out/load.txt}
    params: {source: data.csv}
  - source: fit.ipynb
    product: {nb: out/fit.ipynb, data: out/fit.txt}
    params: {mode: '{{mode}}'}
"""


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    write_notebook(
        root / "load.ipynb",
        "upstream = None\nproduct = None\nsource = 'data.csv'\nrows = 0",
        "import os\ntext = open(os.path.join(os.environ.get('PROJECT_DIR', ''), source)).read()\nif rows:\n    text = text[:rows]\nopen(product['data'], 'w').write(text)",
    )
    write_notebook(
        root / "fit.ipynb",
        "upstream = ['load']\nproduct = None\nmode = 'ok'",
        "import os, time\ndata = open(upstream['load']['data']).read()",
        # HOLD (an environment variable naming a file): write half a product, wait while it exists
        "hold = os.environ.get('HOLD')\nif hold and os.path.exists(hold):\n"
        "    open(product['data'], 'w').write('half')\n"
        "    while os.path.exists(hold):\n        time.sleep(0.2)",
        "if mode == 'raise':\n    raise ValueError('boom in fit')\n"
        "if mode == 'partial':\n    open(product['data'], 'w').write('partial')\n    raise ValueError('cut')",
        "open(product['data'], 'w').write('fitted:' + data)",
    )
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "env.yaml").write_text("mode: ok\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    return root


@pytest.fixture
def sh(project, shell_factory):
    return shell_factory(project)


def statuses(record: dict) -> dict[str, str]:
    return {t["name"]: t["status"] for t in record["tasks"]}


def wait_for(predicate, what: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the build exited {proc.returncode} before {what}:\n{out[-2000:]}\n{err[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_build(sh, *args: str, **env) -> subprocess.Popen:
    """`nbprod build` in the background, in its own process group (so its kernel can be stopped)."""
    return subprocess.Popen(
        ["nbprod", "build", *args], cwd=sh.cwd, env={**sh.env, **env}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )


def stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def test_second_build_waits_or_exits_2_and_a_killed_builder_leaves_nothing_up_to_date(sh, project, tmp_path):
    sh("nbprod", "build")
    first = sh.latest()
    assert (project / "out" / "fit.txt").read_text() == "fitted:a,b\n1,2\n"

    hold = tmp_path / "hold"
    hold.touch()
    holder = start_build(sh, "--force", HOLD=str(hold))
    try:
        wait_for(lambda: (project / "out" / "fit.txt").read_text() == "half", "the held build to reach fit", holder)
        # 1. another build of the same folder: one line naming the holder, exit 2, nothing recorded
        second = sh("nbprod", "build", "--force", check=False, HOLD=str(hold))
        assert second.returncode == 2, second.stderr
        line = [l for l in second.stderr.splitlines() if l.strip()][-1]
        assert line.startswith("nbprod: error: another build of this project is running"), line
        assert f"pid {holder.pid} on " in line and " run 20" in line and "started 20" in line, line
        assert "NBPROD_LOCK_TIMEOUT" in line
        assert len(sh.runs()) == 1

        # 2. the builder is killed (SIGKILL, as the OOM killer does) while fit runs
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        stop_group(holder)  # its kernel too
        hold.unlink(missing_ok=True)
    assert (project / "out" / "fit.txt").read_text() == "half"

    # 3. the next build takes the dead builder's lock over and runs fit again (not "nothing ran");
    # load ran in the killed build too, which recorded nothing: its files are not the recorded ones
    third = sh("nbprod", "build")
    assert "took over the build lock" in third.stdout, third.stdout
    assert f"nbprod: load: out/load.ipynb changed since run {first['run_id']}" in third.stdout, third.stdout
    record = sh.latest()
    assert record["run_id"] != first["run_id"]
    assert statuses(record) == {"load": "succeeded", "fit": "succeeded"}
    assert (project / "out" / "fit.txt").read_text() == "fitted:a,b\n1,2\n"


def test_a_build_waits_for_the_lock_up_to_nbprod_lock_timeout(sh, project, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    holder = start_build(sh, HOLD=str(hold))
    try:
        wait_for(lambda: (project / "out" / "fit.txt").exists(), "the held build to reach fit", holder)
        waiter = start_build(sh, "--force", "--env--mode", "ok", NBPROD_LOCK_TIMEOUT="300")
        time.sleep(3)
        assert waiter.poll() is None  # waiting, not refused
        hold.unlink()
        assert holder.wait(timeout=240) == 0
        out, err = waiter.communicate(timeout=240)
        assert waiter.returncode == 0, err
    finally:
        stop_group(holder)
        hold.unlink(missing_ok=True)
    runs = sh.runs()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"succeeded"}


def test_files_changed_by_hand_or_new_data_make_their_tasks_run_again(sh, project):
    sh("nbprod", "build")
    built = sh.latest()["run_id"]
    assert "nothing ran" in sh("nbprod", "build").stdout

    # a notebook run by hand rewrites products under out/ (JupyterLab's Run All, papermill)
    sh("papermill", "load.ipynb", "out/load.ipynb", "-p", "rows", "3",
       "-y", "product: {nb: out/load.ipynb, data: out/load.txt}", "--cwd", str(project))
    assert (project / "out" / "load.txt").read_text() == "a,b"
    again = sh("nbprod", "build")
    assert f"nbprod: load: out/load.ipynb, out/load.txt changed since run {built}" in again.stdout, again.stdout
    record = sh.latest()
    assert statuses(record) == {"load": "succeeded", "fit": "succeeded"}
    assert (project / "out" / "fit.txt").read_text() == "fitted:a,b\n1,2\n"  # the pipeline's rows
    load = next(t for t in record["tasks"] if t["name"] == "load")
    assert next(p for p in load["products"] if p["name"] == "data")["size"] == len("a,b\n1,2\n")

    # new data at the same path: ploomber alone says "nothing ran"
    (project / "data.csv").write_text("a,b\n1,2\n3,4\n")
    fresh = sh("nbprod", "build")
    assert f"nbprod: load: data.csv changed since run {record['run_id']}" in fresh.stdout, fresh.stdout
    newest = sh.latest()
    assert statuses(newest) == {"load": "succeeded", "fit": "succeeded"}
    assert newest["inputs"][0]["sha256"] != record["inputs"][0]["sha256"]
    assert (project / "out" / "fit.txt").read_text() == "fitted:a,b\n1,2\n3,4\n"

    # the same bytes again (touched, copied over): not a change
    (project / "data.csv").write_text("a,b\n1,2\n3,4\n")
    assert "nothing ran" in sh("nbprod", "build").stdout

    # from a subfolder, without NBPROD_STORE: the project's store, beside pipeline.yaml
    (project / "data.csv").write_text("a,b\n5,6\n")
    (project / "scripts").mkdir()
    sub = sh("nbprod", "build", cwd=project / "scripts", NBPROD_STORE="", PROJECT_DIR=project)
    assert f"recorded in {project / 'outputs' / 'store'}" in sub.stdout, sub.stdout
    assert not (project / "scripts" / "outputs").exists()
    listed = sh("nbprod", "runs", "ls", "--json", cwd=project / "scripts", NBPROD_STORE="")
    assert len(json.loads(listed.stdout)) == 1


def test_a_failed_task_hides_only_what_it_wrote_and_its_leftovers_go_on_success(sh, project):
    sh("nbprod", "build")
    out = project / "out"
    good = (out / "fit.txt").read_text()

    # fails before writing its data product: the last good model stays where it is
    failed = sh("nbprod", "build", "--env--mode", "raise", check=False)
    assert failed.returncode == 1
    assert (out / "fit.txt").read_text() == good
    assert not (out / "fit.failed.txt").exists()
    assert (out / "fit.failed.ipynb").exists() and not (out / "fit.ipynb").exists()

    # writes half a product then fails: that one is moved aside; the next build (no --force,
    # same parameters) runs the task again instead of skipping it
    sh("nbprod", "build", "--env--mode", "partial", check=False)
    assert (out / "fit.failed.txt").read_text() == "partial" and not (out / "fit.txt").exists()
    again = sh("nbprod", "build", "--env--mode", "partial", check=False)
    assert again.returncode == 1
    assert statuses(sh.latest())["fit"] == "failed"

    # success: the task's *.failed.* leftovers are removed
    sh("nbprod", "build")
    assert statuses(sh.latest()) == {"load": "skipped", "fit": "succeeded"}
    assert (out / "fit.txt").read_text() == good
    assert sorted(p.name for p in out.iterdir() if ".failed" in p.name) == []
