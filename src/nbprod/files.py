"""Local files written whole, and content hashes: the one place that does either.

Why one helper: a reader (a second build, a report server, ``nbprod pull``)
must never see half a file, and two writers must never share a temporary
name. Every local write in nbprod goes through :func:`replace_atomically`:
the content is written under a unique temporary name beside the target, then
renamed over it (``os.replace`` is atomic on one filesystem); on any error the
temporary is removed and the target is left as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable


def temp_beside(path: Path, tag: str = "tmp") -> Path:
    """A unique temporary name in ``path``'s folder (hidden, never reused)."""
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex}")


def replace_atomically(dest: str | os.PathLike, write: Callable[[Path], None], *, mode: int | None = None) -> Path:
    """Build ``dest`` through ``write(tmp)`` (a file or a folder), then rename it into place.

    ``mode``: permission bits for the new file (e.g. the mode of the file it replaces).
    A folder replaces a folder (the old one is removed after the new one is complete).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(dest)
    try:
        write(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif tmp.is_dir() and (dest.exists() or dest.is_symlink()):
            dest.unlink()
        os.replace(tmp, dest)
    except BaseException:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    return dest


def atomic_write(dest: str | os.PathLike, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``dest`` whole, or not at all."""
    return replace_atomically(dest, lambda tmp: tmp.write_bytes(data), mode=mode)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
