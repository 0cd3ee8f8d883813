"""`nbprod run`'s -f/-y input: a missing file, YAML that does not parse or is not a mapping,
each one line and exit 2 before any kernel starts (no traceback, nothing recorded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_notebook


@pytest.mark.parametrize("args, says", [
    (["-f", "nope.yaml"], "File 'nope.yaml' does not exist"),
    (["-y", "[1, 2]"], "-y '[1, 2]' is a YAML list, not a mapping of parameter names to values"),
    (["-y", "a: ["], "-y 'a: [' is not valid YAML (while parsing a flow node"),
    (["-f", "list.yaml"], "-f list.yaml is a YAML list, not a mapping"),
])
def test_bad_parameter_input_is_one_line_and_exit_2(tmp_path, args, says):
    write_notebook(tmp_path / "a.ipynb", "x = 1  # a number", "y = x")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    env = {**os.environ, "NBPROD_STORE": str(tmp_path / "store"), "NBPROD_SPOOL": str(tmp_path / "spool")}

    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "run", "a.ipynb", "o.ipynb", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr
    assert not (tmp_path / "o.ipynb").exists() and not (tmp_path / "store").exists()
