"""Upstream products of a task, from the pipeline: what ``nbprod.upstream("train")`` answers.

In JupyterLab ploomber injects nothing, so a notebook run by hand needs the
paths its pipeline would pass it. They come from pipeline.yaml itself (loaded
by ploomber, so templates, ``{{here}}`` and product folders mean what they mean
in a build), found upward from the working directory (a notebook's kernel
starts in ``notebooks/``), absolute. Every missing upstream product is named at
once, with the one command that builds them all.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import PipelineError


class MissingUpstreamError(PipelineError):
    """Upstream products are missing (fields: ``task``, ``missing``: {task: [paths]})."""


def find_spec(start: str | os.PathLike | None = None, name: str = "pipeline.yaml") -> Path:
    """``pipeline.yaml`` in ``start`` (default: the working directory) or the nearest parent."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / name).is_file():
            return folder / name
    raise PipelineError(f"no {name} in {here} or any folder above it",
                        hint="start Jupyter inside the project, or pass entry_point=")


def upstream_of(task: str, *, entry_point: str | os.PathLike | None = None,
                start: str | os.PathLike | None = None, check: bool = True) -> dict[str, dict[str, str] | str]:
    """As ploomber injects it: ``{upstream task: {product key: absolute path}}`` for a task
    with several products, ``{upstream task: absolute path}`` for a task with one."""
    from .dag import explain, quiet_ploomber
    from .tasks import _product_paths

    quiet_ploomber()
    spec_path = Path(entry_point) if entry_point else find_spec(start)
    try:
        from ploomber.spec import DAGSpec

        dag = DAGSpec(str(spec_path)).to_dag()
    except Exception as err:
        raise PipelineError(f"{spec_path}: {explain(err)}", hint="fix pipeline.yaml") from err
    if task not in dag:
        raise PipelineError(f"{spec_path} has no task {task!r}", hint=f"tasks: {', '.join(sorted(dag))}")
    root = spec_path.resolve().parent
    found: dict[str, dict[str, str]] = {}
    executed: dict[str, set[str]] = {}  # the executed-notebook product: not an input of anyone
    for name in dag[task].upstream:
        paths = _product_paths(dag[name].product)
        found[name] = {key: str(Path(p) if Path(p).is_absolute() else root / p) for key, p in paths.items()}
        nb_key = getattr(dag[name], "nb_product_key", None)
        executed[name] = set(nb_key if isinstance(nb_key, list) else [nb_key]) if len(paths) > 1 else set()
    shaped = {name: (products if hasattr(dag[name].product, "products") else next(iter(products.values())))
              for name, products in found.items()}
    if check:
        missing = {name: [p for key, p in products.items() if key not in executed[name] and not Path(p).exists()]
                   for name, products in found.items()}
        missing = {name: paths for name, paths in missing.items() if paths}
        if missing:
            shown = "; ".join(f"task '{name}': {', '.join(_display(p, root) for p in paths)}"
                              for name, paths in missing.items())
            raise MissingUpstreamError(
                f"upstream products of '{task}' not found ({shown})",
                hint=f"run them first: ploomber build --partially {task}",
                task=task, missing=missing,
            )
    return shaped


def _display(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path
