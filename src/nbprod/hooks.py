"""The ploomber hooks that record every build.

Name them in pipeline.yaml (DAG level) and ``ploomber build`` records its runs::

    on_render: nbprod.hooks.on_render
    on_finish: nbprod.hooks.on_finish
    on_failure: nbprod.hooks.on_failure

``nbprod build`` attaches the same hooks to any project's DAG, so both paths
record runs identically.

ploomber calls ``on_finish`` or ``on_failure`` but nothing when a build is
interrupted (Ctrl-C, SIGTERM): ``on_render`` therefore installs signal
handlers and an ``atexit`` fallback, which records the run as interrupted.
The one-sentence failure summary is printed at exit too, so it is the last
line of output even after ploomber's own error report.

Secrets (:mod:`nbprod.redact`): when the environment holds any, ``on_render``
wraps ``sys.stdout`` and ``sys.stderr`` for the rest of the process, so what
nbprod, ploomber and papermill print (ploomber's error report quotes the
failing cell's message, printed after the hooks ran) is redacted; the lines
nbprod prints itself are redacted explicitly as well.

A build in which every task was up to date executes nothing and is NOT
recorded (a scheduler polling an unchanged pipeline must not flood the store);
nbprod says so on stdout.
"""

from __future__ import annotations

import atexit
import signal
import time
import sys
import threading
from typing import Any

from . import records, redact

# builds in progress in this process: id(dag) -> (dag, Session). Strong
# references on purpose: the atexit fallback needs the DAG after ploomber's
# CLI frame that held it is gone.
_ACTIVE: dict[int, tuple[Any, Any]] = {}
_PENDING_LINES: list[str] = []
_HANDLERS: dict[int, Any] = {}
_atexit_registered = False


def on_render(dag) -> None:
    """Start recording a build (idempotent: ploomber may render more than once)."""
    from .pipeline import check_params, project_root
    from .recorder import Session

    check_params(dag)
    if id(dag) in _ACTIVE and not _ACTIVE[id(dag)][1].done:
        _ACTIVE[id(dag)][1].fetched = _to_download(dag)
        return
    entry_point = getattr(dag, "_nbprod_entry_point", None)
    argv = getattr(dag, "_nbprod_argv", None) or _command_line()
    from . import metricspec

    root = project_root(entry_point)
    specs = [spec.to_dict() for spec in metricspec.load(root)]  # a bad nbprod.yaml stops the build here
    session = Session(root=root, argv=[str(a) for a in argv], fetched=_to_download(dag), metrics_spec=specs)
    _ACTIVE[id(dag)] = (dag, session)
    _redact_output()
    _install_signal_handlers()
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True


def _redact_output() -> None:
    """Redact everything printed from now on in this process (when there are secrets).

    Installed for good, not undone when the build is recorded: ploomber prints its
    error report after ``on_failure`` returns."""
    if not redact.current():
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, redact.RedactingStream):
            setattr(sys, name, redact.RedactingStream(stream))


def _to_download(dag) -> set[str]:
    """Tasks whose products are up to date in the store (a File client): ploomber
    downloads them instead of running them, and the record says ``fetched``."""
    return {name for name in dag if getattr(dag[name].exec_status, "value", None) == "waiting_download"}


def _command_line() -> list[str]:
    """The command as typed: ploomber's CLI router rewrites sys.argv (drops "build")."""
    orig = getattr(sys, "orig_argv", None)
    if orig and len(orig) > 1 and not orig[1].startswith("-"):
        return list(orig[1:])  # [python, /path/ploomber, build, ...] -> script and args
    return list(sys.argv)


def on_finish(dag, report) -> None:
    # parameters must be required: ploomber passes only required ones
    elapsed = {}
    if report is not None:
        table = report.to_dict()
        elapsed = dict(zip(table.get("name", []), table.get("Elapsed (s)", [])))
    _finalize(dag, records.SUCCEEDED, elapsed=elapsed)


def on_failure(dag, traceback) -> None:
    text = "\n".join((traceback or {}).values()) if isinstance(traceback, dict) else traceback
    _finalize(dag, records.FAILED, traceback_text=text)


def take_final_line() -> str | None:
    """The failure sentence not yet printed (the CLI prints it itself)."""
    return redact.redact_text(_PENDING_LINES.pop()) if _PENDING_LINES else None


def session_for(dag):
    entry = _ACTIVE.get(id(dag))
    return entry[1] if entry else None


