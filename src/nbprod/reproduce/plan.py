"""What a reproduction builds, read from the original run's record alone.

- ``argv``: the ploomber options of the recorded command (``nbprod build ...`` or
  ``ploomber build ...``) without what would act outside the temporary folder or stop
  for a person (``--log-file``, ``--debug``, ``--debuglater``), nbprod's own options
  (``--smoke`` is ``smoke``; ``--junit``, ``--baseline``, tags and notes are the
  original's business), and the entry point, which is given again as the same file in
  the worktree (the record names it relative to the project root);
- ``env_file``: the env file the build read, by name (``PLOOMBER_ENV_FILENAME``), so a
  custom one is read again; a smoke run reads ``env.ci.yaml`` as ``--smoke`` does;
- ``project``: the project folder relative to the repository's top (a pipeline in a
  sub-folder of its repository is built there).

A run without a recorded commit cannot be checked out: :func:`plan_for` refuses it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import NotReproducibleError
from ..schema import RunRecord

#: ploomber options dropped, with the number of values each takes
DROPPED = {"--log-file": 1, "-F": 1, "--debug": 0, "-d": 0, "--debuglater": 0, "-D": 0,
           "--entry-point": 1, "-e": 1}
#: nbprod build's own options recorded in the command, with the number of values each takes
NBPROD_OPTIONS = {"--smoke": 0, "--junit": 1, "--baseline": 1, "--tag": 1, "--note": 1}


@dataclass(frozen=True)
class Plan:
    commit: str
    argv: tuple[str, ...]
    smoke: bool
    project: str  # the project folder, relative to the repository's top ("." at the top)
    entry_point: str | None  # relative to the project folder
    env_file: str | None  # a file name beside the entry point (PLOOMBER_ENV_FILENAME)
    dirty: bool


def plan_for(record: RunRecord) -> Plan:
    git = record.git or {}
    if any(task.kind == "papermill" for task in record.tasks):
        raise NotReproducibleError(
            f"run {record.run_id} is one notebook run by papermill (`nbprod run` / `papermill --engine nbprod`), "
            "not a pipeline build", hint="run the same command again in a checkout of its commit; nbprod "
            "reproduce re-creates builds only", run_id=record.run_id)
    if not git.get("commit"):
        raise NotReproducibleError(f"run {record.run_id} was not built in a git repository (no commit recorded)",
                                   hint="only runs with a commit can be checked out again", run_id=record.run_id)
    files = (record.project or {}).get("files") or {}
    roles = {info.get("role"): name for name, info in files.items() if isinstance(info, dict)}
    entry = roles.get("entry_point")
    env = roles.get("env")
    return Plan(
        commit=git["commit"],
        argv=tuple(build_options(record.command)),
        smoke=bool(record.smoke),
        project=_inside(record.project.get("root"), git.get("root")),
        entry_point=entry if entry and not os.path.isabs(entry) else None,
        env_file=env if env and "/" not in env and not os.path.isabs(env) else None,
        dirty=bool(git.get("dirty")),
    )


def build_options(command: list[str]) -> list[str]:
    """The ploomber options of a recorded command, what :data:`DROPPED` and
    :data:`NBPROD_OPTIONS` name removed (``--opt=value`` forms too)."""
    args = [str(a) for a in command]
    start = next((i + 1 for i, a in enumerate(args[:3]) if a == "build"), len(args))
    kept, i = [], start
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        skip = DROPPED.get(name, NBPROD_OPTIONS.get(name))
        if skip is None:
            kept.append(arg)
            i += 1
            continue
        i += 1 + (skip if "=" not in arg else 0)
    return kept


def _inside(root: str | None, top: str | None) -> str:
    """``root`` relative to ``top`` (POSIX), "." when unknown or not inside it."""
    if not root or not top:
        return "."
    try:
        relative = os.path.relpath(root, top)
    except ValueError:
        return "."
    return "." if relative.startswith("..") else PurePosixPath(*relative.split(os.sep)).as_posix()
