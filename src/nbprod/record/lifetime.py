"""A build's lifetime, from render to its final line, as one object.

Why one object: ploomber calls ``on_finish`` or ``on_failure`` but nothing when
a build is interrupted (Ctrl-C, SIGTERM), and ploomber's own error report is
printed after the hooks ran. So a recorded build needs, besides the recording
itself, signal handlers that mark it interrupted, an ``atexit`` fallback that
records it then, and a failure sentence held back to be printed last. All of
that state belongs to one build: :class:`Build` holds it (no module globals),
installs its handlers when it starts and removes them when it is recorded.

The engine creates a ``Build`` when the DAG renders and hands it callables,
``describe()`` (the tasks as :class:`~nbprod.record.taskview.TaskView`),
``repair(names)`` (hide what a failed task wrote, so the next build runs it
again) and ``settle(record)`` (called last, recorded or not: the engine
remembers what each task ran on and releases the build lock), so nothing here
knows ploomber; the unit tests drive it with fabricated views.

Policy applied at the end (:meth:`Build.finish`): a build in which every task
was up to date executed nothing and is NOT recorded (a scheduler polling an
unchanged pipeline must not flood the store); nbprod says so on stdout. One task's attempt
within an orchestrator's run (``nbprod task``) is recorded whatever it did: the run needs it.

Secrets (:mod:`nbprod.redact`): when the environment holds any, :meth:`start`
wraps ``sys.stdout`` and ``sys.stderr`` for the rest of the process, so what
nbprod, ploomber and papermill print is redacted; the lines nbprod prints
itself are redacted explicitly as well.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .. import redact, schema
from .session import Session
from .taskview import TaskView

Describe = Callable[[], "list[TaskView]"]
Repair = Callable[[list[str]], "list[tuple[Path, Path]]"]
Settle = Callable[["schema.RunRecord | None"], None]


class Build:
    """One build being recorded."""

    def __init__(self, session: Session, *, describe: Describe, repair: Repair | None = None,
                 settle: Settle | None = None, out=None, err=None):
        self.session = session
        self._describe = describe
        self._repair = repair
        self._settle = settle
        self._out, self._err = out, err  # default: sys.stdout / sys.stderr at print time
        self._pending: str | None = None  # the failure sentence, printed last
        self._handlers: dict[int, Any] = {}
        self._atexit = False
        self.token: object = None  # what the engine knows this build by (not pickled)
        self.record: schema.RunRecord | None = None
        self._timer: threading.Timer | None = None  # NBPROD_BUILD_TIMEOUT

    @property
    def done(self) -> bool:
        return self.session.done

    # -- start ---------------------------------------------------------------
    def start(self) -> "Build":
        """Redact output, catch SIGINT/SIGTERM, and register the at-exit fallback."""
        _redact_output()
        self._install_signal_handlers()
        if not self._atexit:
            atexit.register(self._at_exit)
            self._atexit = True
        return self

    def limit(self, seconds: float | None) -> None:
        """Stop the build after ``seconds`` (NBPROD_BUILD_TIMEOUT) as SIGTERM would: the tasks
        stop, and the run is recorded as interrupted by the timeout. Only where this Build
        handles signals (the main thread); elsewhere the caller's own limits apply."""
        if not seconds or self._timer is not None or signal.SIGTERM not in self._handlers:
            return
        self._timer = threading.Timer(seconds, self._time_out, args=(seconds,))
        self._timer.daemon = True
        self._timer.start()

    def _time_out(self, seconds: float) -> None:
        import os

        if self.session.done:
            return
        self.session.interrupted_by = self.session.interrupted_by or f"NBPROD_BUILD_TIMEOUT ({seconds:g} s)"
        os.kill(os.getpid(), signal.SIGTERM)  # handled by _on_signal, in the main thread

    @property
    def timed_out(self) -> bool:
        return (self.session.interrupted_by or "").startswith("NBPROD_BUILD_TIMEOUT")

    def attach(self, *, repair: Repair | None = None, settle: Settle | None = None) -> None:
        """Callables the engine has only once the build starts (it rendered earlier)."""
        self._repair = repair or self._repair
        if self._settle is not None and settle is not None:
            raise RuntimeError("this build is settled already")
        self._settle = settle or self._settle

    def abandon(self) -> None:
        """A build that will never finish (its caller raised past ploomber's hooks): record
        nothing, let go of what it holds (the engine's settle, handlers, at-exit)."""
        self.session.done = True
        settle, self._settle = self._settle, None
        try:
            if settle is not None:
                settle(None)
        finally:
            self._restore_signal_handlers()
            self._describe = self._repair = None
            self._unregister()

    # -- end -----------------------------------------------------------------
    def finish(self, status: str, *, elapsed: dict[str, float] | None = None,
               traceback_text: str | None = None, settings=None) -> schema.RunRecord | None:
        """Record the build (once): the record, or None when nothing ran."""
        from .recorder import SPOOLED, record_run

        session = self.session
        if session.done:
            return None
        session.done = True
        started = time.perf_counter()
        if session.interrupted_by:
            status = schema.INTERRUPTED
        try:
            views = self._describe()
            if status == schema.SUCCEEDED and all(v.outcome == "skipped" for v in views) and not session.part:
                self.say(f"nbprod: nothing ran ({len(views)} tasks up to date): no run recorded")
                return None
            settings = settings or _settings(session)  # the default store is the project's
            if session.part:  # `nbprod task`: one attempt within a run, kept as a part of it
                from .attempts import record_attempt

                record, where = record_attempt(session, views, status, elapsed=elapsed,
                                               traceback_text=traceback_text, settings=settings)
            else:
                record, where = record_run(session, views, status, elapsed=elapsed,
                                           traceback_text=traceback_text, settings=settings, say=self.say)
            self.record = record
            interrupted = record.status == schema.INTERRUPTED
            for state, what in ((schema.TASK_FAILED, "failed"), (schema.TASK_INTERRUPTED, "interrupted")):
                broken = [t.name for t in record.tasks if t.status == state]
                for old, new in (self._repair(broken) if self._repair and broken else []):
                    self.say(f"nbprod: moved product of {what} task aside: {old} -> {new.name}", err=True)
            then = (f"`nbprod task --assemble --run-id {record.run_id}` records the run once every task ran"
                    if session.part else f"see `nbprod runs show {record.run_id}`")
            self.say(  # an interrupted build's lines are one block on stderr, its final line last
                f"nbprod: run {record.run_id} {record.status}, recorded in {where} "
                f"({time.perf_counter() - started:.2f} s to record); {then}",
                err=interrupted,
            )
            if where.startswith(SPOOLED) and record.status == schema.SUCCEEDED and settings.require_store:
                from ..errors import StoreError

                raise StoreError(
                    f"run {record.run_id} succeeded but is only in {where}, and NBPROD_REQUIRE_STORE=1",
                    hint="run `nbprod push` where that spool is, or fix the store and build again",
                    run_id=record.run_id,
                )
            # the record is redacted already; the sentence is redacted again when taken
            if record.status == schema.INTERRUPTED:
                during = f" during task '{record.error.task}'" if record.error else ""
                self._pending = f"run {record.run_id} interrupted by {record.interrupted_by}{during}"
            elif record.status != schema.SUCCEEDED:
                what = record.error.sentence() if record.error else "no task error recorded"
                self._pending = f"run {record.run_id} {record.status}: {what}"
            return record
        finally:
            settle, self._settle = self._settle, None
            try:
                if settle is not None:  # after the repair: the project folder as the record says
                    settle(self.record)
            finally:
                self._restore_signal_handlers()
                self._describe = self._repair = None  # let the DAG go (a pending line may keep this Build)
                self.token = None
            if self._pending is None:
                self._unregister()

    def take_final_line(self) -> str | None:
        """The failure sentence not yet printed (a caller that prints it itself takes it)."""
        line, self._pending = self._pending, None
        if self.session.done:
            self._unregister()
        return redact.redact_text(line) if line else None

    def _unregister(self) -> None:
        if self._atexit:
            atexit.unregister(self._at_exit)
            self._atexit = False

    def say(self, line: str, err: bool = False) -> None:
        """Print one of nbprod's lines, redacted (a store URL or an error may hold a secret)."""
        stream = (self._err or sys.stderr) if err else (self._out or sys.stdout)
        print(redact.redact_text(line), file=stream)

    # -- interruption --------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._handlers:
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            current = signal.getsignal(signum)
            if current in (signal.SIG_DFL, signal.default_int_handler):
                self._handlers[signum] = current
                signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in list(self._handlers.items()):
            signal.signal(signum, handler)
        self._handlers.clear()

    def _on_signal(self, signum, frame):
        _mute_abandoned_kernel_tasks()
        session = self.session
        session.interrupted_by = session.interrupted_by or signal.Signals(signum).name
        if not session.done:  # never interrupt the recording itself
            _stop_workers()
            raise KeyboardInterrupt(session.interrupted_by)

    def _at_exit(self) -> None:
        if self.session.interrupted_by and not self.session.done:
            try:
                self.finish(schema.INTERRUPTED)
            except BaseException as err:  # at exit nothing can be raised to anyone
                self.say(f"nbprod: could not record interrupted run: {err}", err=True)
        line = self.take_final_line()
        if line:
            import gc

            gc.collect()  # let asyncio report abandoned kernel tasks now, not after our line
            sys.stdout.flush()
            print(f"nbprod: {line}", file=sys.stderr, flush=True)

    # -- pickling ------------------------------------------------------------
    def __getstate__(self):
        """ploomber pickles the DAG (this object rides on it) to build function tasks
        in a subprocess: the copy there is inert (done, no callables, no handlers)."""
        state = dict(self.__dict__)
        state.update(_describe=list, _repair=None, _settle=None, _handlers={}, _atexit=True, _out=None, _err=None,
                     token=None, _timer=None)
        state["session"] = self.session.detached()
        return state


