"""Repairing what ploomber leaves behind after a task fails.

ploomber 0.23 keeps a failed task's previous success metadata, so the next
build can skip it as up to date while its products are the failed run's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Callable

from .tasks import _product_paths


def reset_failed(dag, names: list[str], written: Callable[[str, Path], bool] | None = None
                 ) -> list[tuple[Path, Path]]:
    """Make ploomber re-run these tasks next time, and hide what their failed run wrote.

    ploomber 0.23 keeps a failed task's previous success metadata, so the next
    build can skip it as up to date while its products are the failed run's.
    Deleting the metadata forces the re-run; renaming each product file the
    failed run wrote (``written(task, path)``; default: every one) to
    ``<stem>.failed<suffix>`` means nothing of a failed task is left looking
    complete under its final name (the partial notebook stays readable). A
    product the failed run did not touch is the last good one and stays where
    it is. Returns the (old, new) renames.
    """
    moved = []
    for name in names:
        task = dag[name]
        with contextlib.suppress(Exception):
            task.product.metadata.delete()
        for p in _candidates(task):
            if p.exists() and (written is None or written(name, p)):
                target = failed_name(p)
                if target.is_dir():
                    shutil.rmtree(target)
                os.replace(p, target)
                moved.append((p, target))
    return moved


def clear_failed(dag, names: list[str]) -> list[Path]:
    """Remove the ``*.failed.*`` files a task left when it failed earlier (it succeeded now)."""
    removed = []
    for name in names:
        for p in _candidates(dag[name]):
            target = failed_name(p)
            with contextlib.suppress(FileNotFoundError):
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
                removed.append(target)
    return removed


def _candidates(task) -> list[Path]:
    found = []
    for path in _product_paths(task.product).values():
        found.append(Path(path))
        if Path(path).suffix != ".ipynb":
            found.append(Path(path).with_suffix(".ipynb"))  # partial of an HTML nb
    return found


def failed_name(path: Path) -> Path:
    suffix = "".join(path.suffixes)
    stem = path.name[: -len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.failed{suffix}")




def metadata_of(product: Path) -> Path:
    """ploomber's metadata file of a File product (ploomber/products/file.py)."""
    return product.with_name(f".{product.name}.metadata")


def product_of(path: Path) -> Path | None:
    """The product a ploomber metadata file belongs to, None for any other file."""
    name = path.name
    if name.startswith(".") and name.endswith(".metadata") and len(name) > len("..metadata"):
        return path.with_name(name[1 : -len(".metadata")])
    return None
