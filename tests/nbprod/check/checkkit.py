"""Helpers for the ``nbprod check`` tests: real notebooks (nbformat), real pipeline.yaml files,
and the real ``nbprod check`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

BIN = Path(sys.executable).parent


def cell(source: str, *, tags: tuple[str, ...] = (), id: str | None = None, kind: str = "code",
         outputs: list | None = None, count: int | None = None, **metadata) -> nbformat.NotebookNode:
    """One cell; ``id`` defaults to a readable one derived from nothing random."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}[kind]
    new = make(source)
    if tags:
        new.metadata["tags"] = list(tags)
    new.metadata.update(metadata)
    if id is not None:
        new["id"] = id
    if kind == "code":
        new["outputs"] = [nbformat.from_dict(o) for o in outputs or []]
        new["execution_count"] = count
    return new


def params_cell(source: str, **kw) -> nbformat.NotebookNode:
    return cell(source, tags=("parameters",), id=kw.pop("id", "parameters"), **kw)


def notebook(path: Path, *cells, kernel: str = "python3", **metadata) -> Path:
    """A notebook of ``cells`` (strings are code cells with ids c0, c1, ...), written with nbformat."""
    nb = nbformat.v4.new_notebook()
    for number, item in enumerate(cells):
        nb.cells.append(cell(item, id=f"c{number}") if isinstance(item, str) else item)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.metadata.update(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def pipeline(folder: Path, tasks: list[dict], env: dict | None = None, **top) -> Path:
    """``pipeline.yaml`` (and ``env.yaml`` when ``env``) in ``folder``; products and upstream
    declared in the spec, as the reference project does."""
    spec = {"meta": {"extract_upstream": False, "extract_product": False}, **top, "tasks": tasks}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if env is not None:
        (folder / "env.yaml").write_text(yaml.safe_dump(env, sort_keys=False))
    return folder / "pipeline.yaml"


def task(name: str, *, upstream: list[str] | None = None, params: dict | None = None, **extra) -> dict:
    """A notebook task ``notebooks/<name>.ipynb`` with its executed notebook as product."""
    found = {"source": f"notebooks/{name}.ipynb", "name": name,
             "product": {"nb": f"outputs/{name}.ipynb"}, **extra}
    if upstream:
        found["upstream"] = upstream
    if params:
        found["params"] = params
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a check: nothing of the caller's NBPROD_/PLOOMBER_/secret variables."""
    from nbprod.redact import is_secret_name

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NBPROD_", "PLOOMBER_", "ENTRY_POINT")) and not is_secret_name(k)}
    env.update(PLOOMBER_STATS_ENABLED="false", PLOOMBER_VERSION_CHECK_DISABLED="true",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    env.update(extra)
    return env


def nbprod_check(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``nbprod check ARGS`` run in ``cwd``, as a user types it."""
    return subprocess.run(["nbprod", "check", *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=180)
