"""Turn a finished (or failed, or interrupted) build into a stored run record.

Called by the hooks once per build. Order matters and is the guarantee the
store relies on: products, scraps and notebooks are stored first (each by
content), the record last. Local files are only renamed after the record is
safely stored, so a crash while recording loses nothing.

Secrets (see :mod:`nbprod.redact`) never reach the store: before anything is
hashed or stored, the executed notebooks and text products are redacted *in
place*, so the local product, the stored product and the stored notebook are
the same bytes (one object, deduplicated as before), and the scraps read back
from them are redacted too; the finished record is redacted as a whole
(params, scraps, errors, command) before it is returned for writing.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import __version__, redact
from .. import schema as records
from ..files import sha256_file
from ..schema import ErrorInfo, RunRecord, TaskRecord
from ..settings import Settings
from ..store import Store
from . import executed, keep, provenance
from .session import Session
from .taskview import ABORTED, ERRORED, EXECUTED, SKIPPED, TaskView

_STATUS = {
    EXECUTED: records.TASK_SUCCEEDED,
    SKIPPED: records.TASK_SKIPPED,
    ERRORED: records.TASK_FAILED,
    ABORTED: records.TASK_ABORTED,
}
#: how ``record_run`` names where a run went when the store was unavailable
SPOOLED = "the local spool"
#: files a project's record hashes (as ploomber finds them beside each other)
SPEC_FILES = ("pipeline.yaml", "env.yaml")


def record_run(session: Session, views: list[TaskView], status: str, *, elapsed=None, traceback_text=None,
               settings: Settings | None = None, say: Callable[..., None] | None = None) -> tuple[RunRecord, str]:
    """Store the run; when the store fails, keep it in the local spool instead.

    Returns (record, where it went). A spooled run is pushed by ``nbprod push``
    or automatically by the next nbprod command; runs spooled earlier for this
    store are pushed after a run that reached it.
    """
    from ..errors import StoreError
    from ..store import spool as spooling

    settings = settings or Settings.from_env()
    say = say or (lambda line, err=False: print(redact.redact_text(line), file=sys.stderr if err else sys.stdout))

    def record_into(store: Store) -> RunRecord:
        record = build_record(session, views, store, settings=settings, run_status=status,
                              elapsed=elapsed, traceback_text=traceback_text)
        store.write_record(record)
        return record

    try:
        store = Store.from_settings(settings)
        record = record_into(store)
    except StoreError as err:
        say(f"nbprod: warning: {err}", err=True)
        spool = spooling.open_spool(settings, settings.store)
        record = record_into(spool)
        say(f"nbprod: run {record.run_id} kept in the local spool {spool.url}: "
            f"`nbprod push` uploads it to {settings.store} once the store is back", err=True)
        return record, f"{SPOOLED} {spool.url} (store {settings.store} unavailable)"
    waiting = spooling.pending_for(settings, store.url)
    if waiting is not None:  # runs spooled earlier for this store: a failure only warns
        spool, ids = waiting
        say(f"nbprod: pushing {len(ids)} spooled run(s) to {store.url}")
        try:
            spooling.push(spool, store, log=say)
        except StoreError as err:
            say(f"nbprod: warning: spooled runs not pushed: {err}", err=True)
    return record, store.url


def build_record(
    session: Session,
    views: list[TaskView],
    store: Store,
    *,
    settings: Settings,
    run_status: str,
    elapsed: dict[str, float] | None = None,
    traceback_text: str | None = None,
) -> RunRecord:
    """Store every blob of the run and return its (not yet stored) record."""
    t0 = time.perf_counter()
    ended = records.utcnow()
    redactor = redact.current()
    produced = {str(Path(p).resolve()) for v in views for p in v.products.values()}
    unredacted = _redact_files(views, redactor) if redactor else set()
    _bound_outputs(views, settings.max_output_mb)  # after redaction: a cut inside a secret keeps part of it
    packages = provenance.package_versions()
    tasks = []
    for view in views:
        tasks.append(
            _task_record(
                session, view, store, settings, run_status, elapsed or {}, traceback_text,
                redactor, unredacted, packages=packages,
            )
        )
    _durations_from_products(session, views, tasks)
    git = provenance.git_info(session.root)
    inputs = _inputs(views, tasks, produced, session.root)
    keep.keep_inputs(inputs, session.root, store, _inputs_spec(session.root), redactor)
    written = [Path(p) for p in produced] + [Path(v.notebook) for v in views if v.notebook]
    written += [Path(store.root)] if store.local else []  # the store (or the spool) it is recorded in
    written += [Path(settings.store)] if "://" not in settings.store else []
    changes = keep.uncommitted(session.root, store, redactor, exclude=written) if git and git.get("dirty") else None
    warning = provenance.kernel_warning({t.name: t.kernel for t in tasks if t.kernel})
    if warning and not session.kernel_warned:  # once per build, even when recorded twice (spool)
        session.kernel_warned = True
        print(redact.redact_text(warning), file=sys.stderr)
    record = RunRecord(
        run_id=session.run_id,
        status=run_status,
        started_at=records.isoformat(session.started),
        ended_at=records.isoformat(ended),
        duration_s=round((ended - session.started).total_seconds(), 3),
        nbprod_version=__version__,
        command=[Path(session.argv[0]).name, *session.argv[1:]] if session.argv else [],
        user=records.current_user(),
        host=records.current_host(),
        project=_project(session.root, session.spec_files),
        git=git,
        python=provenance.python_info(),
        packages=packages,
        inputs=inputs,
        tasks=tasks,
        # a signal swallowed while a finished build was being recorded did not interrupt it
        interrupted_by=session.interrupted_by if run_status == records.INTERRUPTED else None,
        metrics_spec=session.metrics_spec,
        tags=list(session.tags),
        note=session.note,
        smoke=session.smoke,
        uncommitted=changes,
    )
    failed = [t.error for t in tasks if t.error is not None]
    if failed:
        record.error = failed[0]
    elif run_status == records.FAILED and traceback_text:
        record.error = _error_from_traceback(traceback_text, task="?")
    if redactor:
        record = RunRecord.from_dict(redactor.obj(record.to_dict()))
    record.recording_s = round(time.perf_counter() - t0, 3)
    return record


def _inputs_spec(root: Path):
    """nbprod.yaml's ``inputs:`` (validated when the DAG rendered; edited since: the defaults)."""
    from .. import project
    from ..errors import ConfigError

    try:
        return project.load(root).inputs
    except ConfigError:
        return project.InputsSpec()


