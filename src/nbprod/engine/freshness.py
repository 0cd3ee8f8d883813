"""Content-aware up-to-date decisions: a task runs again when what it ran on changed.

ploomber judges staleness by code, parameters and its own metadata
timestamps, never by content. So a notebook run by hand (papermill,
JupyterLab's Run All) that rewrote products under ``outputs/``, or a refreshed
extract at the same path, left every task "up to date", and the next build
recorded the hand-made files under the pipeline's parameters. nbprod knows the
content: after each recorded run it remembers, per task, the sha256 of its
input files (parameters naming files), of its upstream products and of its own
products. When ploomber would skip a task, :func:`stale` compares them with
the files now on disk; a task whose files differ is run again (with its
downstream tasks, which ploomber then finds outdated), and the build says why,
one line per task: ``ingest: data/penguins.csv changed since run X``.

Cost: a file whose size, mtime, ctime and inode are what was remembered is not
read again (ctime cannot be set back by ``touch`` or ``cp -p``, so a rewrite
is always seen); only a file whose stat changed is hashed, and the new stat is
kept when its content turned out the same.

Killed builds (SIGKILL, OOM): ploomber's old success metadata would stay beside
a half-written product. :func:`invalidate` deletes the metadata of every task
about to run, before any runs, so a task counts as up to date only once it
succeeded again.

The memory is ``<root>/.nbprod/tasks.json`` (one JSON object, written whole
under the build lock). Losing it only loses the content check: ploomber's rule
applies until the next recorded run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from .. import schema
from ..files import atomic_write, sha256_file
from .buildlock import state_dir

LAYOUT = 1
#: task statuses whose files are remembered after a run
_KEPT = (schema.TASK_SUCCEEDED, schema.TASK_FETCHED, schema.TASK_SKIPPED)
#: file times come from a coarse kernel clock, a few ms behind time.time()
_CLOCK_SLACK = 0.05


class Memory:
    """What each task last ran on: ``{task: {"run_id", "files": {path: entry}}}``."""

    def __init__(self, root: Path, tasks: dict[str, Any] | None = None):
        self.root = Path(root)
        self.tasks: dict[str, Any] = tasks or {}
        self.dirty = False

    @property
    def path(self) -> Path:
        return self.root / ".nbprod" / "tasks.json"

    @classmethod
    def load(cls, root: Path) -> "Memory":
        memory = cls(root)
        try:
            data = json.loads(memory.path.read_text())
        except (OSError, ValueError):
            return memory  # none yet, or unreadable: ploomber's rule alone until the next run
        if isinstance(data, dict) and data.get("layout") == LAYOUT and isinstance(data.get("tasks"), dict):
            memory.tasks = {name: entry for name, entry in data["tasks"].items() if _valid(entry)}
        return memory

    def save(self) -> None:
        if not self.dirty:
            return
        state_dir(self.root)
        body = json.dumps({"layout": LAYOUT, "tasks": self.tasks}, indent=1, sort_keys=True)
        atomic_write(self.path, body.encode())
        self.dirty = False

    def forget(self, names: Iterable[str]) -> None:
        for name in names:
            if self.tasks.pop(name, None) is not None:
                self.dirty = True

    def file(self, recorded: str) -> Path:
        path = Path(recorded)
        return path if path.is_absolute() else self.root / path

    # -- the check ---------------------------------------------------------------------------
    def changed(self, name: str) -> str | None:
        """The files of task ``name`` that differ from its last run, as one sentence."""
        entry = self.tasks.get(name)
        if not isinstance(entry, dict):
            return None
        found: dict[str, list[str]] = {}
        for recorded, info in entry.get("files", {}).items():  # inputs, upstream, own products
            how = self._differs(self.file(recorded), info)
            if how:
                found.setdefault(how, []).append(recorded)
        if not found:
            return None
        parts = []
        for how, files in found.items():
            more = f" and {len(files) - 3} more" if len(files) > 3 else ""
            parts.append(f"{', '.join(files[:3])}{more} {how}")
        return f"{name}: {'; '.join(parts)} since run {entry.get('run_id', '?')}"

    def _differs(self, path: Path, info: dict) -> str | None:
        try:
            st = path.stat()
        except OSError:
            return "is missing"
        if _signature(st) == info.get("stat"):
            return None
        try:
            if st.st_size != info.get("size") or sha256_file(path) != info.get("sha256"):
                return "changed"
        except OSError:
            return "is unreadable"
        info["stat"] = _signature(st)  # same bytes: do not read it again next time
        self.dirty = True
        return None

    def written(self, name: str, path: Path, since: float) -> bool:
        """Whether this build (started at ``since``) wrote ``path``, a product of task ``name``.

        A file remembered for the task is judged by content (unchanged: the last
        good product, not the failed run's); any other by its modification time.
        """
        info = (self.tasks.get(name) or {}).get("files", {}).get(self.key(path))
        if info is not None and path.is_file():
            return self._differs(path, info) is not None
        return _modified_at(path) >= since - _CLOCK_SLACK

    def key(self, path: Path) -> str:
        """A file's name in the memory: relative to the project root, as the record has it."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    # -- after a run -------------------------------------------------------------------------
    def remember(self, record: schema.RunRecord) -> None:
        """Keep what each task of a recorded run ran on (a failed task is forgotten)."""
        products = {t.name: [p for p in t.products if p.get("sha256") and p.get("path")] for t in record.tasks}
        by_path = {self.key(self.file(i["path"])): i for i in record.inputs if i.get("sha256") and i.get("path")}
        inputs: dict[str, list[dict]] = {}
        for task in record.tasks:  # every task taking the file (the record names one of them)
            named = [v for v in task.params.values() if isinstance(v, str) and v and len(v) <= 4096]
            inputs[task.name] = [by_path[k] for k in dict.fromkeys(self.key(self.file(v)) for v in named)
                                 if k in by_path]
        for item in record.inputs:  # declared by a notebook's `nbprod_inputs` scrap, with a path
            declared = str(item.get("declared_by") or "")
            if declared.startswith("scrap ") and item.get("sha256") and item.get("path"):
                inputs.setdefault(declared[len("scrap "):].rsplit(".", 1)[0], []).append(item)
        for task in record.tasks:
            if task.status not in _KEPT:
                self.forget([task.name])
                continue
            if task.status == schema.TASK_SKIPPED and task.name in self.tasks:
                continue  # not run now: what it last ran on is still the memory
            files = {}
            for item in [*inputs.get(task.name, []), *(p for up in task.upstream for p in products.get(up, [])),
                         *products.get(task.name, [])]:
                path = self.file(item["path"])
                try:
                    st = path.stat()
                except OSError:
                    continue
                files[item["path"]] = {"sha256": item["sha256"], "size": item.get("size"), "stat": _signature(st)}
            self.tasks[task.name] = {"run_id": record.run_id, "files": files}
            self.dirty = True


def _valid(entry) -> bool:
    """A task's memory as :meth:`Memory.remember` writes it (anything else is ignored)."""
    files = entry.get("files") if isinstance(entry, dict) else None
    return isinstance(files, dict) and all(
        isinstance(info, dict) and isinstance(info.get("sha256"), str) for info in files.values())


def _modified_at(path: Path) -> float:
    """The newest modification time of a file, or of anything in a folder."""
    newest = path.stat().st_mtime
    if path.is_dir():
        for child in path.rglob("*"):
            try:
                newest = max(newest, child.stat().st_mtime)
            except OSError:
                pass
    return newest


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


# -- ploomber ------------------------------------------------------------------------------------

def stale(dag, memory: Memory) -> list[str]:
    """Make the tasks ploomber would skip but whose files changed run again.

    Returns one sentence per such task. Their metadata is deleted and the DAG
    rendered again, so ploomber itself marks them (and what depends on them)
    outdated.
    """
    from ploomber.constants import TaskStatus

    lines, names = [], []
    for name in dag:
        if dag[name].exec_status == TaskStatus.Skipped:
            line = memory.changed(name)
            if line:
                lines.append(line)
                names.append(name)
    if names:
        for name in names:
            dag[name].product.metadata.delete()
        for name in dag:
            _reset_status(dag[name].product)
        dag.render(show_progress=False)
        _execute_not_download(dag, set(names))
    return lines


def _execute_not_download(dag, changed: set[str]) -> None:
    """A changed task (and what depends on it) runs here: with shared products (a File
    client), ploomber would otherwise download the store's copy, made from the old files."""
    from ploomber.constants import TaskStatus

    ready = {TaskStatus.Executed, TaskStatus.Skipped}
    forced: set[str] = set()
    for name in dag:  # topological order
        task = dag[name]
        if name in changed or any(up in forced for up in task.upstream):
            forced.add(name)
            if task.exec_status in (TaskStatus.WaitingDownload, TaskStatus.Skipped):
                waiting = any(dag[up].exec_status not in ready for up in task.upstream)
                task.exec_status = TaskStatus.WaitingUpstream if waiting else TaskStatus.WaitingExecution


def invalidate(dag) -> list[str]:
    """Delete the metadata of every task about to run, before any runs. (Its memory stays
    until the run is recorded: a failed task's last good products are told apart by it.)"""
    from ploomber.constants import TaskStatus

    running = [n for n in dag if dag[n].exec_status in (TaskStatus.WaitingExecution, TaskStatus.WaitingUpstream)]
    for name in running:
        dag[name].product.metadata.delete()
    return running


def _reset_status(product) -> None:
    for part in getattr(product, "products", None) or [product]:
        reset = getattr(part, "_reset_cached_outdated_status", None)
        if reset is not None:
            reset()
