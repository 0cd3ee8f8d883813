"""Provenance: where a run came from (git commit and dirty state, Python, packages, user, host).

Gathered once per recorded build, standard library and git only, and never
fatal: a run outside a git repository is recorded without a commit.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

from ..files import sha256_file
from ..vcs import git as _git

def git_info(root: str | os.PathLike) -> dict[str, Any] | None:
    """Commit, branch and dirty state of the repository holding ``root``.

    ``None`` when ``root`` is not in a git work tree (or git is missing): a run
    from an exported folder is still recorded, just without a commit. When the
    tree is dirty, ``diff_sha256`` hashes the diff against HEAD plus the names
    and contents of untracked files, so two runs with the same dirty state can
    be told apart from two with different uncommitted edits.
    """
    root = Path(root)
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    commit = (_git(root, "rev-parse", "HEAD") or "").strip() or None
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    status = _git(root, "status", "--porcelain", "--untracked-files=all") or ""
    dirty = bool(status.strip())
    diff_sha = None
    if dirty:
        digest = hashlib.sha256((_git(root, "diff", "HEAD", "--binary") or "").encode())
        toplevel = Path(top.strip())
        untracked = _git(toplevel, "ls-files", "--others", "--exclude-standard", "-z") or ""
        for name in sorted(filter(None, untracked.split("\0"))):
            digest.update(name.encode())
            path = toplevel / name
            if path.is_file():
                digest.update(bytes.fromhex(sha256_file(path)))
        diff_sha = digest.hexdigest()
    return {
        "commit": commit,
        "branch": branch,
        "dirty": dirty,
        "diff_sha256": diff_sha,
        "root": top.strip(),
    }


def package_versions() -> dict[str, str]:
    """Every installed distribution and its version, sorted by name."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            found.setdefault(name.lower(), dist.version)
    return dict(sorted(found.items()))


def python_info() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
    }


def current_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER")


def current_host() -> str:
    return socket.gethostname()
