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
