"""The pre-commit hooks nbprod provides (.pre-commit-hooks.yaml) and the ones this repository
uses (.pre-commit-config.yaml): ids, file filters, and entries that are working nbprod commands."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from checkkit import cell, clean_env, notebook, params_cell, pipeline, task

REPO = Path(__file__).resolve().parents[3]
HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
LOCAL = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
ENTRIES = {"nbprod-check": "nbprod check", "nbprod-strip": "nbprod check --fix"}


def test_the_hooks_are_nbprod_check_and_nbprod_strip():
    assert [h["id"] for h in HOOKS] == ["nbprod-check", "nbprod-strip"]
    for hook in HOOKS:
        assert hook["entry"] == ENTRIES[hook["id"]]
        assert hook["language"] == "python" and hook["pass_filenames"] is True
        assert set(hook["types_or"]) == {"jupyter", "yaml"}


@pytest.mark.parametrize("path, matched", [
    ("notebooks/train.ipynb", True), ("train.ipynb", True), ("pipeline.yaml", True), ("pipeline.shared.yaml", True),
    ("sub/pipeline.yml", True), ("env.yaml", True), ("env.ci.yaml", True), ("nbprod.yaml", True),
    ("environment.yml", False), (".github/workflows/nbprod.yml", False), (".gitlab-ci.yml", False),
    ("notebooks/train.py", False),
])
def test_the_hooks_get_notebooks_and_the_pipelines_yaml_files(path, matched):
    for hook in [*HOOKS, *LOCAL["repos"][0]["hooks"]]:
        assert bool(re.search(hook["files"], path)) == matched, (hook["id"], path)


def test_this_repository_runs_the_same_commands_as_local_hooks():
    (repo,) = LOCAL["repos"]
    assert repo["repo"] == "local"
    local = {h["id"]: h for h in repo["hooks"]}
    assert set(local) == set(ENTRIES)
    for hook in HOOKS:
        mine = local[hook["id"]]
        assert mine["entry"] == hook["entry"] and mine["language"] == "system"
        assert {k: mine[k] for k in ("files", "types_or", "pass_filenames")} == \
               {k: hook[k] for k in ("files", "types_or", "pass_filenames")}


def run_hook(hook_id: str, cwd: Path, *files: str) -> subprocess.CompletedProcess:
    """What pre-commit runs: the entry, split as a shell would, then the staged files' names."""
    (hook,) = [h for h in HOOKS if h["id"] == hook_id]
    return subprocess.run([*shlex.split(hook["entry"]), *files], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=180)


def test_each_entry_is_a_working_nbprod_command(tmp_path):
    notebook(tmp_path / "notebooks/train.ipynb", params_cell("upstream = None\nproduct = None\nseed = 1  # the seed"),
             cell("x = seed", id="fit", outputs=[{"output_type": "stream", "name": "stdout", "text": "1\n"}],
                  count=1))
    pipeline(tmp_path, [task("train", params={"seed": 2})])
    check = run_hook("nbprod-check", tmp_path, "notebooks/train.ipynb", "pipeline.yaml")
    assert check.returncode == 4 and "1 output committed" in check.stdout, check.stdout + check.stderr
    before = (tmp_path / "notebooks/train.ipynb").read_bytes()
    strip = run_hook("nbprod-strip", tmp_path, "notebooks/train.ipynb", "pipeline.yaml")
    assert strip.returncode == 0, strip.stdout + strip.stderr
    assert (tmp_path / "notebooks/train.ipynb").read_bytes() != before  # pre-commit then fails the commit once
    again = run_hook("nbprod-check", tmp_path, "notebooks/train.ipynb", "pipeline.yaml")
    assert (again.returncode, again.stdout) == (0, "")
