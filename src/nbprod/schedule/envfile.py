"""``.nbprod.env``: the settings a scheduled build runs with, beside the project.

Why a file: cron and systemd start a job without the shell's environment, so the store
(``NBPROD_STORE``) and the other settings the user works with would be lost. The job
sources this file (``set -a; . ./.nbprod.env; set +a``), so it is sh syntax, one
``NAME='value'`` a line.

What nbprod writes there: the ``NBPROD_*`` settings (:class:`nbprod.settings.Settings`) set
in the environment of ``nbprod schedule``, checked as a build would check them, local paths
made absolute. Never a credential: a setting whose name says secret, or whose value has a
credential's shape (``s3://KEY:SECRET@bucket``, an AWS key id; :func:`nbprod.redact.credential_shapes`),
is left out and named. A user who wants the job to have a credential writes it there
themself; the file is created ``0600`` and git-ignored (``.gitignore`` gets the line when git
does not already ignore it).

The user's edits win: nbprod only appends settings the file does not mention yet; a setting
the file already holds is kept as it is, and when the environment now says something else,
that is said in one line (the file is never silently rewritten).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..files import atomic_write
from ..redact import credential_shapes, is_secret_name
from ..settings import Settings
from ..vcs import git

ENV_FILE = ".nbprod.env"
PATH_SETTINGS = ("NBPROD_STORE", "NBPROD_SPOOL", "NBPROD_CACHE")
HEADER = f"""\
# nbprod's settings for scheduled builds (`nbprod schedule`), read by the job as
# `set -a; . ./{ENV_FILE}; set +a`: sh syntax, NAME='value' on each line.
# nbprod schedule writes NBPROD_* settings from its environment here, never a
# credential, and only adds settings this file does not mention: your edits stay.
# Git-ignored; keep it that way if you put a credential here yourself.
"""
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class EnvFile:
    """What :func:`write_env_file` did (names only: values are not repeated)."""

    path: Path
    created: bool
    added: tuple[str, ...]                    # settings written now
    kept: tuple[str, ...]                     # in the file already, with another value than the environment's
    skipped: tuple[tuple[str, str], ...]      # (name, why): credentials, never written
    ignored_by: str | None = None             # ".gitignore" when nbprod added the file's line there
    tracked: bool = False                     # git tracks the file: it would be committed


def setting_names() -> tuple[str, ...]:
    """Every NBPROD_* variable nbprod reads (one per field of Settings)."""
    return tuple(f"NBPROD_{f.name.upper()}" for f in dataclasses.fields(Settings))


def wanted(environ: Mapping[str, str], cwd: str | os.PathLike | None = None
           ) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(settings to write, [(name, why) left out]) from ``environ``."""
    values: dict[str, str] = {}
    skipped: list[tuple[str, str]] = []
    for name in setting_names():
        value = environ.get(name, "").strip()
        if not value:
            continue
        shapes = credential_shapes(value)
        if is_secret_name(name) or shapes:
            skipped.append((name, shapes[0] if shapes else "a secret"))
            continue
        if name in PATH_SETTINGS and "://" not in value and not os.path.isabs(value):
            value = os.path.abspath(os.path.join(cwd or os.getcwd(), os.path.expanduser(value)))
        values[name] = value
    Settings.from_env(values)  # a value a build would refuse is refused now, not at 2 a.m.
    return values, skipped


def read_assignments(text: str) -> dict[str, str | None]:
    """``{NAME: value}`` of a sh env file (None: a value too clever to parse here)."""
    found: dict[str, str | None] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if not match:
            continue
        try:
            words = shlex.split(match.group(2), comments=True)
        except ValueError:
            words = None
        found[match.group(1)] = words[0] if words is not None and len(words) == 1 else (
            "" if words == [] else None)
    return found


def write_env_file(root: Path, environ: Mapping[str, str] | None = None,
                   cwd: str | os.PathLike | None = None) -> EnvFile:
    """Create or extend ``root/.nbprod.env`` (see the module docstring)."""
    env = os.environ if environ is None else environ
    values, skipped = wanted(env, cwd)
    path = Path(root) / ENV_FILE
    try:
        old = path.read_text()
    except FileNotFoundError:
        old = None
    present = read_assignments(old or "")
    added = [n for n in values if n not in present]
    kept = [n for n in values if n in present and present[n] != values[n]]
    if old is None or added:
        lines = "".join(f"{n}={shlex.quote(values[n])}\n" for n in added)
        base = HEADER if old is None else (old if not old or old.endswith("\n") else old + "\n")
        mode = 0o600 if old is None else None
        atomic_write(path, (base + lines).encode(), mode=mode if mode is not None else path.stat().st_mode & 0o777)
    return EnvFile(path=path, created=old is None, added=tuple(added), kept=tuple(kept), skipped=tuple(skipped),
                   ignored_by=_ensure_ignored(Path(root)), tracked=_tracked(Path(root)))


def _ensure_ignored(root: Path) -> str | None:
    """Add ``.nbprod.env`` to the project's .gitignore unless git ignores it already."""
    if git(root, "check-ignore", "-q", ENV_FILE) is not None:
        return None
    ignore = root / ".gitignore"
    text = ignore.read_text() if ignore.exists() else ""
    if any(line.strip() in {ENV_FILE, "/" + ENV_FILE} for line in text.splitlines()):
        return None  # listed (git is missing, or the folder is not a repository)
    prefix = "" if not text or text.endswith("\n") else "\n"
    atomic_write(ignore, (text + prefix + f"# nbprod schedule's settings (may hold credentials)\n{ENV_FILE}\n").encode(),
                 mode=ignore.stat().st_mode & 0o777 if ignore.exists() else None)
    return ".gitignore"


def _tracked(root: Path) -> bool:
    return bool(git(root, "ls-files", "--", ENV_FILE))
