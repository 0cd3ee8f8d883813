"""The one way nbprod asks git anything (run provenance, files changed between commits).

git is a command, not a library dependency: a missing git, a folder that is not
a repository or a command that fails all answer ``None``, never an exception,
because a run outside git is still recorded (just without a commit).
"""

from __future__ import annotations

import os
import subprocess


def git(cwd: str | os.PathLike, *args: str, timeout: float = 30) -> str | None:
    """``git ARGS`` in ``cwd``: its stdout, or None when git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args], cwd=cwd, capture_output=True, check=True, timeout=timeout
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace")
