"""`nbprod reproduce RUN` for real: `nbprod build` then `nbprod reproduce` in subprocesses,
in a one-notebook git repository, with a real kernel.

The notebook reads an input file (git-ignored `data/in.txt`), multiplies it by two
parameters (`n` from env.yaml, `scale` from the environment through ploomber's
`{{env.JOB_SCALE}}`), writes a product and glues a metric. Every test checks that the
user's work tree and its outputs are byte for byte what they were before the
reproduction (everything but `.git/`), and that no worktree is left behind (but with
`--keep`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import git_init, write_notebook

pytestmark = pytest.mark.e2e

PIPELINE = """tasks:
  - source: job.ipynb
    product: {nb: out/job.ipynb, data: out/job.txt}
    params: {n: '{{n}}', scale: '{{scale}}', source: '{{source}}'}
"""
CELLS = (
    "import pathlib, scrapbook as sb",
    "text = pathlib.Path(source).read_text().strip()",
    "pathlib.Path(product['data']).write_text(text * n * scale)",
    "sb.glue('score', len(text) * n * scale)",
)


def make_project(root: Path, *, store_inputs: bool = True) -> Path:
    write_notebook(root / "job.ipynb", "upstream = None\nproduct = None\nn = 1\nscale = 1\nsource = 'data/in.txt'",
                   *CELLS)
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "env.yaml").write_text("n: 2\nscale: '{{env.JOB_SCALE}}'\nsource: data/in.txt\n")
    (root / ".gitignore").write_text("out/\ndata/\n")
    if not store_inputs:
        (root / "nbprod.yaml").write_text("inputs: {store: false}\n")
    (root / "data").mkdir(parents=True)
    (root / "data" / "in.txt").write_text("ab\n")
    git_init(root)
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture
def sh(project, shell_factory):
    shell = shell_factory(project)
    shell.env["JOB_SCALE"] = "2"
    return shell


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root`` but .git/: sha256 and mode."""
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=root,
                          check=True, capture_output=True, text=True).stdout


def build(sh) -> dict:
    sh("nbprod", "build")
    return sh.latest()


def reproduce(sh, run_id: str, *args: str, **env):
    return sh("nbprod", "reproduce", run_id, "--json", *args, check=False, **env)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_clean_run_reproduces_identical_into_the_same_store(sh, project):
    original = build(sh)
    before = snapshot(project)
    done = reproduce(sh, original["run_id"])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # stdout is the verdict only
    assert result["verdict"] == "identical", result["differences"]
    assert result["run"] == original["run_id"] and result["worktree"] is None
    assert result["compared"]["notebooks"] == 1  # the executed notebook: equal once normalized
    new = sh.latest()
    assert new["run_id"] == result["reproduction"] != original["run_id"]
    assert (new["reproduces"], new["verdict"]) == (original["run_id"], "identical")
    assert new["git"]["commit"] == original["git"]["commit"]
    assert new["command"] == original["command"]  # what was built again
    assert [t["params"] for t in new["tasks"]] == [t["params"] for t in original["tasks"]]
    assert sh.runs()[0]["reproduces"] == original["run_id"]  # in the summary: `runs ls --json`
    assert snapshot(project) == before  # the user's work tree and outputs/ were not written
    assert len(lines(git(project, "worktree", "list"))) == 1
    assert not list(Path(tempfile.gettempdir()).glob(f"nbprod-reproduce-{original['run_id']}-*"))  # all removed