def _bound_outputs(views: list[TaskView], limit_mb: float) -> None:
    """Cut cell outputs larger than NBPROD_MAX_OUTPUT_MB in each executed notebook, in place
    (before anything is hashed), saying so one line per output."""
    from . import outputs

    for view in views:
        notebooks = {p for _, p in view.product_files() if p.suffix == ".ipynb"}
        notebooks |= {Path(view.notebook)} if view.notebook else set()
        for path in sorted(notebooks):
            for line in outputs.bound(path, limit_mb):
                print(redact.redact_text(f"nbprod: task '{view.name}', {line}"), file=sys.stderr)


def _redact_files(views: list[TaskView], redactor: redact.Redactor) -> set[Path]:
    """Redact every executed notebook and text product in place, before anything is
    hashed. Returns the files that could not be rewritten (read-only): those are stored
    from redacted bytes instead, so the secret still never reaches the store."""
    files = {p for v in views for _, p in v.product_files()}
    files |= {Path(v.notebook) for v in views if v.notebook}
    kept = redactor.files_in_place(files, warn=lambda line: print(line, file=sys.stderr))
    from .scraps import redact_payloads_in_place

    redact_payloads_in_place({p for p in files if p.suffix == ".ipynb" and p not in kept}, redactor)
    return kept


