"""Locate files relative to the project root, wherever the code runs from.

The same notebook runs in three places: JupyterLab (cwd is ``notebooks/``),
papermill launched from the repository root, and ploomber (which injects
absolute paths). Anchoring relative paths at the directory holding
``pipeline.yaml`` lets the notebooks keep one set of defaults for all three.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The file that marks the project root.
MARKER = "pipeline.yaml"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """Return the nearest directory at or above ``start`` (default: cwd)
    that holds ``pipeline.yaml``.

    Raises FileNotFoundError when no such directory exists, because silently
    falling back to the cwd would scatter outputs in the wrong place.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / MARKER).is_file():
            return candidate
    raise FileNotFoundError(
        f"no {MARKER} found in {here} or any parent directory: "
        "run from inside the project"
    )


def resolve(path: str | os.PathLike) -> Path:
    """Return ``path`` as an absolute Path.

    Absolute paths (what ploomber passes) come back unchanged; relative paths
    (the notebook defaults) are taken relative to :func:`project_root`, not
    the cwd, so they mean the same thing from any working directory.
    """
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return project_root() / p


def _display(path: str | os.PathLike) -> str:
    """Show ``path`` relative to the project root when it lies inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(project_root()))
    except (ValueError, FileNotFoundError):
        return str(path)


def require_upstream(path: str | os.PathLike, task: str) -> Path:
    """Return the resolved upstream product ``path`` or fail with a one-line
    hint naming the task that produces it.

    Running a downstream notebook by hand before its inputs exist is the most
    common mistake; a FileNotFoundError that says which task to build is more
    useful than a pandas/joblib traceback.
    """
    resolved = resolve(path)
    if not resolved.exists():
        raise FileNotFoundError(
            f"upstream product {_display(resolved)} not found: run the "
            f"{task!r} task first (ploomber build --partially {task})"
        )
    return resolved
