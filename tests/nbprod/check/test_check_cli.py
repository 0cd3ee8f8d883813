"""``nbprod check`` as a user runs it: one line per problem on stdout, a summary line on stderr,
exit 0 clean (warnings too), 4 a check failed (warnings with --strict), 2 bad usage; --json;
folders; the reference project."""

from __future__ import annotations

import json

import nbformat
import pytest
from checkkit import cell, nbprod_check, notebook, params_cell, pipeline, task

BROKEN = "train.ipynb: cell 1 (id fit): error: line 1: undefined name 'modle'"


def train(folder, code: str = "fitted = seed + 1", seed: str = "seed = 1  # the seed") -> None:
    notebook(folder / "notebooks/train.ipynb", params_cell(f"upstream = None\nproduct = None\n{seed}"),
             cell(code, id="fit"))


@pytest.fixture
def project(tmp_path):
    train(tmp_path)
    pipeline(tmp_path, [task("train", params={"seed": "{{seed}}"})], env={"seed": 7})
    return tmp_path


def test_a_clean_project_exits_0_with_one_summary_line(project):
    done = nbprod_check(project)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.splitlines() == ["nbprod: check passed: no problems in 3 files"]


def test_an_error_is_one_line_on_stdout_and_exits_4(project):
    train(project, "fitted = modle + seed")
    done = nbprod_check(project)
    assert done.returncode == 4
    assert done.stdout.splitlines() == [f"notebooks/{BROKEN}"]
    assert done.stderr.splitlines() == ["nbprod: error: check failed: 1 error in 3 files"]


def test_warnings_alone_pass_unless_strict(project):
    train(project, seed="seed = 1")
    done = nbprod_check(project)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "notebooks/train.ipynb: cell 0 (id parameters): warning: line 3: parameter `seed` has no help text: add a "
        "comment on its line (`seed = ...  # what it is`), which `papermill --help-notebook` shows"]
    assert done.stderr.splitlines() == ["nbprod: check passed: 1 warning in 3 files"]
    strict = nbprod_check(project, "--strict")
    assert strict.returncode == 4 and strict.stdout == done.stdout
    assert strict.stderr.splitlines() == ["nbprod: error: check failed: 1 warning in 3 files: warnings fail with --strict"]


def test_json_has_the_same_problems(project):
    train(project, "fitted = modle + seed")
    done = nbprod_check(project, "--json")
    assert done.returncode == 4
    data = json.loads(done.stdout)
    assert data["files"] == ["pipeline.yaml", "notebooks/train.ipynb", "env.yaml"]
    assert (data["errors"], data["warnings"], data["fixed"]) == (1, 0, [])
    assert data["problems"] == [{"path": "notebooks/train.ipynb", "severity": "error", "check": "pyflakes",
                                 "message": "undefined name 'modle'", "cell": 1, "cell_id": "fit", "line": 1}]


@pytest.mark.parametrize("args, message", [
    (["missing.ipynb"], "nbprod: error: missing.ipynb: no such file or folder: name notebooks, scripts, "
                        "YAML files or folders"),
    (["README.md"], "nbprod: error: README.md: not a file nbprod check reads: it checks notebooks (.ipynb), "
                    "scripts (.py) and YAML files"),
    (["--entry-point", "nope.yaml"], "nbprod: error: --entry-point nope.yaml: no such file: pass the pipeline's "
                                     "spec, e.g. pipeline.yaml"),
    (["--colour"], "nbprod: error: No such option '--colour': see `nbprod check --help`"),
])
def test_bad_usage_exits_2_with_one_line(project, args, message):
    (project / "README.md").write_text("# hi\n")
    done = nbprod_check(project, *args)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [message]


def test_no_pipeline_and_no_paths_is_bad_usage(tmp_path):
    done = nbprod_check(tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"nbprod: error: no pipeline.yaml in {tmp_path} or a folder above it: ")


def test_paths_and_folders_skip_products_hidden_folders_and_checkpoints(project):
    executed = cell("fitted = modle", id="fit", outputs=[], count=3)
    notebook(project / "outputs/train.ipynb", executed)  # the task's product: an executed notebook
    notebook(project / "notebooks/.ipynb_checkpoints/train-checkpoint.ipynb", executed)
    notebook(project / "notebooks/draft.ipynb", cell("print(undefined)", id="draft"))
    done = nbprod_check(project, ".")
    assert done.stdout.splitlines() == ["notebooks/draft.ipynb: cell 0 (id draft): error: line 1: undefined name "
                                        "'undefined'"]
    assert done.stderr.splitlines() == ["nbprod: error: check failed: 1 error in 4 files"]
    one = nbprod_check(project / "notebooks", "train.ipynb")  # run from a subfolder: the pipeline is found
    assert (one.returncode, one.stdout) == (0, "")


def test_the_reference_project_passes_with_no_problem(reference_project):
    """The repository's own notebooks/, pipeline.yaml, env files and nbprod.yaml, as the
    reference_project fixture copies them."""
    done = nbprod_check(reference_project, "--strict")
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr
    checked = json.loads(nbprod_check(reference_project, "--json").stdout)["files"]
    envs = sorted(p.name for p in reference_project.glob("env*.yaml"))
    assert checked == ["pipeline.yaml", *(f"notebooks/{n}.ipynb" for n in ("ingest", "validate", "train", "evaluate")),
                       *envs, "nbprod.yaml"]
    assert done.stderr.splitlines() == [f"nbprod: check passed: no problems in {len(checked)} files"]


def test_the_reference_project_once_run_by_hand_is_stripped_by_fix(reference_project):
    """A notebook executed in place (JupyterLab's Run All, papermill over its own file) and
    committed: outputs and counts are errors, and --fix removes them, ids kept."""
    path = reference_project / "notebooks/train.ipynb"
    nb = nbformat.read(path, as_version=4)
    ids = [c.id for c in nb.cells]
    for number, code in enumerate(c for c in nb.cells if c.cell_type == "code"):
        code.execution_count = number + 1
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    nbformat.write(nb, path)
    assert nbprod_check(reference_project).returncode == 4
    fixed = nbprod_check(reference_project, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert [c.id for c in nbformat.read(path, as_version=4).cells] == ids
