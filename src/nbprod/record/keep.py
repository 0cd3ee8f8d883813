"""What a run keeps so that ``nbprod reproduce`` can re-create it, stored by content.

A record names its commit, but a run from a dirty work tree also ran on uncommitted
edits and on files git does not track, and its inputs are files that change under the
same name. A hash says *that* they changed, not *what* they were. So, at record time:

- :func:`uncommitted`: the patch of tracked files (``git diff --binary HEAD``, with git's
  diff settings pinned: :data:`nbprod.vcs.PATCH_CONFIG`) and every untracked, not ignored
  file that is not something the pipeline wrote (its products, ploomber's metadata, the
  store, ``.nbprod/``), each up to :data:`UNTRACKED_FILE_MAX_MB` and
  :data:`UNTRACKED_TOTAL_MAX_MB` in all; larger ones are listed under ``skipped``.
- :func:`keep_inputs`: each input file (see ``recorder._inputs``) whose bytes still hash to
  what the record says, when ``nbprod.yaml``'s ``inputs:`` allows (on, up to 50 MB, by default).

Secrets: the patch and untracked files are redacted before they are stored (they are
text a user wrote, and may quote a token). A redaction that changed them makes the
stored bytes different from the run's, so the run is marked ``applicable: false`` with
the reason: ``nbprod reproduce`` refuses it rather than re-create something else. An
input file whose text would be redacted is not stored at all (only hashed), for the
same reason. Credentials recognised by their shape (:func:`nbprod.redact.credential_shapes`:
an AWS key id, a private key, a password in a URL), which no environment variable names,
are never stored: such a file is listed under ``skipped``, such a patch makes the run not
applicable, such an input is only hashed. Never fatal: what cannot be kept is said in the record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import IntegrityError
from ..files import sha256_file
from ..redact import TEXT_SUFFIXES
from ..vcs import git as _git
from ..vcs import patch as _patch

MB = 1024 * 1024
UNTRACKED_FILE_MAX_MB = 10
UNTRACKED_TOTAL_MAX_MB = 100
PATCH_MAX_MB = 100
#: never sources, whatever .gitignore says
_CACHES = {"__pycache__", ".ipynb_checkpoints", ".nbprod"}


def uncommitted(root: str | os.PathLike, store, redactor=None, *, exclude: Iterable[Path] = ()) -> dict[str, Any] | None:
    """The uncommitted state of the repository holding ``root``, its bytes put in ``store``
    (empty lists when only files the build wrote are new); None when it is not a git work tree. ``exclude``: files and folders the
    build wrote (products, the store), which are not sources."""
    top = (_git(root, "rev-parse", "--show-toplevel") or "").strip()
    if not top:
        return None
    top_path = Path(top)
    data = _patch(top_path)
    names = _git(top_path, "ls-files", "--others", "--exclude-standard", "-z", raw_paths=True)
    if data is None or names is None:
        return None
    kept: dict[str, Any] = {"patch": None, "untracked": [], "skipped": [], "applicable": True, "why": None}
    problems = []
    if len(data) > PATCH_MAX_MB * MB:
        problems.append(f"its patch of tracked files is {len(data) / MB:.0f} MB (more than {PATCH_MAX_MB} MB)")
    elif data and _credentials(data):
        problems.append(f"its patch of tracked files holds {_credentials(data)}: not stored")
    elif data:
        stored, altered = _put(store, data, redactor)
        kept["patch"] = stored
        if altered:
            problems.append("its patch held a secret value, stored redacted")
    skip = _excluded(exclude)
    total = 0
    for name in sorted(filter(None, names.split("\0"))):
        path = top_path / name
        if _is_excluded(path, name, skip):
            continue
        if path.is_symlink() or not path.is_file():
            if path.is_symlink():
                kept["skipped"].append({"path": name, "size": None, "why": "a symbolic link"})
            continue
        size = path.stat().st_size
        if size > UNTRACKED_FILE_MAX_MB * MB or total + size > UNTRACKED_TOTAL_MAX_MB * MB:
            limit = (f"over {UNTRACKED_FILE_MAX_MB} MB" if size > UNTRACKED_FILE_MAX_MB * MB
                     else f"past {UNTRACKED_TOTAL_MAX_MB} MB of untracked files")
            kept["skipped"].append({"path": name, "size": size, "why": limit})
            continue
        content = path.read_bytes()
        if _credentials(content):
            kept["skipped"].append({"path": name, "size": size, "why": f"it holds {_credentials(content)}"})
            continue
        total += size
        stored, altered = _put(store, content, redactor)
        kept["untracked"].append({"path": name, **stored, "executable": bool(path.stat().st_mode & 0o111)})
        if altered:
            problems.append(f"untracked file {name} held a secret value, stored redacted")
    kept["applicable"] = not problems
    kept["why"] = "; ".join(problems) or None
    return kept


def _credentials(data: bytes) -> str | None:
    """What credential ``data`` holds by its shape (an AWS key id, a private key, a password in a
    URL...), whatever the environment: such bytes are never stored (redaction only knows the
    environment's secret values, and a redacted file could not be re-created anyway)."""
    from ..redact import credential_shapes

    found = credential_shapes(data.decode("utf-8", errors="replace"))
    return " and ".join(found) if found else None


def _put(store, data: bytes, redactor) -> tuple[dict[str, Any], bool]:
    out = redactor.bytes(data) if redactor else data
    stored = store.put_bytes(out)
    return {"sha256": stored["sha256"], "size": stored["size"]}, out != data


def _excluded(paths: Iterable[Path]) -> set[Path]:
    """Every path to leave out, resolved: those given, ploomber's metadata beside each,
    and the ``.failed`` copies nbprod moves a failed task's products to."""
    found: set[Path] = set()
    for path in paths:
        path = Path(path).resolve()
        found |= {path, path.with_name(f".{path.name}.metadata"),
                  path.with_name(f"{path.stem}.failed{path.suffix}")}
    return found


def _is_excluded(path: Path, name: str, skip: set[Path]) -> bool:
    if _CACHES & set(Path(name).parts):
        return True
    resolved = path.resolve()
    return resolved in skip or any(parent in skip for parent in resolved.parents)


def keep_inputs(inputs: list[dict[str, Any]], root: Path, store, spec, redactor=None) -> None:
    """Store each input file by content, in place in ``inputs`` (``stored: true``, or
    ``stored: false`` and ``why``), as ``spec`` (nbprod.yaml's ``inputs:``) allows."""
    for item in inputs:
        item.update(_keep_input(item, root, store, spec, redactor))


def _keep_input(item: dict[str, Any], root: Path, store, spec, redactor) -> dict[str, Any]:
    if not spec.store:
        return {"stored": False, "why": "nbprod.yaml: inputs.store is false"}
    path = local_path(item.get("path"), root)
    if path is None:
        return {"stored": False, "why": "no local file path was declared"}
    if not path.is_file():
        return {"stored": False, "why": "no file at its path when the run was recorded"}
    size = path.stat().st_size
    if not spec.keeps(size):
        return {"stored": False, "why": f"{size / MB:.1f} MB, over inputs.max_mb ({spec.max_mb:g} MB)"}
    sha = sha256_file(path)
    if item.get("sha256") and sha != item["sha256"]:
        return {"stored": False, "why": "the file changed after the notebook read it"}
    if redactor and path.suffix.lower() in TEXT_SUFFIXES and redactor.bytes(path.read_bytes()) != path.read_bytes():
        return {"stored": False, "why": "it holds a secret value (only its hash is recorded)"}
    if path.suffix.lower() in TEXT_SUFFIXES and _credentials(path.read_bytes()):
        return {"stored": False, "why": f"it holds {_credentials(path.read_bytes())} (only its hash is recorded)"}
    try:
        store.put_file(path, sha)
    except IntegrityError:  # rewritten while it was uploaded: not these bytes
        return {"stored": False, "why": "the file changed while it was stored"}
    return {"stored": True, "sha256": sha, "size": size}


def local_path(text: Any, root: Path) -> Path | None:
    """An input's path as recorded (relative to the project root, or absolute)."""
    if not isinstance(text, str) or not text or "://" in text:
        return None
    path = Path(text)
    return path if path.is_absolute() else root / path
