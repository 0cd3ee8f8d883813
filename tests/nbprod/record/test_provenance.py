"""nbprod.record.provenance: kernels and task sources, against real kernelspecs and interpreters.

The kernels here are real kernelspec folders found by jupyter_client through
JUPYTER_PATH, and the interpreters asked are real processes: this Python with a
PYTHONPATH from the kernelspec's ``env`` (an environment with other packages), or
this Python reached through a symlink in a folder with no ``pyvenv.cfg``, which
is the base installation, another environment entirely. No kernel is started:
tests/e2e/test_provenance.py runs notebooks in another environment's kernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from nbprod.record import provenance


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def kernels(tmp_path, monkeypatch):
    """Install a kernelspec into a JUPYTER_PATH of the test's own: ``install(name, argv0, env)``."""
    root = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_PATH", str(root))

    def install(name: str, argv0: str, env: dict[str, str] | None = None) -> Path:
        folder = root / "kernels" / name
        folder.mkdir(parents=True)
        spec = {"argv": [argv0, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"Kernel {name}", "language": "python", "env": env or {}}
        (folder / "kernel.json").write_text(json.dumps(spec))
        return folder

    return install


def fake_distribution(site: Path, name: str, version: str) -> None:
    """An installed distribution as importlib.metadata finds one: a .dist-info folder."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


BUILDER = provenance.package_versions()


# -- kernels -------------------------------------------------------------------------------


def test_a_kernel_with_other_packages_records_only_the_differences(kernels, tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "kernel-only-pkg", "1.0")
    fake_distribution(site, "tabulate", "0.0.1")  # shadows nbprod's own tabulate in that kernel
    kernels("otherpkgs", sys.executable, env={"PYTHONPATH": str(site)})
    info = provenance.kernel_info("otherpkgs", {}, BUILDER)
    assert info["name"] == "otherpkgs" and info["display_name"] == "Kernel otherpkgs"
    assert info["executable"] == os.path.abspath(sys.executable)
    assert info["python"] == f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    assert info["packages"] == {"kernel-only-pkg": "1.0", "tabulate": "0.0.1"}
    assert info["same_env"] is False and "error" not in info


@pytest.mark.parametrize("argv0", ["python", f"python{sys.version_info.major}",
                                   f"python{sys.version_info.major}.{sys.version_info.minor}"])
def test_the_builders_own_kernel_is_the_same_environment_and_asks_nothing(kernels, argv0, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # not found on PATH: jupyter_client's rule, not `which`
    kernels("mine", argv0)  # jupyter_client starts `python`, `python3`, `python3.X` as this very interpreter
    cache: dict = {}
    info = provenance.kernel_info("mine", cache, BUILDER)
    assert info["executable"] == os.path.abspath(sys.executable)
    assert info["packages"] == {} and info["same_env"] is True
    assert cache[f"exe:{info['executable']}"].get("builder") is True  # no subprocess asked
    assert provenance.kernel_warning({"train": info}) is None


def test_another_interpreter_is_asked_once_per_build(kernels, tmp_path):
    other = tmp_path / "base" / "bin" / "python"  # no pyvenv.cfg beside it: the base installation
    other.parent.mkdir(parents=True)
    other.symlink_to(os.path.realpath(sys.executable))
    kernels("base-a", str(other))
    kernels("base-b", str(other))
    cache: dict = {}
    first = provenance.kernel_info("base-a", cache, BUILDER)
    assert first["executable"] == str(other) and first["same_env"] is False
    assert first["python"] == f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    assert first["packages"].get("nbprod", "missing") is None  # nbprod is not installed there
    other.unlink()  # asked already: a second kernel on that interpreter is answered from the cache
    second = provenance.kernel_info("base-b", cache, BUILDER)
    assert second["packages"] == first["packages"] and second["python"] == first["python"]
    assert [key for key in cache if key.startswith("exe:")] == [f"exe:{other}"]


def test_an_unknown_kernel_or_a_broken_interpreter_is_said_not_fatal(kernels, tmp_path):
    missing = provenance.kernel_info("no-such-kernel", {}, BUILDER)
    assert "not found" in missing["error"] and missing["same_env"] is False
    kernels("broken", str(tmp_path / "nothing" / "python"))
    broken = provenance.kernel_info("broken", {}, BUILDER)
    assert "could not be asked" in broken["error"] and "python" not in broken


def test_the_warning_is_one_line_naming_each_kernel_and_its_tasks():
    other = {"name": "venv2", "executable": "/opt/venv2/bin/python", "python": "3.12.1",
             "packages": {"numpy": "2.0.0"}, "same_env": False}
    mine = {"name": "python3", "executable": sys.executable, "python": "3.11.9", "packages": {}, "same_env": True}
    line = provenance.kernel_warning({"ingest": other, "train": other, "report": mine})
    assert line.startswith("nbprod: warning: notebooks ran in another environment than nbprod's")
    assert "\n" not in line
    assert "kernel 'venv2' (/opt/venv2/bin/python, Python 3.12.1), 1 package(s) differ for task(s) ingest, train" in line
    assert "python3" not in line.split("):", 1)[1]


def test_kernel_name_comes_from_the_notebook_metadata():
    nb = nbformat.v4.new_notebook()
    assert provenance.kernel_name(nb) is None
    nb.metadata["kernelspec"] = {"name": "venv2", "display_name": "x", "language": "python"}
    assert provenance.kernel_name(nb) == "venv2"


# -- task sources ------------------------------------------------------------------------------


def notebook(path: Path, *code: str, outputs=(), markdown="# notes", injected: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    for i, source in enumerate(code):
        cell = nbformat.v4.new_code_cell(source, execution_count=i + 1)
        cell.outputs = list(outputs)
        nb.cells.append(cell)
    if injected is not None:
        cell = nbformat.v4.new_code_cell(injected)
        cell.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(2, cell)
    nbformat.write(nb, str(path))
    return path


def test_a_notebooks_source_hash_is_its_code_cells_only(tmp_path):
    digest = lambda p: provenance.source_digest("notebook", str(p), tmp_path)
    base, text = digest(notebook(tmp_path / "a.ipynb", "x = 1", "print(x)"))
    assert text is None and base == sha(json.dumps(["x = 1", "print(x)"]).encode())
    printed = nbformat.v4.new_output("stream", name="stdout", text="1\n")
    assert digest(notebook(tmp_path / "b.ipynb", "x = 1", "print(x)", outputs=[printed], markdown="# other",
                           injected="x = 2"))[0] == base  # outputs, prose, ploomber's injected cell
    assert digest(notebook(tmp_path / "c.ipynb", "x = 2", "print(x)"))[0] != base
    assert provenance.source_digest("notebook", "relative.ipynb", tmp_path) == (None, None)  # not there


def test_a_script_or_percent_notebook_hashes_its_bytes(tmp_path):
    script = tmp_path / "features.py"
    script.write_bytes(b"# %%\nx = 1\n")
    assert provenance.source_digest("notebook", "features.py", tmp_path) == (sha(b"# %%\nx = 1\n"), None)
    assert provenance.source_digest("script", str(script), tmp_path)[0] == sha(b"# %%\nx = 1\n")


def test_a_functions_source_is_its_definition_with_decorators(tmp_path):
    module = tmp_path / "tasks.py"
    module.write_text("import functools\n\n@functools.cache\ndef get(product, n):\n    return n\n\n"
                      "def other():\n    pass\n")
    definition = "@functools.cache\ndef get(product, n):\n    return n\n"
    for line in (3, 4):  # the decorator's line or the def's
        assert provenance.source_digest("function", f"{module}:{line}", tmp_path) == (sha(definition.encode()), definition)
    module.write_text(module.read_text().replace("pass", "return 1"))  # another function changed
    assert provenance.source_digest("function", f"{module}:4", tmp_path)[0] == sha(definition.encode())
    module.write_text(module.read_text().replace("return n", "return n + 1"))
    assert provenance.source_digest("function", f"{module}:4", tmp_path)[0] != sha(definition.encode())
    assert provenance.source_digest("function", f"{module}:2", tmp_path) == (None, None)  # no definition there
    assert provenance.source_digest("function", "tasks.py", tmp_path) == (None, None)  # no line
