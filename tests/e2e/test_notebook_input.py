"""Failures recorded as what they were, through one real ``nbprod build`` (issue 11, sections 2, 4 and 5).

One build of a tiny project, real kernels: a notebook cell that outlives
ploomber's ``execution_timeout``, a function task that raises, a function task
that never writes its product, and a notebook without a parameters cell (run
as it is, its file untouched). What refuses to load (two parameters cells,
a truncated notebook, unknown ``--env--``) needs no kernel: see
tests/nbprod/cli/test_build_errors.py.
"""

from __future__ import annotations

import pytest
from conftest import write_notebook

pytestmark = pytest.mark.e2e

PIPELINE = """\
meta: {extract_upstream: false}
tasks:
  - source: slow.ipynb
    product: out/slow.ipynb
    papermill_params: {execution_timeout: 2}
  - source: plain.ipynb
    product: out/plain.ipynb
  - source: functions.raises
    product: out/raises.txt
  - source: functions.nothing
    product: out/nothing.txt
"""

FUNCTIONS = '''\
def raises(product):
    value = 1
    raise ValueError(f"bad value {value}")


def nothing(product):
    """Runs fine and never writes its declared product."""
'''


def test_timeouts_function_errors_and_unwritten_products_are_recorded_as_what_they_were(tmp_path, shell_factory):
    root = tmp_path / "proj"
    write_notebook(root / "slow.ipynb", "product = None", "import time", "time.sleep(120)", "done = True")
    plain = write_notebook(root / "plain.ipynb", None, "x = 1")
    before = plain.read_bytes()
    (root / "functions.py").write_text(FUNCTIONS)
    (root / "pipeline.yaml").write_text(PIPELINE)
    sh = shell_factory(root)

    done = sh("nbprod", "build", check=False)

    assert done.returncode == 1, done.stderr[-3000:]
    record = sh.latest()
    tasks = {t["name"]: t for t in record["tasks"]}
    assert {n: t["status"] for n, t in tasks.items()} == {
        "slow": "failed", "plain": "succeeded", "raises": "failed", "nothing": "failed"}

    # a cell that never ends: a timeout, naming the cell and the limit (was: KeyboardInterrupt, no message)
    slow = tasks["slow"]["error"]
    assert slow["ename"] == "CellTimeoutError", slow
    assert slow["cell_index"] == 2 and "time.sleep(120)" in slow["cell_source"]
    assert "execution_timeout (2 s)" in slow["evalue"]

    # a function task's error names its file and line
    raised = tasks["raises"]["error"]
    assert (raised["ename"], raised["evalue"]) == ("ValueError", "bad value 1 (at functions.py:3, in raises)")

    # a product never written: ploomber's message (was: "Error: Need help? https://ploomber.io/community")
    nothing = tasks["nothing"]["error"]
    assert nothing["ename"] == "TaskBuildError", nothing
    assert "the product File('out/nothing.txt') is missing" in nothing["evalue"]
    assert "Need help" not in nothing["evalue"]

    # a notebook without a parameters cell, given none, ran as it is: ploomber did not add a cell to it
    assert plain.read_bytes() == before
    assert "missing the parameters cell" not in done.stdout + done.stderr