def _task_record(session, view, store, settings, run_status, elapsed, traceback_text, redactor=None, unredacted=frozenset(),
                 *, packages=None):
    status = _STATUS.get(view.outcome)
    if status == records.TASK_SUCCEEDED and view.name in session.fetched:
        status = records.TASK_FETCHED
    if status is None:  # still waiting / executing when the build stopped
        touched = any(
            p.stat().st_mtime >= session.started_clock for _, p in view.product_files()
        ) or (view.notebook and Path(view.notebook).exists() and Path(view.notebook).stat().st_mtime >= session.started_clock)
        interrupted = run_status == records.INTERRUPTED and touched
        status = records.TASK_INTERRUPTED if interrupted else records.TASK_NOT_RUN
    task = TaskRecord(
        name=view.name,
        kind=view.kind,
        status=status,
        source=_relative(view.source, session.root),
        params=view.params,
        upstream=view.upstream,
    )
    # the source as it is now, for every task (a skipped one's is the code its products came from)
    task.source_sha256, text = provenance.source_digest(view.kind, view.source, session.root)
    if text is not None:  # a function's text is kept: `runs diff` says it changed, the store says how
        data = text.encode()
        stored = store.put_bytes(redactor.bytes(data) if redactor else data)
        task.source_object = {"sha256": stored["sha256"], "size": stored["size"], "key": stored["key"]}
    if status in (records.TASK_ABORTED, records.TASK_NOT_RUN):
        return task
    partial = status in (records.TASK_FAILED, records.TASK_INTERRUPTED)
    files = list(view.product_files())
    # one batch per task: on S3 the uploads run concurrently (see Store.put_files)
    uploads = store.put_redacted([path for _, path in files], redactor, unredacted)
    for (key, path), stored in zip(files, uploads):
        task.products.append(
            {
                "name": key,
                "path": _relative(str(path), session.root),
                "sha256": stored["sha256"],
                "size": stored["size"],
                "partial": partial,
            }
        )
    nb = None
    if view.notebook and Path(view.notebook).is_file():
        nb_path = Path(view.notebook)
        # by content, like products: when the executed notebook is also a
        # product (ploomber's `nb`), it is stored once, and not asked for again
        as_product = {Path(path).resolve(): up for (_, path), up in zip(files, uploads)}.get(nb_path.resolve())
        if as_product is not None:
            stored = as_product
        else:
            data = nb_path.read_bytes()
            stored = store.put_bytes(redactor.bytes(data) if redactor else data)
        task.notebook = {"key": stored["key"], "sha256": stored["sha256"], "size": stored["size"]}
        nb = executed.load(nb_path)
        start, end, duration = executed.timing(nb)
        task.started_at, task.ended_at = start, end
        task.duration_s = round(duration, 3) if duration is not None else None
        task.timing = "notebook" if duration is not None else None
        task.scraps = _scraps(nb_path, store, settings, redactor)
    # the kernel of a notebook that ran in this build: its executed notebook's kernelspec, else
    # (an HTML product: ploomber deletes the .ipynb) the source notebook's, which ploomber used
    kernel = provenance.kernel_name(nb) or (provenance.source_kernel_name(view.source, session.root)
                                            if view.kind == "notebook" else None)
    if kernel and status in (records.TASK_SUCCEEDED, records.TASK_FAILED, records.TASK_INTERRUPTED):
        task.kernel = provenance.kernel_info(kernel, session.kernels,
                                             packages if packages is not None else provenance.package_versions())
    if task.duration_s is None and view.name in elapsed and status == records.TASK_SUCCEEDED:
        task.duration_s, task.timing = round(float(elapsed[view.name]), 3), "ploomber"
    if status == records.TASK_SKIPPED:
        task.duration_s = 0.0
    if status == records.TASK_FETCHED:  # the notebook's times are the machine's that ran it
        task.duration_s = round(float(elapsed.get(view.name, 0.0)), 3)
    if partial:
        task.error = executed.find_error(nb, view.name, traceback_text) if nb is not None else None
        if task.error is None and traceback_text:
            task.error = _error_from_traceback(traceback_text, task=view.name)
        if task.error is None and status == records.TASK_INTERRUPTED:
            task.error = ErrorInfo(task=view.name, ename="KeyboardInterrupt", evalue=session.interrupted_by or "interrupted")
    return task