def _stop_workers() -> None:
    """Stop the worker processes of a parallel executor (ploomber's ``executor: parallel``):
    the pool would otherwise wait for each running task, kernel included, to finish before
    the interruption reaches the build (a first SIGTERM seemed ignored). Killed, not
    terminated: a forked worker inherited this handler and would print a traceback. Each
    worker's kernel exits with it (ipykernel watches its parent).

    Only process-pool workers (``concurrent.futures``): a ``multiprocessing.Pool`` (ploomber's
    serial executor runs function tasks in one) would wait forever for a killed worker's
    result, and any other child is not ours to stop."""
    import gc
    from concurrent.futures import ProcessPoolExecutor

    # the executors alive in this process (a Process forgets its target once started)
    for executor in [o for o in gc.get_objects() if isinstance(o, ProcessPoolExecutor)]:
        for worker in list((getattr(executor, "_processes", None) or {}).values()):
            if worker.is_alive():
                worker.kill()


def _mute_abandoned_kernel_tasks() -> None:
    """An interrupted cell leaves nbclient's asyncio tasks with a KeyboardInterrupt nobody
    retrieves; asyncio logs each with its chained tracebacks (~100 lines) when collected.
    The run records the interruption; the tracebacks are shown only with NBPROD_DEBUG=1."""
    import logging
    import os

    if os.environ.get("NBPROD_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _AbandonedTasks) for f in asyncio_log.filters):
        asyncio_log.addFilter(_AbandonedTasks())


class _AbandonedTasks:
    def filter(self, record) -> bool:
        return "exception was never retrieved" not in str(record.msg)


def _settings(session: Session):
    from ..settings import Settings

    return Settings.from_env(root=session.root)


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
