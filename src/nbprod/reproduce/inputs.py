"""The original run's input files, back where its build read them, by hash.

For each input the record names (``RunRecord.inputs``: a path and a sha256):

- under the project (a relative path): the worktree's file is used when it hashes as
  recorded (tracked, or re-created with the uncommitted changes); otherwise the stored
  bytes are written there (``stored: true``, verified by hash); otherwise the user's
  own copy at the same path is copied in when it still hashes as recorded (a git-ignored
  data file: read, never written); otherwise the reproduction is refused, naming the input;
- outside the project (an absolute path): used in place when it still hashes as
  recorded; when it changed and its bytes are stored, and a parameter names it, they are
  written into the temporary folder and that parameter is pointed there (returned as a
  path move for :func:`nbprod.engine.replay.replay`); otherwise refused, naming it: a file
  outside the project is never overwritten.

Inputs that are not local files (an ``s3://`` URL a notebook declared) are not checked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from ..errors import NotReproducibleError
from ..files import sha256_file


def restore_inputs(record, project: Path, user_project: Path, store, scratch: Path,
                   say: Callable[[str], None] = print) -> list[tuple[str, str]]:
    """Put every input of ``record`` in place for a build in ``project`` (the worktree's
    project folder); returns the (original path, restored copy) moves of outside inputs."""
    moved: list[tuple[str, str]] = []
    for item in record.inputs or []:
        path, sha = item.get("path"), item.get("sha256")
        if not isinstance(path, str) or not path or not sha or "://" in path:
            continue
        if os.path.isabs(path):
            moved += _outside(item, Path(path), store, scratch, record.run_id)
        else:
            _inside(item, project / path, user_project / path, store, record.run_id, say)
    return moved


def _hash(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def _inside(item: dict[str, Any], target: Path, user_copy: Path, store, run_id: str, say) -> None:
    sha = item["sha256"]
    if _hash(target) == sha:
        return
    if item.get("stored"):
        store.get_file(sha, target)
        say(f"nbprod: input {item.get('path')} restored from the store (sha256 {sha[:12]}...)")
        return
    if _hash(user_copy) == sha:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(user_copy, target)
        return
    raise _refusal(item, _hash(target) or _hash(user_copy), run_id)


def _outside(item: dict[str, Any], path: Path, store, scratch: Path, run_id: str) -> list[tuple[str, str]]:
    sha = item["sha256"]
    now = _hash(path)
    if now == sha:
        return []
    if item.get("stored") and str(item.get("declared_by", "")).startswith("param "):
        copy = scratch / "inputs" / sha[:16] / path.name
        store.get_file(sha, copy)
        return [(str(path), str(copy))]
    if item.get("stored"):
        raise NotReproducibleError(
            f"input {item.get('name')} ({path}) changed since run {run_id}; its recorded bytes are stored, "
            "but it lives outside the project and no parameter names it",
            hint=f"put it back there (`nbprod pull` does not; its sha256 is {sha}), then reproduce again",
            run_id=run_id, input=str(path))
    raise _refusal(item, now, run_id)


def _refusal(item: dict[str, Any], now: str | None, run_id: str) -> NotReproducibleError:
    why = item.get("why") or "recorded before nbprod kept inputs"
    state = f"its sha256 is {now[:12]}... now" if now else "it is missing now"
    return NotReproducibleError(
        f"input {item.get('name')} ({item.get('path')}) changed since run {run_id} ({state}, recorded "
        f"{item['sha256'][:12]}...) and its bytes were not stored ({why})",
        hint="restore that file, or set nbprod.yaml's `inputs: {store: true}` so future runs keep it",
        run_id=run_id, input=item.get("path"))
