"""The run record's schema: what a user must be able to answer about a run months later.

A :class:`RunRecord` is plain data (dataclasses, JSON out and in) with a
``schema`` version. It knows nothing about ploomber, papermill or the store:
the recorder fills it in, the store persists it, the CLI and reports read it.
Readers accept older schemas and warn on newer ones rather than failing, so an
old nbprod can still list runs written by a newer one.

Stdlib only, on purpose: this module is imported by ``nbprod runs ls``. It sits
in the lowest layer because every layer reads records: the store persists
them, ``compare`` and ``report`` read them, ``record`` (the recorder and the
provenance it gathers) fills them in.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA = 1

SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"
RUN_STATUSES = (SUCCEEDED, FAILED, INTERRUPTED)

# task statuses: what happened to each task in this run
TASK_SUCCEEDED = "succeeded"  # executed in this run
TASK_SKIPPED = "skipped"  # up to date, its products reused from an earlier run
TASK_FETCHED = "fetched"  # up to date in the store: products downloaded, not executed here
TASK_FAILED = "failed"
TASK_ABORTED = "aborted"  # not run because an upstream task failed
TASK_INTERRUPTED = "interrupted"
TASK_NOT_RUN = "not_run"
TASK_STATUSES = (TASK_SUCCEEDED, TASK_SKIPPED, TASK_FETCHED, TASK_FAILED, TASK_ABORTED, TASK_INTERRUPTED, TASK_NOT_RUN)

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")  # use with fullmatch
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/=+-]{0,63}")  # `--tag`: ci, pr-123, env=prod
NOTE_MAX = 2000


def check_tags(tags, note: str | None = None) -> tuple[list[str], str | None]:
    """A run's tags (each once, in order) and note, or a ConfigError naming the bad one."""
    from .errors import ConfigError

    found: list[str] = []
    for tag in tags:
        if not TAG.fullmatch(str(tag)):
            raise ConfigError(f"--tag {tag!r} is not a tag",
                              hint="use letters, digits and . _ : / = + - (up to 64, starting with a letter or digit)")
        if tag not in found:
            found.append(str(tag))
    if note is not None and (len(note) > NOTE_MAX or "\x00" in note):
        raise ConfigError(f"--note is longer than {NOTE_MAX} characters", hint="shorten it")
    return found, (note.strip() or None) if note is not None else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def current_user() -> str | None:
    """Who is running this (a record's ``user``, a model event's actor)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER")


def current_host() -> str:
    import socket

    return socket.gethostname()


def actor() -> str:
    """``user@host``: who made a change (model registry events)."""
    return f"{current_user() or 'unknown'}@{current_host()}"


_ID_BITS = 24
_id_state: dict[str, Any] = {"base": None, "count": 0, "pid": None}


def derived_run_id(key: str, moment: datetime) -> str:
    """The run id of an orchestrator's run (``airflow/<dag_id>/<run_id>``), the same in every
    task and retry that asks: the run's UTC second, then 24 bits of the key's sha256."""
    import hashlib

    suffix = hashlib.sha256(key.encode("utf-8")).hexdigest()[: _ID_BITS // 4]
    if moment.tzinfo is None:  # a naive time is UTC: never the local zone (workers differ)
        moment = moment.replace(tzinfo=timezone.utc)
    return f"{moment.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}-{suffix}"


def new_run_id(moment: datetime | None = None) -> str:
    """A run id that sorts by start time and is unique across processes and machines.

    ``20261122T143308Z-a1b2c3``: UTC second, then 24 bits: a random base drawn
    once per process plus a counter, so ids made by one process never repeat
    (for 16M ids a second), and ids of two processes or machines collide only
    if their ranges overlap within one second (for n ids each that second, a
    chance of about 2n in 16M). A forked process draws a base of its own: it
    would otherwise repeat its parent's ids, and ploomber's parallel executor
    and multiprocessing fork. Should two ids still collide, the store refuses
    the second record (``Store.write_record``) rather than overwrite the first.
    Order within one second is arbitrary.
    """
    moment = moment or utcnow()
    if _id_state["base"] is None or _id_state["pid"] != os.getpid():
        _id_state.update(base=secrets.randbits(_ID_BITS), count=0, pid=os.getpid())
    _id_state["count"] += 1
    suffix = (_id_state["base"] + _id_state["count"]) % (1 << _ID_BITS)
    return f"{moment.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}-{suffix:06x}"


@dataclass
class ErrorInfo:
    """Where and how a task failed."""

    task: str
    ename: str
    evalue: str
    cell_index: int | None = None  # 0-based, in the source notebook (injected cells not counted)
    execution_count: int | None = None  # the "In [n]" Jupyter shows
    cell_source: str | None = None  # first lines of the failing cell
    traceback: str | None = None  # excerpt, ANSI colours removed
    kernel_died: bool = False

    def sentence(self) -> str:
        """One sentence naming the task, the cell and the error."""
        where = f"task '{self.task}'"
        if self.cell_index is not None:
            count = f" (In [{self.execution_count}])" if self.execution_count else ""
            where += f", cell {self.cell_index}{count}"
        if self.kernel_died:
            return f"{where}: the kernel died while running it"
        message = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        return f"{where} failed: {message}"


@dataclass
class TaskRecord:
    name: str
    kind: str  # notebook | script | function | papermill | other
    status: str
    source: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    products: list[dict[str, Any]] = field(default_factory=list)
    notebook: dict[str, Any] | None = None
    scraps: dict[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    # added later; records written before have None (readers must not assume them)
    source_sha256: str | None = None  # code cells / script / function text, see record.provenance
    source_object: dict[str, Any] | None = None  # a function's source text in the store {sha256, size, key}
    kernel: dict[str, Any] | None = None  # {name, executable, python, packages that differ, same_env}
    timing: str | None = None  # where duration_s came from: notebook | ploomber | products
    # a run assembled from `nbprod task` parts: every attempt of this task, oldest first
    # {attempt, status, started_at, ended_at, duration_s, host, error}; [] for a plain build
    attempts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunRecord:
    run_id: str
    status: str
    started_at: str
    ended_at: str | None = None
    duration_s: float | None = None
    schema: int = SCHEMA
    nbprod_version: str | None = None
    command: list[str] = field(default_factory=list)
    user: str | None = None
    host: str | None = None
    project: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] | None = None
    python: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    error: ErrorInfo | None = None
    interrupted_by: str | None = None
    recording_s: float | None = None
    metrics_spec: list[dict[str, Any]] = field(default_factory=list)  # nbprod.yaml's `metrics:` at run time
    tags: list[str] = field(default_factory=list)  # `nbprod build --tag`: ci, pr-123, prod...
    note: str | None = None  # `nbprod build --note`: a free sentence
    # `nbprod build --smoke`: small CI parameters; never production history (runs ls, report, baselines)
    smoke: bool = False
    # what a dirty run needs to be re-created (`nbprod reproduce`), None when the tree was clean:
    # {"patch": {sha256, size} | None (the redacted `git diff --binary HEAD`, an object),
    #  "untracked": [{path, sha256, size}] (untracked, not ignored source files, objects),
    #  "skipped": [{path, size, why}] (not kept: too large, a symlink, ...),
    #  "applicable": bool, "why": str | None (why it cannot be re-applied byte for byte)}
    uncommitted: dict[str, Any] | None = None
    # `nbprod reproduce`: the run this one re-created, and how it compares:
    # identical | equivalent | different; `reproduction`: {differences: [...], seconds}
    reproduces: str | None = None
    verdict: str | None = None
    reproduction: dict[str, Any] | None = None
    # the orchestrator run this record is (assembled from `nbprod task` parts), e.g.
    # {name: airflow, dag_id, run_id, logical_date}; None for a build run by nbprod itself
    orchestrator: dict[str, Any] | None = None

    # -- derived views -------------------------------------------------
    def task(self, name: str) -> TaskRecord:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)

    def metrics(self) -> dict[str, Any]:
        """Scalar scraps of every task, ``task.name`` keys would be noisy: plain names,
        first task wins on a clash (tasks are in pipeline order)."""
        found: dict[str, Any] = {}
        for task in self.tasks:
            for name, scrap in task.scraps.items():
                if "value" in scrap and _is_number(scrap["value"]) and name not in found:
                    found[name] = scrap["value"]
        return found

    def objects(self) -> list[dict[str, Any]]:
        """Every stored object the record references, deduplicated by hash.

        ``{sha256, size, task, what}`` where ``what`` is ``product <name>``,
        ``scrap <name>`` or ``source`` (a function task's text), and, with ``task`` None, ``input <name>``
        (input files kept by content), ``uncommitted patch`` and ``untracked <path>`` (a dirty run's
        changes). Executed notebooks: see :meth:`notebooks`.
        """
        found: dict[str, dict[str, Any]] = {}
        for task in self.tasks:
            for product in task.products:
                if product.get("sha256"):
                    found.setdefault(
                        product["sha256"],
                        {"sha256": product["sha256"], "size": product.get("size"),
                         "task": task.name, "what": f"product {product.get('name')}"},
                    )
            for name, scrap in task.scraps.items():
                artifact = scrap.get("artifact") if isinstance(scrap, dict) else None
                if artifact and artifact.get("sha256"):
                    found.setdefault(
                        artifact["sha256"],
                        {"sha256": artifact["sha256"], "size": artifact.get("size"),
                         "task": task.name, "what": f"scrap {name}"},
                    )
            code = task.source_object
            if isinstance(code, dict) and code.get("sha256"):
                found.setdefault(code["sha256"], {"sha256": code["sha256"], "size": code.get("size"),
                                                  "task": task.name, "what": "source"})
        for item in self.inputs:
            if item.get("stored") and item.get("sha256"):
                found.setdefault(item["sha256"], {"sha256": item["sha256"], "size": item.get("size"),
                                                  "task": None, "what": f"input {item.get('name')}"})
        changes = self.uncommitted or {}
        kept = [("uncommitted patch", changes.get("patch"))]
        kept += [(f"untracked {f.get('path')}", f) for f in changes.get("untracked") or []]
        for what, item in kept:
            if isinstance(item, dict) and item.get("sha256"):
                found.setdefault(item["sha256"], {"sha256": item["sha256"], "size": item.get("size"),
                                                  "task": None, "what": what})
        return list(found.values())

    def notebooks(self) -> list[dict[str, Any]]:
        """The executed notebooks stored with the run: ``{key, sha256, size, task}``."""
        return [{**task.notebook, "task": task.name} for task in self.tasks if task.notebook]

    def summary(self) -> dict[str, Any]:
        """The small object ``runs ls`` reads instead of the whole record."""
        return {
            "schema": self.schema,
            "run_id": self.run_id,
            "status": self.status,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "user": self.user,
            "host": self.host,
            "commit": (self.git or {}).get("commit"),
            "dirty": (self.git or {}).get("dirty"),
            "tasks": {t.name: t.status for t in self.tasks},
            "metrics": self.metrics(),
            "params": self.params(),
            "task_params": {t.name: t.params for t in self.tasks if t.params},
            "error": self.error.sentence() if self.error else None,
            "command": self.command,
            "tags": list(self.tags),
            "note": self.note,
            "smoke": self.smoke,
            "reproduces": self.reproduces,
            "verdict": self.verdict,
            "orchestrator": (self.orchestrator or {}).get("name"),
        }

    def params(self) -> dict[str, Any]:
        """Every task's parameters by plain name (first task wins on a clash, like metrics)."""
        found: dict[str, Any] = {}
        for task in self.tasks:
            for name, value in task.params.items():
                found.setdefault(name, value)
        return found

    # -- JSON ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        schema = data.get("schema", 1)
        if schema > SCHEMA:
            warnings.warn(
                f"run {data.get('run_id')} has record schema {schema}, newer than this "
                f"nbprod understands ({SCHEMA}); upgrade nbprod to read all of it",
                stacklevel=2,
            )
        tasks = [_task_from_dict(t) for t in data.get("tasks", [])]
        return cls(
            **{k: v for k, v in data.items() if k in _RUN_FIELDS and k not in ("tasks", "error")},
            tasks=tasks,
            error=_error_from_dict(data.get("error")),
        )


_RUN_FIELDS = {f.name for f in dataclasses.fields(RunRecord)}
_TASK_FIELDS = {f.name for f in dataclasses.fields(TaskRecord)}
_ERROR_FIELDS = {f.name for f in dataclasses.fields(ErrorInfo)}


def _error_from_dict(data: dict | None) -> ErrorInfo | None:
    if not data:
        return None
    return ErrorInfo(**{k: v for k, v in data.items() if k in _ERROR_FIELDS})


def _task_from_dict(data: dict) -> TaskRecord:
    fields = {k: v for k, v in data.items() if k in _TASK_FIELDS and k != "error"}
    return TaskRecord(**fields, error=_error_from_dict(data.get("error")))


def is_smoke(summary: dict[str, Any]) -> bool:
    """A smoke run's summary or record dict (``nbprod build --smoke``); older ones have no
    key and are not."""
    return bool(summary.get("smoke"))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
