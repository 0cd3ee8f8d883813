"""The architecture, enforced: import-linter's contracts (.importlinter), no import cycle,
modules of a readable size, thin forwarding modules users' pipeline.yaml files name."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "nbprod"
MAX_LINES = 400  # the "no module over ~400 lines"


def test_import_linter_contracts_are_kept():
    """Layers (cli -> api -> engine -> record | report -> compare -> store -> bottom) and the
    one-importer rules for ploomber, scrapbook, fsspec, nbconvert and click."""
    program = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(program), "--config", str(REPO / ".importlinter"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _graph():
    import grimp

    return grimp.build_graph("nbprod")


def test_no_import_cycle_anywhere_in_nbprod():
    graph = _graph()
    modules = sorted(graph.modules)
    state: dict[str, int] = {}
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for child in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(child) == 1:
                cycles.append(path[path.index(child):] + [child])
            elif child not in state:
                visit(child)
        path.pop()
        state[module] = 2

    for module in modules:
        if module not in state:
            visit(module)
    # a package importing its own submodule is not a cycle worth naming (nbprod.store -> .core)
    real = [c for c in cycles if not any(b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert real == [], " | ".join(" -> ".join(c) for c in real)


def test_no_module_is_too_long_to_read():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("dotted", ["nbprod.hooks.on_render", "nbprod.hooks.on_finish", "nbprod.hooks.on_failure",
                                    "nbprod.products.client"])
def test_names_pipeline_yaml_files_use_stay_importable(dotted):
    module, _, name = dotted.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_forwarding_modules_hold_no_logic():
    import ast

    for name in ("hooks.py", "products.py"):
        body = ast.parse((PACKAGE / name).read_text()).body
        kinds = [type(node).__name__ for node in body[1:]]  # after the docstring
        assert set(kinds) <= {"ImportFrom", "Assign"}, f"{name} should only forward: {kinds}"


def test_cli_modules_hold_no_logic():
    """A command parses, calls one function, renders: no loops over data, no store access."""
    for path in (PACKAGE / "cli").glob("*.py"):
        text = path.read_text()
        for banned in ("Store(", ".read_record(", ".summaries(", "import fsspec", "import ploomber"):
            assert banned not in text, f"{path.name} does {banned!r}: move it below the CLI"


def test_import_nbprod_is_instant_and_does_no_work():
    code = ("import sys, nbprod\n"
            "heavy = [m for m in ('ploomber', 'papermill', 'scrapbook', 'fsspec', 'pandas', 'nbformat', 'click') "
            "if m in sys.modules]\n"
            "print('HEAVY', heavy, sorted(m for m in sys.modules if m.startswith('nbprod')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY [] ['nbprod']" in done.stdout
