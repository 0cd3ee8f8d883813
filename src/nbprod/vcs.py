"""The one way nbprod asks git anything (run provenance, files changed between commits,
the worktree a reproduction runs in).

git is a command, not a library dependency: a missing git, a folder that is not
a repository or a command that fails all answer ``None``, never an exception,
because a run outside git is still recorded (just without a commit). The
reproduction's worktree needs git's own message when a command fails
(:func:`git_run`), and a diff's bytes exactly as git wrote them (:func:`git_bytes`).
"""

from __future__ import annotations

import os
import subprocess

#: `git diff` options that make its output independent of the user's configuration
#: (prefixes, renames, colour, external diff drivers): the patch a run stores, and the
#: one its reproduction is checked against, are the same bytes for the same changes
PATCH_CONFIG = ("-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "diff.renames=false",
                "-c", "core.quotepath=off")
PATCH_ARGS = ("diff", "--binary", "--no-color", "--no-ext-diff", "--no-textconv", "HEAD")


def git(cwd: str | os.PathLike, *args: str, timeout: float = 30, raw_paths: bool = False) -> str | None:
    """``git ARGS`` in ``cwd``: its stdout, or None when git is missing or fails.

    ``raw_paths``: file names as they are (``core.quotepath=off``), for output that is
    parsed as a list of paths; provenance hashes git's default output, unchanged."""
    out = git_bytes(cwd, *(["-c", "core.quotepath=off"] if raw_paths else []), *args, timeout=timeout)
    return None if out is None else out.decode("utf-8", "replace")


def git_bytes(cwd: str | os.PathLike, *args: str, timeout: float = 30) -> bytes | None:
    """``git ARGS`` in ``cwd``: its stdout as bytes (a patch, byte for byte), or None."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def git_run(cwd: str | os.PathLike, *args: str, timeout: float = 300) -> tuple[bool, str]:
    """``git ARGS`` in ``cwd``: (succeeded, git's last line on stderr, or why git did not run)."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as err:
        return False, f"git could not run ({type(err).__name__}: {err})"
    lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return done.returncode == 0, (lines[-1] if lines else "")


def patch(cwd: str | os.PathLike) -> bytes | None:
    """The uncommitted changes to tracked files of the repository holding ``cwd``, as a patch
    ``git apply`` takes (binary files included), independent of the user's diff settings."""
    return git_bytes(cwd, *PATCH_CONFIG, *PATCH_ARGS)
