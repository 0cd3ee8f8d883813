"""`nbprod build` on a pipeline that must not run: what the user reads, and that nothing was written.

Issue 11, sections 2 and 5, at the command line: the real ``nbprod`` entry
point (``nbprod.cli.main``) in this process, real ploomber loading real files;
nothing gets as far as a kernel. The kernel-running failures are in
tests/e2e/test_notebook_input.py.
"""

from __future__ import annotations

import os
import sys
import warnings

import nbformat
import pytest

from nbprod import cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def _contained(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith(("NBPROD_", "PLOOMBER_")) or n == "ENTRY_POINT"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("NBPROD_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    monkeypatch.setenv("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # run_build replaces it
    monkeypatch.chdir(tmp_path)


def notebook(path, *cells, tagged=(0,)):
    nb = nbformat.v4.new_notebook()
    for i, source in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        if i in tagged:
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def build(capsys, *args: str) -> tuple[int, list[str]]:
    """`nbprod build ARGS`: (exit code, stderr lines)."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["build", *args])
    err = capsys.readouterr().err
    return exited.value.code, [line for line in err.splitlines() if line.strip()]


def test_two_parameters_cells_and_parameters_without_a_cell_are_one_line_and_nothing_is_written(
        tmp_path, capsys, caplog):
    two = notebook(tmp_path / "two.ipynb", "product = None\nn = 1", "print(n)", "n = 100", "print(n)", tagged=(0, 2))
    plain = notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    before = {path: path.read_bytes() for path in (two, plain)}
    (tmp_path / "pipeline.yaml").write_text(
        "meta: {extract_upstream: false}\n"
        "tasks:\n"
        "  - {source: two.ipynb, product: out/two.ipynb, params: {n: 3}}\n"
        "  - {source: plain.ipynb, product: out/plain.ipynb, params: {x: 2}}\n"
    )

    code, lines = build(capsys)

    assert code == 2 and len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("nbprod: error: task 'two' (")
    assert "two.ipynb) has 2 cells tagged `parameters` (cells 0 and 2)" in line
    assert "task 'plain' (" in line and "got parameter(s) x but has no cell tagged `parameters`" in line
    assert {path: path.read_bytes() for path in before} == before  # ploomber added no cell
    # refused when loaded, before rendering: papermill's render warning (a second line in a terminal) never comes
    assert not [r for r in caplog.records if "does not contain a cell with tag" in r.getMessage()]
    assert not (tmp_path / "out").exists() and not (tmp_path / "store").exists()


def test_a_notebook_ploomber_needs_a_parameters_cell_in_is_refused_without_changing_it(tmp_path, capsys):
    plain = notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    before = plain.read_bytes()
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - {source: plain.ipynb, product: out/plain.ipynb}\n")

    code, lines = build(capsys)

    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"nbprod: error: {plain} has no cell tagged `parameters`")
    assert "upstream = None" in lines[0]
    assert plain.read_bytes() == before


def test_a_truncated_notebook_is_named_as_not_valid_notebook_json(tmp_path, capsys):
    path = notebook(tmp_path / "load.ipynb", "upstream = None\nproduct = None", "print(1)")
    path.write_bytes(path.read_bytes()[:300])
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - {source: load.ipynb, product: out/load.ipynb}\n")

    code, lines = build(capsys)

    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("nbprod: error: load.ipynb is not valid notebook JSON (")
    assert lines[0].endswith(": restore the file (from git or a backup) and run again")


def test_ploombers_example_is_indented_below_a_one_line_summary(tmp_path, capsys):
    notebook(tmp_path / "a.ipynb", "upstream = None\nproduct = None", "print(1)")
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - source: a.ipynb\n")

    code, lines = build(capsys)

    assert code == 2
    assert lines[0].startswith("nbprod: error: Error validating TaskSpec(")
    assert lines[0].endswith("Missing keys: 'product'. To fix it, add the missing key (example):")
    assert lines[1:3] == ["  - source: a.ipynb", "    product:"]
    assert all(line.startswith("      ") for line in lines[3:]) and lines[3:]


def test_an_unknown_env_parameter_is_one_line_naming_the_known_ones(tmp_path, capsys):
    notebook(tmp_path / "a.ipynb", "upstream = None\nproduct = None\nn = 1", "print(n)")
    (tmp_path / "pipeline.yaml").write_text(
        "tasks:\n  - {source: a.ipynb, product: out/a.ipynb, params: {n: '{{n}}'}}\n")
    (tmp_path / "env.yaml").write_text("n: 3\n")

    code, lines = build(capsys, "--env--m", "4")

    assert code == 2 and lines == [
        "nbprod: error: unknown parameter --env--m: the pipeline's parameters are --env--n: "
        "use one of those names, or add the parameter to env.yaml"]


def test_a_folder_without_pipeline_yaml_is_one_line_naming_the_file(tmp_path, capsys):
    code, lines = build(capsys)

    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"nbprod: error: no pipeline.yaml in {tmp_path} or a folder above it: ")
    assert "usage:" not in lines[0]
