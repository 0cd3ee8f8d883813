"""``nbprod pull``: a run's products and executed notebooks, downloaded and verified.

Products land under the destination at the path the record gives them
(``outputs/model/model.joblib`` -> ``DIR/outputs/model/model.joblib``), so a
pulled run looks like the project folder that produced it; the executed
notebooks and the record go to ``DIR/run/``. Every file is hashed before it
is renamed into place (:meth:`Store.get_file`), so a file in ``DIR`` is
either absent or exactly what the run produced. A path recorded outside the
project (absolute, or climbing with ``..``) never leaves ``DIR``: it goes to
``DIR/_external/<task>/<file name>``.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from .exceptions import IntegrityError
from .records import sha256_bytes
from .store import Store, safe_part

RUN_DIR = "run"


def local_path(recorded: str, task: str) -> Path:
    """Where a product recorded at ``recorded`` goes, relative to the destination."""
    posix = PurePosixPath(str(recorded).replace("\\", "/"))
    parts = [p for p in posix.parts if p not in ("", ".")]
    outside = posix.is_absolute() or ".." in parts or not parts
    if outside:
        return Path("_external", safe_part(task), safe_part(posix.name or "product"))
    return Path(*(_segment(p) for p in parts))


def _segment(part: str) -> str:
    return safe_part(part) if any(ord(c) < 32 or c == "\x7f" for c in part) else part


def pull(store: Store, run_id: str, dest: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
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
        target = run_dir / "notebooks" / f"{safe_part(nb['task'])}.ipynb"
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
        _write_atomic(target, data)
        files += 1
        size += len(data)
    record_json = json.dumps(record.to_dict(), indent=1, sort_keys=True, default=str)
    _write_atomic(run_dir / "record.json", record_json.encode())
    return {"run_id": record.run_id, "files": files, "downloaded": downloaded, "bytes": size, "dest": str(dest)}


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
