"""What every CI output says about a task: where its source is, in the repository's words.

Why one module: a GitHub annotation (``file=``) and a JUnit ``file`` attribute must both
name the notebook as the CI system's checkout does, relative to the repository root,
while a record keeps task sources relative to the *project* root (which may be a folder
inside the repository). The repository root is ``$GITHUB_WORKSPACE`` on GitHub Actions,
``$CI_PROJECT_DIR`` on GitLab, else git's top level, else the project root.

Also here: the record every output is written from, redacted once more (the recorder
already redacted it, but CI output is public to everyone who can read the job log).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..redact import mask_shapes, redact_obj
from ..schema import RunRecord, TaskRecord
from ..vcs import git

#: a function task's source is ``path.py:LINE`` (ploomber's location of the callable)
_WITH_LINE = re.compile(r"(?P<path>.+):(?P<line>\d+)")


def redacted(record: RunRecord) -> RunRecord:
    """A copy of ``record`` with the current environment's secret values replaced, and every
    credential recognised by its shape (a traceback printing ``postgresql://u:pw@db``, a key id
    read from a file): CI logs, summaries and JUnit files are read by whoever sees the job."""
    return RunRecord.from_dict(_masked(redact_obj(record.to_dict())))


def _masked(value):
    if isinstance(value, str):
        return mask_shapes(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def repo_root(record: RunRecord, environ: Mapping[str, str] | None = None) -> Path | None:
    """The folder CI paths are relative to (see the module docstring); None if unknown."""
    env = os.environ if environ is None else environ
    for name in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR"):
        if env.get(name):
            return Path(env[name])
    project = (record.project or {}).get("root")
    if not project:
        return None
    top = git(project, "rev-parse", "--show-toplevel")
    return Path(top.strip()) if top and top.strip() else Path(project)


def task_location(record: RunRecord, task: TaskRecord, root: Path | None) -> tuple[str | None, int | None]:
    """``(path relative to root, line)`` of the task's source; line only for functions."""
    if not task.source:
        return None, None
    source, line = task.source, None
    found = _WITH_LINE.fullmatch(source)
    if found:
        source, line = found["path"], int(found["line"])
    path = Path(source)
    project = (record.project or {}).get("root")
    if not path.is_absolute() and project:
        path = Path(project) / path
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix(), line
        except (OSError, ValueError):
            pass
    return source.replace(os.sep, "/"), line


def project_name(record: RunRecord) -> str:
    """The name CI tests are grouped under (the project folder's name)."""
    return str((record.project or {}).get("name") or "nbprod")