def test_a_dirty_run_reproduces_identical_with_its_patch_and_untracked_file_and_keep_leaves_the_worktree(sh, project):
    nb = nbformat.read(str(project / "job.ipynb"), as_version=4)  # a tracked edit reading an untracked file
    nb.cells.append(nbformat.v4.new_code_cell("sb.glue('extra', pathlib.Path('extra.txt').read_text())"))
    nbformat.write(nb, str(project / "job.ipynb"))
    (project / "env.yaml").write_text((project / "env.yaml").read_text().replace("n: 2", "n: 3"))
    (project / "extra.txt").write_text("not committed\n")
    original = build(sh)
    assert original["git"]["dirty"] and original["uncommitted"]["applicable"]
    assert [f["path"] for f in original["uncommitted"]["untracked"]] == ["extra.txt"]
    before = snapshot(project)
    done = reproduce(sh, original["run_id"], "--keep")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    kept = Path(result["worktree"])
    try:
        assert result["verdict"] == "identical", result["differences"]
        new = sh.latest()
        assert new["tasks"][0]["params"]["n"] == 3 and new["tasks"][0]["scraps"]["extra"]["value"] == "not committed\n"
        assert new["uncommitted"]["patch"] == original["uncommitted"]["patch"]  # the same tree, hash for hash
        assert snapshot(project) == before
        assert (kept / "extra.txt").read_text() == "not committed\n"
        assert "n: 3" in (kept / "env.yaml").read_text() and (kept / "out" / "job.txt").is_file()
        assert str(kept) in git(project, "worktree", "list")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(kept)], cwd=project, capture_output=True)
        shutil.rmtree(kept.parent, ignore_errors=True)


def test_a_changed_input_whose_bytes_were_not_stored_is_refused_naming_it(tmp_path, shell_factory):
    project = make_project(tmp_path / "proj", store_inputs=False)
    sh = shell_factory(project)
    sh.env["JOB_SCALE"] = "2"
    original = build(sh)
    assert original["inputs"][0]["stored"] is False
    (project / "data" / "in.txt").write_text("changed\n")
    before = snapshot(project)
    done = reproduce(sh, original["run_id"])
    assert done.returncode == 2, done.stderr[-3000:]
    last = lines(done.stderr)
    assert len(last) == 1, done.stderr  # refused before anything was built: one line
    assert last[0].startswith("nbprod: error: input in.txt (data/in.txt) changed since run ") and "not stored" in last[0]
    assert done.stdout == ""
    assert [r["run_id"] for r in sh.runs()] == [original["run_id"]]  # nothing recorded
    assert snapshot(project) == before
    assert len(lines(git(project, "worktree", "list"))) == 1


def test_the_recorded_parameters_win_over_a_default_committed_later_and_the_environment(sh, project):
    original = build(sh)  # n: 2 from env.yaml, scale: 2 from JOB_SCALE
    (project / "env.yaml").write_text((project / "env.yaml").read_text().replace("n: 2", "n: 5"))
    git(project, "commit", "-q", "-am", "a new default")
    before = snapshot(project)
    done = reproduce(sh, original["run_id"], JOB_SCALE="7")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["verdict"] == "identical"
    assert "task 'job', parameter 'scale' renders as 7 here, recorded 2: the recorded value is used" in done.stderr
    new = sh.latest()
    assert new["tasks"][0]["params"] == original["tasks"][0]["params"] == {"n": 2, "scale": 2, "source": "data/in.txt"}
    assert new["tasks"][0]["scraps"]["score"]["value"] == 8
    assert snapshot(project) == before


def test_a_commit_this_clone_lacks_is_one_line_saying_to_fetch_it(sh, project, tmp_path, shell_factory):
    original = build(sh)
    other = tmp_path / "other"  # the same files, another history
    shutil.copytree(project, other, ignore=shutil.ignore_patterns(".git", "out", ".nbprod"))
    (other / "README").write_text("another clone\n")
    git_init(other)
    done = shell_factory(other)("nbprod", "reproduce", original["run_id"], check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    commit = original["git"]["commit"]
    assert lines(done.stderr) == [
        f"nbprod: error: commit {commit[:12]} of run {original['run_id']} is not in this clone ({other}): fetch it "
        f"(`git fetch origin {commit}`, or the branch that has it), then run nbprod reproduce again"]
