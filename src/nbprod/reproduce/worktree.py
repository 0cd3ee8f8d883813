"""The original run's source tree, re-created in a temporary ``git worktree``.

git does the work: ``git worktree add --detach`` checks the run's commit out beside the
user's clone (which it shares objects with, and leaves alone: only ``.git/worktrees/``
learns of it until :func:`remove`), ``git apply --check`` then ``git apply`` puts the
run's uncommitted patch back, and the tree's own patch afterwards must hash to the
recorded one (:func:`nbprod.vcs.patch`, with git's diff settings pinned the way the
recorder pinned them). Untracked files are written from the store, each verified by
its hash on the way. A run whose uncommitted changes were not kept byte for byte (a
secret was redacted from them, the patch was too large, or it was recorded before
nbprod kept them) is refused: it would be another tree.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from ..errors import NotReproducibleError
from ..files import atomic_write, sha256_bytes
from ..vcs import git, git_run, patch


def repository(cwd: str | os.PathLike) -> Path:
    """The top of the git clone holding ``cwd``, or a refusal."""
    top = (git(cwd, "rev-parse", "--show-toplevel") or "").strip()
    if not top:
        raise NotReproducibleError(f"{os.path.abspath(cwd)} is not inside a git clone",
                                   hint="run nbprod reproduce in a clone of the project's repository")
    return Path(top)


def add(repo: Path, commit: str, dest: Path, run_id: str) -> Path:
    """``dest``: ``commit`` checked out there, detached; one line saying to fetch a missing commit."""
    if git(repo, "cat-file", "-e", f"{commit}^{{commit}}") is None:
        raise NotReproducibleError(
            f"commit {commit[:12]} of run {run_id} is not in this clone ({repo})",
            hint=f"fetch it (`git fetch origin {commit}`, or the branch that has it), then run nbprod reproduce again",
            run_id=run_id, commit=commit)
    ok, message = git_run(repo, "worktree", "add", "--detach", "--quiet", str(dest), commit)
    if not ok:
        raise NotReproducibleError(f"git could not check out commit {commit[:12]} into {dest}: {message}",
                                   run_id=run_id, commit=commit)
    return dest


def remove(repo: Path, dest: Path) -> None:
    """The worktree gone, from disk and from the clone's list of worktrees."""
    git_run(repo, "worktree", "remove", "--force", str(dest))
    shutil.rmtree(dest, ignore_errors=True)
    git_run(repo, "worktree", "prune")


def apply_uncommitted(tree: Path, changes: dict[str, Any] | None, store, scratch: Path, run_id: str,
                      say: Callable[[str], None] = print) -> None:
    """Re-create a dirty run's tree in ``tree`` (checked out at its commit)."""
    if changes is None:
        raise NotReproducibleError(
            f"run {run_id} was built from uncommitted changes that its record does not keep "
            "(recorded before nbprod kept them)", hint="commit the changes and reproduce a run built from the commit",
            run_id=run_id)
    if not changes.get("applicable", True):
        raise NotReproducibleError(f"run {run_id}'s uncommitted changes cannot be re-created byte for byte: "
                                   f"{changes.get('why') or 'not kept'}", run_id=run_id)
    kept = changes.get("patch")
    if kept:
        data = store.get_bytes(kept["sha256"])  # verified against its hash by the store
        file = scratch / "uncommitted.patch"
        atomic_write(file, data)
        for args in (("apply", "--check", str(file)), ("apply", str(file))):
            ok, message = git_run(tree, *args)
            if not ok:
                raise NotReproducibleError(f"run {run_id}'s uncommitted patch does not apply to its commit: {message}",
                                           run_id=run_id)
        now = sha256_bytes(patch(tree) or b"")
        if now != kept["sha256"]:
            raise NotReproducibleError(
                f"run {run_id}'s patch applied, but the tree's changes hash to {now[:12]}..., "
                f"recorded {kept['sha256'][:12]}...", hint="report this: git produced another diff", run_id=run_id)
    for item in changes.get("untracked") or []:
        target = _within(tree, item["path"], run_id)
        if target.exists():
            raise NotReproducibleError(f"run {run_id}'s untracked file {item['path']} exists at its commit already",
                                       run_id=run_id)
        store.get_file(item["sha256"], target)
        if item.get("executable"):
            target.chmod(target.stat().st_mode | 0o111)
    for item in changes.get("skipped") or []:
        say(f"nbprod: warning: untracked file {item['path']} was not kept with run {run_id} "
            f"({item.get('why')}): the reproduction runs without it")


def _within(tree: Path, name: str, run_id: str) -> Path:
    target = (tree / name).resolve()
    if tree.resolve() not in target.parents:
        raise NotReproducibleError(f"run {run_id} names an untracked file outside its tree: {name!r}", run_id=run_id)
    return target
