"""`nbprod build --smoke` and the cell and build timeouts, with real Jupyter kernels.

A two-notebook project whose env.ci.yaml makes the smoke parameters visible in the
products: the smoke build takes them, runs every task although all are up to date,
and is recorded as a smoke run that `runs ls` and the report leave out unless asked.
A cell that sleeps stands for a notebook that loops: NBPROD_CELL_TIMEOUT fails its
task with the cell named, NBPROD_BUILD_TIMEOUT stops the whole build (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_notebook

pytestmark = pytest.mark.e2e

PIPELINE = """meta: {extract_upstream: false}
tasks:
  - source: first.ipynb
    name: first
    product: {nb: out/first.ipynb, data: out/first.txt}
    params: {rows: '{{rows}}'}
  - source: second.ipynb
    name: second
    upstream: [first]
    product: {nb: out/second.ipynb}
"""


def make_project(root: Path) -> Path:
    write_notebook(
        root / "first.ipynb",
        "upstream = None\nproduct = None\nrows = 1000  # rows to read",
        "import pathlib\npathlib.Path(product['data']).write_text(str(rows))",
    )
    write_notebook(root / "second.ipynb", "upstream = None\nproduct = None", "x = 1")
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "env.yaml").write_text("rows: 1000\n")
    (root / "env.ci.yaml").write_text("rows: 7\n")
    return root


@pytest.fixture
def sh(tmp_path, shell_factory):
    return shell_factory(make_project(tmp_path / "proj"))


def test_a_smoke_build_takes_env_ci_runs_every_task_and_stays_out_of_history(sh):
    sh("nbprod", "build")
    assert (sh.cwd / "out/first.txt").read_text() == "1000"

    done = sh("nbprod", "build", "--smoke")

    assert (sh.cwd / "out/first.txt").read_text() == "7"  # env.ci.yaml's rows
    smoke = sh.nbprod_json("runs", "show", "latest")
    assert smoke["smoke"] is True
    assert smoke["command"][-1] == "--smoke"
    assert [t["status"] for t in smoke["tasks"]] == ["succeeded", "succeeded"]  # forced: all ran
    assert smoke["tasks"][0]["params"] == {"rows": 7}
    assert "env.ci.yaml" in smoke["project"]["files"]
    assert "env.ci.yaml" not in done.stderr  # no warning that it is missing
    sh("nbprod", "build", "--smoke")  # the same parameters again: still every task runs
    again = sh.nbprod_json("runs", "show", "latest")
    assert again["run_id"] != smoke["run_id"] and [t["status"] for t in again["tasks"]] == ["succeeded"] * 2

    listed = [r["run_id"] for r in sh.nbprod_json("runs", "ls")]
    assert smoke["run_id"] not in listed and len(listed) == 1
    assert smoke["run_id"] in [r["run_id"] for r in sh.nbprod_json("runs", "ls", "--smoke")]

    sh("nbprod", "report", "--out", "site")
    index = (sh.cwd / "site/index.html").read_text()
    assert listed[0] in index and smoke["run_id"] not in index
    sh("nbprod", "report", "--out", "site2", "--smoke")
    assert smoke["run_id"] in (sh.cwd / "site2/index.html").read_text()


def test_a_store_holding_only_smoke_runs_says_how_to_list_them(sh):
    (sh.cwd / "env.ci.yaml").unlink()

    done = sh("nbprod", "build", "--smoke")

    assert "no env.ci.yaml beside pipeline.yaml" in done.stderr  # and it ran on env.yaml's values
    assert (sh.cwd / "out/first.txt").read_text() == "1000"
    listed = sh("nbprod", "runs", "ls")
    assert "1 smoke runs are left out: `nbprod runs ls --smoke` lists them" in listed.stdout


def test_a_cell_past_nbprod_cell_timeout_fails_its_task_with_the_cell_named(sh):
    write_notebook(sh.cwd / "second.ipynb", "upstream = None\nproduct = None", "x = 1",
                   "import time\ntime.sleep(600)", "y = 2")

    done = sh("nbprod", "build", check=False, timeout=300, NBPROD_CELL_TIMEOUT="3")

    assert done.returncode == 1, done.stderr
    record = sh.latest()
    assert record["status"] == "failed"
    error = record["tasks"][1]["error"]
    assert (error["task"], error["cell_index"], error["ename"]) == ("second", 2, "CellTimeoutError")
    assert "time.sleep(600)" in error["cell_source"]
    assert "task 'second', cell 2" in done.stderr.splitlines()[-1]
    assert record["tasks"][1]["notebook"] is not None  # the partial notebook is kept


def test_a_build_past_nbprod_build_timeout_is_stopped_and_recorded_as_timed_out(sh):
    write_notebook(sh.cwd / "first.ipynb", "upstream = None\nproduct = None\nrows = 1", "import time\ntime.sleep(600)")

    done = sh("nbprod", "build", check=False, timeout=300, NBPROD_BUILD_TIMEOUT="10")

    assert done.returncode == 1, done.stderr  # a timeout fails the build (not 130: nobody pressed Ctrl-C)
    record = sh.latest()
    assert (record["status"], record["interrupted_by"]) == ("interrupted", "NBPROD_BUILD_TIMEOUT (10 s)")
    assert record["tasks"][0]["status"] == "interrupted"
    assert record["tasks"][0]["error"]["cell_source"] == "import time\ntime.sleep(600)"
    assert done.stderr.strip().splitlines()[-1].endswith("interrupted by NBPROD_BUILD_TIMEOUT (10 s) during task 'first'")


def test_a_malformed_timeout_is_refused_before_any_task_runs(sh):
    done = sh("nbprod", "build", check=False, NBPROD_CELL_TIMEOUT="ten")

    assert done.returncode == 2
    assert "NBPROD_CELL_TIMEOUT='ten' is not a non-negative number (seconds)" in done.stderr
    assert not (sh.cwd / "out").exists()
    assert json.loads(sh("nbprod", "runs", "ls", "--json").stdout) == []


def test_on_github_actions_a_failed_smoke_build_annotates_summarizes_and_writes_junit(sh, tmp_path):
    import xml.etree.ElementTree as ET

    sh("nbprod", "build")  # the baseline: a full, succeeded run
    baseline = sh.latest()["run_id"]
    write_notebook(sh.cwd / "second.ipynb", "upstream = None\nproduct = None", "x = 1", "raise ValueError('smoke broke')")
    summary = tmp_path / "summary.md"

    done = sh("nbprod", "build", "--smoke", "--junit", "junit.xml", check=False,
              GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_WORKSPACE=str(sh.cwd))

    assert done.returncode == 1, done.stderr
    run = sh.nbprod_json("runs", "show", "latest")["run_id"]
    assert "::error file=second.ipynb,title=nbprod%3A task second failed::" in done.stdout  # `:` escaped
    assert "::group::" in done.stdout and "raise ValueError('smoke broke')" in done.stdout
    text = summary.read_text()
    assert run in text and baseline in text  # compared with the full run, not with itself
    suite = ET.parse(sh.cwd / "junit.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"first", "second"}
    assert cases["first"].find("failure") is None
    assert cases["second"].find("failure").get("type") == "ValueError"
    assert done.stderr.strip().splitlines()[-1].startswith(f"nbprod: run {run} failed: task 'second'")


def test_a_baseline_that_names_no_run_stops_the_build_before_it_starts(sh):
    done = sh("nbprod", "build", "--baseline", "nosuchrun", check=False)

    assert done.returncode == 2
    assert done.stderr.startswith("nbprod: error: --baseline:") and len(done.stderr.strip().splitlines()) == 1
    assert not (sh.cwd / "out").exists()
