"""The one way nbprod asks git anything (run provenance, files changed between commits).

git is a command, not a library dependency: a missing git, a folder that is not
a repository or a command that fails all answer ``None``, never an exception,
because a run outside git is still recorded (just without a commit).
"""

from __future__ import annotations

import os
import subprocess


def git(cwd: str | os.PathLike, *args: str, timeout: float = 30, raw_paths: bool = False) -> str | None:
    """``git ARGS`` in ``cwd``: its stdout, or None when git is missing or fails.

    ``raw_paths``: file names as they are (``core.quotepath=off``), for output that is
    parsed as a list of paths; provenance hashes git's default output, unchanged."""
    options = ["-c", "core.quotepath=off"] if raw_paths else []
    try:
        done = subprocess.run(
            ["git", *options, *args], cwd=cwd, capture_output=True, check=True, timeout=timeout
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace")