def _finalize(dag, status: str, *, elapsed=None, traceback_text=None):
    from .config import Settings
    from .pipeline import describe, reset_failed

    entry = _ACTIVE.get(id(dag))
    if entry is None:  # hooks called without on_render (e.g. a task built alone)
        on_render(dag)
        entry = _ACTIVE[id(dag)]
    session = entry[1]
    if session.done:
        return None
    session.done = True
    started = time.perf_counter()
    if session.interrupted_by:
        status = records.INTERRUPTED
    try:
        views = describe(dag)
        if status == records.SUCCEEDED and all(v.status == "skipped" for v in views):
            print(f"nbprod: nothing ran ({len(views)} tasks up to date): no run recorded")
            return None
        settings = Settings.from_env()
        record, where = _record_run(session, views, settings, status, elapsed, traceback_text)
        broken = [t.name for t in record.tasks if t.status in (records.TASK_FAILED, records.TASK_INTERRUPTED)]
        for old, new in reset_failed(dag, broken):
            _say(f"nbprod: moved product of failed task aside: {old} -> {new.name}", sys.stderr)
        _say(
            f"nbprod: run {record.run_id} {record.status}, recorded in {where} "
            f"({time.perf_counter() - started:.2f} s to record); see `nbprod runs show {record.run_id}`"
        )
        # the record is redacted already; the sentence is redacted again when taken
        if record.status == records.INTERRUPTED:
            where = f" during task '{record.error.task}'" if record.error else ""
            _PENDING_LINES[:] = [f"run {record.run_id} interrupted by {record.interrupted_by}{where}"]
        elif record.status != records.SUCCEEDED:
            what = record.error.sentence() if record.error else "no task error recorded"
            _PENDING_LINES[:] = [f"run {record.run_id} {record.status}: {what}"]
        return record
    finally:
        _ACTIVE.pop(id(dag), None)
        if not _ACTIVE:
            _restore_signal_handlers()


def _say(line: str, file=None) -> None:
    """Print one of nbprod's lines, redacted (a store URL or an error may hold a secret)."""
    print(redact.redact_text(line), file=file or sys.stdout)


def _record_run(session, views, settings, status, elapsed, traceback_text):
    """Store the run; when the store fails, keep it in the local spool instead.

    Returns (record, where it went). A spooled run is pushed by ``nbprod push``
    or automatically by the next nbprod command; runs spooled earlier for this
    store are pushed after a run that reached it.
    """
    from . import spool as spooling
    from .exceptions import StoreError
    from .recorder import build_record
    from .store import Store

    def record_into(store):
        record = build_record(
            session,
            views,
            store,
            settings=settings,
            run_status=status,
            elapsed=elapsed,
            traceback_text=traceback_text,
        )
        store.write_record(record)
        return record

    try:
        store = Store.from_settings(settings)
        record = record_into(store)
    except StoreError as err:
        _say(f"nbprod: warning: {err}", sys.stderr)
        spool = spooling.open_spool(settings, settings.store)
        record = record_into(spool)
        _say(
            f"nbprod: run {record.run_id} kept in the local spool {spool.url}: "
            f"`nbprod push` uploads it to {settings.store} once the store is back",
            sys.stderr,
        )
        return record, f"the local spool (store {settings.store} unavailable)"
    _push_spooled(settings, store)
    return record, store.url


def _push_spooled(settings, store) -> None:
    """Push runs spooled earlier for this store; a failure only warns."""
    from . import spool as spooling
    from .exceptions import StoreError

    waiting = spooling.pending_for(settings, store.url)
    if waiting is None:
        return
    spool, ids = waiting
    _say(f"nbprod: pushing {len(ids)} spooled run(s) to {store.url}")
    try:
        spooling.push(spool, store, log=_say)
    except StoreError as err:
        _say(f"nbprod: warning: spooled runs not pushed: {err}", sys.stderr)


# -- interruption -------------------------------------------------------------


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread() or _HANDLERS:
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            _HANDLERS[signum] = current
            signal.signal(signum, _on_signal)


def _restore_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in list(_HANDLERS.items()):
        signal.signal(signum, handler)
    _HANDLERS.clear()


def _on_signal(signum, frame):
    name = signal.Signals(signum).name
    recording = False
    for _, session in _ACTIVE.values():
        session.interrupted_by = session.interrupted_by or name
        recording = recording or session.done
    if not recording:  # never interrupt the recording itself
        raise KeyboardInterrupt(name)


def _at_exit() -> None:
    for dag, session in list(_ACTIVE.values()):
        if session.interrupted_by and not session.done:
            try:
                _finalize(dag, records.INTERRUPTED)
            except BaseException as err:  # at exit nothing can be raised to anyone
                _say(f"nbprod: could not record interrupted run: {err}", sys.stderr)
    line = take_final_line()
    if line:
        import gc

        gc.collect()  # let asyncio report abandoned kernel tasks now, not after our line
        sys.stdout.flush()
        print(f"nbprod: {line}", file=sys.stderr, flush=True)
