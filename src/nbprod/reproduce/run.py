"""``nbprod reproduce RUN``: the whole reproduction, from the run's record to the new run's.

Steps (each a module of this package, see ``__init__``): plan the build from the
record; check the run's commit out into ``<tmp>/<repository name>`` with
``git worktree``; re-create its uncommitted changes; restore its inputs; build in the
worktree's project folder with the recorded parameters, recording into a store of the
temporary folder's own (``<tmp>/staging-store``); compare the new run with the
original; then copy the new run into the user's store, the original's, objects first
and the record last (as ``nbprod push`` does), with ``reproduces``, ``verdict`` and
``reproduction`` (the differences, the time it took) set. The record is written once,
with its verdict: a record is never rewritten.

The user's clone is read (git objects, ignored input files) and its ``.git/worktrees``
lists the worktree while it exists; nothing of its work tree or ``outputs/`` is written.
``keep``: the temporary folder (worktree, staging store) stays for inspection.
Interrupted (Ctrl-C): the temporary folder stays too (the build records itself into it
at exit), and nothing reaches the user's store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import redact
from ..errors import NbprodError, StoreError
from ..store import Store
from . import inputs, plan, worktree
from .judge import judge


@dataclass(frozen=True)
class Reproduction:
    """What ``nbprod reproduce`` prints (``--json``: :func:`nbprod.reproduce.views.to_json`)."""

    run_id: str
    new_run_id: str
    verdict: str
    differences: tuple[dict[str, Any], ...]
    compared: dict[str, int]
    store: str
    seconds: float
    worktree: str | None  # kept with --keep


def reproduce_run(ref: str, *, keep: bool = False, store: Store | None = None, cwd: str | None = None,
                  say: Callable[[str], None] = print) -> Reproduction:
    """Build run ``ref`` (an id, a prefix, ``latest``...) of ``store`` (NBPROD_STORE) again
    from the clone holding ``cwd`` and record the result in the same store."""
    from ..store.spool import open_store

    started = time.perf_counter()
    store = store or open_store(log=say)
    original = store.record_of(ref)
    todo = plan.plan_for(original)
    repo = worktree.repository(cwd or os.getcwd())
    scratch = Path(tempfile.mkdtemp(prefix=f"nbprod-reproduce-{original.run_id}-"))
    tree = scratch / repo.name
    try:
        worktree.add(repo, todo.commit, tree, original.run_id)
        if todo.dirty:
            worktree.apply_uncommitted(tree, original.uncommitted, store, scratch, original.run_id, say)
        project = tree / todo.project
        moved = inputs.restore_inputs(original, project, repo / todo.project, store, scratch, say)
        say(f"nbprod: reproducing run {original.run_id} (commit {todo.commit[:12]}"
            f"{', with its uncommitted changes' if todo.dirty else ''}) in {tree}")
        staged = Store(str(scratch / "staging-store"))
        new = _build(original, todo, project, staged, moved + _roots(original, project, tree), say)
        verdict, differences, compared = judge(original, new, fetch_old=store.get_bytes, fetch_new=staged.get_bytes)
        seconds = round(time.perf_counter() - started, 3)
        final = dataclasses.replace(new, reproduces=original.run_id, verdict=verdict,
                                    reproduction=redact.redact_obj({"differences": differences, "compared": compared,
                                                                    "seconds": seconds}))
        _publish(staged, final, store)
    except KeyboardInterrupt:
        keep = True
        raise
    finally:
        if keep:
            say(f"nbprod: the reproduction's worktree is kept: {tree} (remove it with `git worktree remove --force "
                f"{tree}`)")
        else:
            worktree.remove(repo, tree)
            shutil.rmtree(scratch, ignore_errors=True)
    return Reproduction(run_id=original.run_id, new_run_id=final.run_id, verdict=verdict,
                        differences=tuple(differences), compared=compared, store=store.url,
                        seconds=round(time.perf_counter() - started, 3), worktree=str(tree) if keep else None)


def _build(original, todo: plan.Plan, project: Path, staged: Store, moved, say):
    """The build, recorded into ``staged``; its record (refused when none was made)."""
    from ..engine.replay import replay

    argv = [*todo.argv, *(["--entry-point", str(project / todo.entry_point)] if todo.entry_point else [])]
    environ = {"NBPROD_STORE": staged.url}
    if todo.env_file and not todo.smoke:
        environ["PLOOMBER_ENV_FILENAME"] = todo.env_file
    params = {task.name: dict(task.params) for task in original.tasks}
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the verdict's (`--json`)
        new = replay(argv, params=params, command=list(original.command), cwd=str(project), environ=environ,
                     moved=moved, smoke=todo.smoke, say=say)
    if new is None or new.run_id not in staged.run_ids():
        raise NbprodError(f"the reproduction of run {original.run_id} recorded no run",
                          hint="see the build's output above")
    return new


def _roots(record, project: Path, tree: Path) -> list[tuple[str, str]]:
    """The original's project and repository folders, as the worktree's (parameters naming paths)."""
    pairs = [((record.project or {}).get("root"), str(project)), ((record.git or {}).get("root"), str(tree))]
    return [(old, new) for old, new in pairs if old]


def _publish(staged: Store, record, target: Store) -> None:
    """``record`` (the reproduction) into ``target``: its objects by content, then the record."""
    files = []
    for item in [*record.objects(), *record.notebooks()]:
        key = item.get("key") or Store.object_key(item["sha256"])
        path = Path(staged.root) / key
        if key.startswith("objects/") and path.is_file():
            files.append((path, item["sha256"]))
    try:
        target.put_files(files)
        target.write_record(record)
    except StoreError as err:
        raise StoreError(f"the reproduction ran (run {record.run_id}, {record.verdict}) but could not be recorded "
                         f"in {target.url}: {err.message}", hint=err.hint, url=target.url) from err
