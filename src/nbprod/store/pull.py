"""``nbprod pull``: a run's products and executed notebooks, downloaded and verified.

Products land under the destination at the path the record gives them
(``outputs/model/model.joblib`` -> ``DIR/outputs/model/model.joblib``), so a
pulled run looks like the project folder that produced it; the executed
notebooks and the record go to ``DIR/run/``. Every file is hashed before it
is renamed into place (:meth:`Store.get_file`), so a file in ``DIR`` is
either absent or exactly what the run produced. A path recorded outside the
project (absolute, or climbing with ``..``) never leaves ``DIR``: it goes to
``DIR/_external/<task>/<file name>``.

Every file name written stays readable and within the file-name limit (255
bytes: a task named with 300 'é' once crashed ``pull`` with ENAMETOOLONG):
a task's name is used as it is (only ``/``, ``\\`` and control characters
percent-encoded), and a name too long keeps its start, a short hash of the
whole name and its extension (:func:`nbprod.files.fit_name`).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from dataclasses import dataclass
from typing import Callable

from ..errors import IntegrityError
from ..files import atomic_write, fit_name, sha256_bytes
from .core import Store

RUN_DIR = "run"


def local_path(recorded: str, task: str) -> Path:
    """Where a product recorded at ``recorded`` goes, relative to the destination."""
    posix = PurePosixPath(str(recorded).replace("\\", "/"))
    parts = [p for p in posix.parts if p not in ("", ".")]
    outside = posix.is_absolute() or ".." in parts or not parts
    if outside:
        return Path("_external", file_name(task), file_name(posix.name or "product"))
    return Path(*(file_name(p) for p in parts))


def file_name(name: str, suffix: str = "") -> str:
    """A local file name for ``name`` (+ ``suffix``): readable (only ``/``, ``\\`` and
    control characters percent-encoded; a name of only dots too), at most 255 bytes,
    the extension kept when the name is cut."""
    name = "".join(f"%{ord(c):02X}" if c in "/\\" or ord(c) < 32 or c == "\x7f" else c for c in str(name))
    if not name or set(name) == {"."}:
        name = name.replace(".", "%2E") or "%00"
    stem, dot, ext = name.rpartition(".")
    if not suffix and dot and stem and len(ext) <= 16:  # keep the extension whole
        return fit_name(stem, suffix=f".{ext}")
    return fit_name(name, suffix=suffix)


@dataclass(frozen=True)
class Pulled:
    """A pulled run: files written, how many were downloaded (the rest were there already)."""

    run_id: str
    files: int
    downloaded: int
    bytes: int
    dest: str


def pull(store: Store, run_id: str, dest: Path, log: Callable[[str], None] = print) -> Pulled:
    """Download run ``run_id`` into ``dest``; returns counts and bytes."""
    record = store.read_record(run_id)
    dest = Path(dest)
    wanted = []
    for task in record.tasks:
        for product in task.products:
            if product.get("sha256"):
                path = local_path(product.get("path") or product.get("name") or "product", task.name)
                wanted.append((product["sha256"], dest / path, product.get("partial", False)))
    files = downloaded = size = 0
    for number, (sha256, target, partial) in enumerate(wanted, 1):
        got = store.get_file(sha256, target)
        files += 1
        downloaded += got["downloaded"]
        size += got["size"]
        note = " (partial: its task failed)" if partial else ""
        log(f"nbprod: pull {number}/{len(wanted)}: {target}{note}")
    run_dir = dest / RUN_DIR
    for nb in record.notebooks():
        target = run_dir / "notebooks" / file_name(nb["task"], ".ipynb")
        data = store.read_key(nb["key"])
        if nb.get("sha256"):
            actual = sha256_bytes(data)
            if actual != nb["sha256"]:
                raise IntegrityError(
                    f"executed notebook {nb['key']} in store {store.url} does not match its record "
                    f"(sha256 {actual[:12]}..., expected {nb['sha256'][:12]}...)",
                    hint="run `nbprod store verify` for the full list",
                    key=nb["key"],
                    expected=nb["sha256"],
                    actual=actual,
                    url=store.url,
                )
        atomic_write(target, data)
        files += 1
        size += len(data)
    record_json = json.dumps(record.to_dict(), indent=1, sort_keys=True, default=str)
    atomic_write(run_dir / "record.json", record_json.encode())
    return Pulled(run_id=record.run_id, files=files, downloaded=downloaded, bytes=size, dest=str(dest))


def pull_run(store: Store, ref: str = "latest", dest: str | Path | None = None,
             log: Callable[[str], None] = print) -> Pulled:
    """``nbprod pull``: the run ``ref`` names (an id, a prefix, ``latest``, ``latest~N``)
    into ``dest`` (default ``outputs/pulled/<run id>``)."""
    run_id = store.resolve(ref)
    return pull(store, run_id, Path(dest) if dest else Path("outputs") / "pulled" / run_id, log=log)
