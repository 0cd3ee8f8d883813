"""Local files written whole, and content hashes: the one place that does either.

Why one helper: a reader (a second build, a report server, ``nbprod pull``)
must never see half a file, and two writers must never share a temporary
name. Every local write in nbprod goes through :func:`replace_atomically`:
the content is written under a unique temporary name beside the target, then
renamed over it (``os.replace`` is atomic on one filesystem); on any error the
temporary is removed and the target is left as it was.

File names stay within what every common filesystem takes (:data:`NAME_MAX`,
255 bytes of UTF-8 on ext4, XFS, btrfs): :func:`fit_name` cuts a longer name
(a task called with 300 'é') to a recognizable start, a short hash of the
whole name and the kept suffix, so two long names never collide and the
temporary name beside a long file is short enough too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable


NAME_MAX = 255  # bytes in one file name (ext4, XFS, btrfs; the common floor)


def fit_name(name: str, *, suffix: str = "", limit: int = NAME_MAX) -> str:
    """``name + suffix`` when it fits in ``limit`` UTF-8 bytes; else the start of
    ``name`` (cut on a character boundary, never inside a ``%XX`` escape), ``~``,
    10 hex digits of the sha256 of the whole name, then ``suffix``."""
    whole = name + suffix
    if len(whole.encode()) <= limit:
        return whole
    tag = "~" + hashlib.sha256(whole.encode()).hexdigest()[:10]
    room = max(0, limit - len(tag.encode()) - len(suffix.encode()))
    start = name.encode()[:room].decode("utf-8", "ignore")
    escape = start.rfind("%", max(0, len(start) - 2))
    if escape >= 0:  # a percent-encoded name: keep its escapes whole
        start = start[:escape]
    return start + tag + suffix


def temp_beside(path: Path, tag: str = "tmp") -> Path:
    """A unique temporary name in ``path``'s folder (hidden, never reused, never too long)."""
    unique = f".{tag}-{uuid.uuid4().hex}"
    return path.with_name(fit_name(f".{path.name}", suffix=unique))


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
