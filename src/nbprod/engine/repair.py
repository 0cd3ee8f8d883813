"""Repairing what ploomber leaves behind after a task fails.

ploomber 0.23 keeps a failed task's previous success metadata, so the next
build can skip it as up to date while its products are the failed run's.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .tasks import _product_paths


def reset_failed(dag, names: list[str]) -> list[tuple[Path, Path]]:
    """Make ploomber re-run these tasks next time, and hide their products.

    ploomber 0.23 keeps a failed task's previous success metadata, so the next
    build can skip it as up to date while its products are the failed run's.
    Deleting the metadata forces the re-run; renaming each product file to
    ``<stem>.failed<suffix>`` means nothing of a failed task is left looking
    complete under its final name (the partial notebook stays readable).
    Returns the (old, new) renames.
    """
    moved = []
    for name in names:
        task = dag[name]
        with contextlib.suppress(Exception):
            task.product.metadata.delete()
        for path in _product_paths(task.product).values():
            candidates = [Path(path)]
            if Path(path).suffix != ".ipynb":
                candidates.append(Path(path).with_suffix(".ipynb"))  # partial of an HTML nb
            for p in candidates:
                if p.exists():
                    target = failed_name(p)
                    if target.is_dir():
                        import shutil

                        shutil.rmtree(target)
                    os.replace(p, target)
                    moved.append((p, target))
    return moved


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
