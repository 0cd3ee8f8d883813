"""nbprod task NAME / nbprod task --assemble: each task of a run in its own folder, as an
orchestrator's workers run them, products only through the store; one run record at the end.

Real kernels, real nbprod processes, a folder store; a two-task project whose File client
shares products through the store (as pipeline.shared.yaml does for the reference project).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import Shell, git_init, write_notebook

pytestmark = pytest.mark.e2e

SPEC = """\
clients:
  File: {dotted_path: nbprod.products.client, root: '{{here}}'}
meta: {extract_upstream: false, extract_product: false}
tasks:
  - source: notebooks/make.ipynb
    name: make
    product: {nb: outputs/make.ipynb, data: outputs/numbers.json}
    params: {n: '{{n}}'}
  - source: notebooks/use.ipynb
    name: use
    upstream: [make]
    product: {nb: outputs/use.ipynb}
"""

RUN = "20261201T020000Z-0a0b0c"


def _project(folder: Path) -> Path:
    write_notebook(folder / "notebooks/make.ipynb", "upstream = None\nproduct = None\nn = 3  # how many",
                   "import json\nfrom pathlib import Path\nPath(product['data']).parent.mkdir(parents=True, exist_ok=True)\n"
                   "Path(product['data']).write_text(json.dumps(list(range(n))))")
    write_notebook(folder / "notebooks/use.ipynb", "upstream = None\nproduct = None",
                   "import json\nnumbers = json.loads(open(upstream['make']['data']).read())",
                   "if not numbers:\n    raise ValueError('no numbers: n must be positive')",
                   "import scrapbook as sb\nsb.glue('total', sum(numbers))")
    (folder / "pipeline.yaml").write_text(SPEC)
    (folder / "env.yaml").write_text("n: 3\n")
    (folder / ".gitignore").write_text("outputs/\n")
    git_init(folder)
    return folder


def _worker(origin: Path, name: str) -> Path:
    """A fresh checkout, as a worker on another machine has: the sources, no outputs/."""
    dest = origin.parent / name
    shutil.copytree(origin, dest, ignore=shutil.ignore_patterns("outputs", ".nbprod"))
    return dest


def test_tasks_run_apart_and_assemble_into_one_run(tmp_path, store):
    origin = _project(tmp_path / "origin")
    sh = Shell(origin, store)
    refused = sh("nbprod", "task", "use", "--run-id", RUN, check=False)
    assert refused.returncode == 2, refused.stderr
    assert "task 'use' needs 'make' first: not up to date in store" in refused.stderr
    assert [p.name for p in store.joinpath("parts", RUN, "use").iterdir()] == ["0001.refused.json"]

    sh("nbprod", "task", "make", "--run-id", RUN, cwd=_worker(origin, "w1"))
    done = sh("nbprod", "task", "use", "--run-id", RUN, "--attempt", "2", cwd=_worker(origin, "w2"))
    assert "Downloading product 'make'" in done.stderr + done.stdout
    assert sh.runs() == []  # parts are not runs
    sh("nbprod", "task", "--assemble", "--run-id", RUN, cwd=_worker(origin, "w3"))
    [run] = sh.runs()
    record = sh.nbprod_json("runs", "show", run["run_id"])
    assert run["run_id"] == RUN and record["status"] == "succeeded"
    assert [(t["name"], t["status"], [a["status"] for a in t["attempts"]]) for t in record["tasks"]] == [
        ("make", "succeeded", ["succeeded"]), ("use", "succeeded", ["failed", "succeeded"])]
    assert "needs 'make' first" in record["tasks"][1]["attempts"][0]["error"]
    assert record["tasks"][1]["scraps"]["total"]["value"] == 3
    assert record["tasks"][0]["params"] == {"n": 3}


def test_a_failing_task_fails_its_attempt_and_the_assembled_run_names_the_cell(tmp_path, store):
    origin = _project(tmp_path / "origin")
    sh = Shell(origin, store)
    sh("nbprod", "task", "make", "--run-id", RUN, "--env--n", "0", cwd=_worker(origin, "w1"))
    failed = sh("nbprod", "task", "use", "--run-id", RUN, "--env--n", "0", cwd=_worker(origin, "w2"), check=False)
    assert failed.returncode == 1
    assert "task 'use', cell 2" in failed.stderr and "no numbers" in failed.stderr
    assembled = sh("nbprod", "task", "--assemble", "--run-id", RUN, check=False)
    assert assembled.returncode == 1, assembled.stderr
    assert f"run {RUN} failed: task 'use', cell 2" in assembled.stderr
    record = sh.nbprod_json("runs", "show", RUN)
    assert record["status"] == "failed" and record["error"]["cell_index"] == 2
    assert [t["status"] for t in record["tasks"]] == ["succeeded", "failed"]
    assert [r["run_id"] for r in sh.nbprod_json("runs", "ls", "--all", "--param", "n=0")] == [RUN]