def _durations_from_products(session: Session, views: list[TaskView], tasks: list[TaskRecord]) -> None:
    """Times of succeeded tasks nothing else timed: a function task in a failed build
    (ploomber hands its timings to ``on_finish`` only). Measured from the latest of the
    build's start and its upstream tasks' last product writes to its own last product
    write (``timing: products``): an upper bound, exact for tasks that run one after another."""
    def written(view: TaskView) -> float | None:
        times = [p.stat().st_mtime for _, p in view.product_files()]
        return max(times) if times and max(times) >= session.started_clock else None

    ends = {view.name: written(view) for view in views}
    for view, task in zip(views, tasks):
        end = ends[view.name]
        if task.status != records.TASK_SUCCEEDED or task.duration_s is not None or end is None:
            continue
        start = max([session.started_clock, *(ends[u] for u in view.upstream if ends.get(u) is not None)])
        if end >= start:
            task.started_at, task.ended_at = (records.isoformat(datetime.fromtimestamp(t, timezone.utc)) for t in (start, end))
            task.duration_s, task.timing = round(end - start, 3), "products"


def _scraps(nb_path: Path, store: Store, settings: Settings, redactor=None) -> dict[str, Any]:
    """The notebook's scraps; large ones stored as artifacts, redacted (the notebook
    was redacted in place already, unless it could not be rewritten)."""
    from . import scraps

    found = {}
    try:
        items = scraps.read_scraps(str(nb_path))
    except Exception as err:  # a notebook scrapbook cannot read is still recorded
        print(redact.redact_text(f"nbprod: could not read scraps of {nb_path}: {err}"), file=sys.stderr)
        return found
    for scrap in items:
        entry, blob = scraps.encode(scrap, settings.inline_max)
        if blob is not None:
            stored = store.put_bytes(redactor.bytes(blob) if redactor else blob)
            entry["artifact"] = {"sha256": stored["sha256"], "size": stored["size"]}
        found[scrap.name] = entry
    return found


def _made_by_pipeline(path: Path, produced: set[str]) -> bool:
    """A product itself, or a file inside a folder product."""
    return str(path) in produced or any(str(parent) in produced for parent in path.parents)


def _inputs(views, tasks, produced, root) -> list[dict[str, Any]]:
    """Input data: parameters naming existing files the pipeline did not produce,
    plus what notebooks declared in an ``nbprod_inputs`` scrap."""
    found: dict[str, dict[str, Any]] = {}
    for view in views:
        for key, value in view.params.items():
            if not isinstance(value, str) or not value or len(value) > 4096:
                continue
            path = Path(value) if Path(value).is_absolute() else root / value
            try:
                is_file = path.is_file()
            except OSError:
                is_file = False
            if is_file and not _made_by_pipeline(path.resolve(), produced):
                found[str(path.resolve())] = {
                    "name": path.name,
                    "path": _relative(str(path), root),
                    "sha256": sha256_file(path),
                    "size": path.stat().st_size,
                    "declared_by": f"param {view.name}.{key}",
                }
    for task in tasks:
        declared = task.scraps.get("nbprod_inputs", {}).get("value")
        if isinstance(declared, dict):
            for name, info in declared.items():
                info = info if isinstance(info, dict) else {"sha256": info}
                ident = str(info.get("path") or name)
                found.setdefault(
                    ident,
                    {
                        "name": name,
                        "path": info.get("path"),
                        "sha256": info.get("sha256"),
                        "size": info.get("size"),
                        "declared_by": f"scrap {task.name}.nbprod_inputs",
                    },
                )
    return list(found.values())


def _project(root: Path, used: dict[str, str] | None = None) -> dict[str, Any]:
    """The project's spec files, hashed: those the build used (``{role: path}`` from the
    engine: ``entry_point``, ``env``), by their names; without that, SPEC_FILES beside root."""
    chosen = [(role, Path(path)) for role, path in (used or {}).items()]
    if not chosen:
        chosen = [(None, root / name) for name in SPEC_FILES]
    files = {}
    for role, path in chosen:
        if path.is_file():
            entry = {"sha256": sha256_file(path), "size": path.stat().st_size}
            if role:
                entry["role"] = role
            files[_relative(str(path), root)] = entry
    return {"root": str(root), "name": root.name, "files": files}


def _relative(path: str | None, root: Path) -> str | None:
    if not path:
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _error_from_traceback(text: str, task: str) -> ErrorInfo:
    """For tasks without a notebook (functions) or whose notebook shows nothing: ploomber's
    real message, a function's file and line (see :func:`executed.error_from_traceback`)."""
    return executed.error_from_traceback(text, task)
