"""Where the pipeline is: the project root that products, git and nbprod.yaml are relative to."""

from __future__ import annotations

from pathlib import Path


def project_root(entry_point: str | None = None) -> Path:
    """The folder of the pipeline's spec, where products and git are relative to."""
    if entry_point and Path(entry_point).is_file():
        return Path(entry_point).resolve().parent
    try:
        from ploomber.util import default

        return Path(default.entry_point()).resolve().parent
    except Exception:
        return Path.cwd()


