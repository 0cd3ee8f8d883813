"""The ploomber hooks that record every build.

Name them in pipeline.yaml (DAG level) and ``ploomber build`` records its runs::

    on_render: nbprod.hooks.on_render
    on_finish: nbprod.hooks.on_finish
    on_failure: nbprod.hooks.on_failure

(``nbprod.hooks`` forwards here.) ``nbprod build`` attaches the same hooks to
any project's DAG (:func:`nbprod.engine.dag.attach`), so both paths record
runs identically. Each hook is thin: the build's whole lifetime (signals,
at-exit fallback, the final line, the nothing-ran policy) is one
:class:`~nbprod.record.lifetime.Build`, kept on the DAG itself.
"""

from __future__ import annotations

import math
import sys

from .. import schema
from ..record.lifetime import Build
from ..record.session import Session

ATTRIBUTE = "_nbprod_build"  # where a DAG keeps its Build
_PREPARING = "_nbprod_preparing"  # set while _prepare renders the DAG again


def on_render(dag) -> None:
    """Start recording a build (idempotent: ploomber may render more than once).

    When the DAG is being built (not only rendered, as ``ploomber status`` does):
    take the project's build lock, run again what changed on disk since it last
    ran, and invalidate the metadata of every task about to run.
    """
    from .. import project
    from .entry import project_root
    from .params import check_params
    from .repair import reset_failed
    from .spec import spec_files
    from .tasks import describe, to_download

    check_params(dag)
    if getattr(dag, _PREPARING, False):  # the render _prepare asked for
        return
    building = _build_frame(dag)  # the DAG._build call this render belongs to, if any
    build = build_of(dag)
    if build is not None and not build.done:
        if building is None or building is build.token:  # rendered again by the same build
            build.session.fetched = to_download(dag)
            return
        if build.token is None:  # rendered first (dag.status(), --partially --skip-upstream), now built
            settle = _prepare(dag, build.session)
            build.attach(repair=settle.repair, settle=settle)
            build.token = building
            build.limit(settle.build_timeout)
            return
        # a previous dag.build() of this DAG raised past ploomber's hooks (debug, an executor's
        # own error): it will never finish; its lock goes, and this build is a new run
        _say(f"nbprod: warning: the previous build of this DAG (run {build.session.run_id}) ended "
             "without ploomber's hooks: it was not recorded")
        build.abandon()
    entry_point = getattr(dag, "_nbprod_entry_point", None)
    argv = getattr(dag, "_nbprod_argv", None) or _command_line()
    used = spec_files(dag)  # `ploomber build -e other/pipeline.yaml` too: the project is the spec's folder
    root = project_root(entry_point or used.get("entry_point"))
    specs = [spec.to_dict() for spec in project.load(root).metrics]  # a bad nbprod.yaml stops the build here
    labels = getattr(dag, "_nbprod_labels", None) or {}
    tags, note = schema.check_tags(labels.get("tags") or [], labels.get("note"))
    part = labels.get("part")  # `nbprod task NAME`: one task's attempt within run part["run_id"]
    session = Session(root=root, argv=[str(a) for a in argv], fetched=to_download(dag), metrics_spec=specs,
                      tags=tags, note=note, smoke=bool(labels.get("smoke")),
                      spec_files=used, part=part, **({"run_id": part["run_id"]} if part else {}))
    settle = _prepare(dag, session) if building is not None else None
    build = Build(session, describe=lambda: describe(dag, interrupted=session.interrupted_by is not None),
                  repair=settle.repair if settle else lambda names: reset_failed(dag, names),
                  settle=settle)
    build.token = building
    setattr(dag, ATTRIBUTE, build)
    build.start()
    if settle is not None:
        build.limit(settle.build_timeout)


class _Settle:
    """What a build does to the project folder once its run is recorded (or not):
    hide what failed tasks wrote, remember what the others ran on, let the next build in."""

    def __init__(self, dag, session, lock, memory, settings, build_timeout: float | None = None):
        self.dag, self.session, self.lock, self.memory = dag, session, lock, memory
        self.settings = settings
        self.build_timeout = build_timeout  # seconds, armed by the Build once it started
        labels = getattr(dag, "_nbprod_labels", None) or {}
        self.junit, self.baseline = labels.get("junit"), labels.get("baseline")  # `nbprod build --junit/--baseline`
        self.promote = bool(labels.get("promote"))  # `nbprod build --promote`

    def repair(self, names):
        from .repair import reset_failed

        since = self.session.started_clock
        return reset_failed(self.dag, names, written=lambda task, path: self.memory.written(task, path, since))

    def __call__(self, record) -> None:
        from .repair import clear_failed

        try:
            if record is not None:
                ok = [t.name for t in record.tasks if t.status in (schema.TASK_SUCCEEDED, schema.TASK_FETCHED)]
                clear_failed(self.dag, ok)
                self.memory.remember(record)
                self.memory.save()
        finally:
            self.lock.release()
            self.dag = None
        if record is not None:
            self._tell_ci(record)
            if not self.session.part:  # one task's attempt is not a run: its assembly registers
                self._models(record)

    def _models(self, record) -> None:
        """Register the versions of the models nbprod.yaml declares that this run produced,
        evaluated by their gates (and promoted, with ``--promote``). The run is recorded
        already: a failure here is one line, and the build's error only with ``--promote``."""
        from ..errors import NbprodError
        from ..models.runs import register_run
        from ..project import load
        from ..store import Store

        def say(line: str) -> None:
            print(line, file=sys.stderr)

        try:
            done = register_run(Store.from_settings(self.settings), load(self.session.root), record,
                                promote=self.promote, say=say)
        except Exception as err:  # the run is recorded: a registry failure never unmakes it
            say(f"nbprod: warning: run {record.run_id}: model versions not registered: {err}")
            if self.promote:
                self.session.models_error = err if isinstance(err, NbprodError) else NbprodError(
                    f"--promote: model versions not registered ({type(err).__name__}: {err})")
            return
        if self.promote and not done and record.status == schema.SUCCEEDED and not record.smoke:
            from ..errors import ConfigError

            self.session.models_error = ConfigError("--promote: nbprod.yaml declares no model",
                                                    hint="add a `models:` section (README, 'Models')")
        refused = next((d.refused for d in done if d.refused is not None), None)
        problem = next((d.problem for d in done if d.version is None and d.problem), None)
        if self.promote and (refused is not None or problem):
            from ..errors import GateRefusedError

            self.session.models_error = refused or GateRefusedError(problem, model=None, version=None)

    def _tell_ci(self, record) -> None:
        """GitHub annotations and job summary (on GitHub Actions), JUnit XML (``--junit``):
        after the lock is released, before the build's final line; never raises."""
        from ..ci.outcome import on_github, tell_ci
        from ..store import Store

        if self.junit or on_github():
            tell_ci(record, store=Store.from_settings(self.settings), junit=self.junit, baseline=self.baseline,
                    log=lambda line: print(line, file=sys.stderr))


def _prepare(dag, session) -> _Settle:
    """Lock the project, re-run what changed since it last ran, invalidate what will run."""
    from ..settings import Settings
    from ..store import Store
    from . import buildlock, freshness
    from .tasks import to_download

    settings = Settings.from_env(root=session.root)
    Store.from_settings(settings)  # a malformed NBPROD_STORE (s3:// without a bucket): exit 2 before any task
    cell_timeout, build_timeout = settings.timeouts(smoke=session.smoke)
    lock = buildlock.acquire(session.root, run_id=session.run_id, started=schema.isoformat(session.started),
                             timeout=settings.lock_timeout, say=_say)
    setattr(dag, _PREPARING, True)
    try:
        memory = freshness.Memory.load(session.root)
        for line in freshness.stale(dag, memory):
            _say(f"nbprod: {line}")
        freshness.invalidate(dag)
        memory.save()
        if session.part:
            from .attempt import begin_attempt

            begin_attempt(dag, session, Store.from_settings(settings))
    except BaseException:
        lock.release()
        raise
    finally:
        setattr(dag, _PREPARING, False)
    session.fetched = to_download(dag)
    if cell_timeout:
        limit_cells(dag, cell_timeout)
    return _Settle(dag, session, lock, memory, settings, build_timeout)


def limit_cells(dag, seconds: float) -> None:
    """Every notebook task's cells run at most ``seconds`` each (papermill's
    ``execution_timeout``): a cell past it fails its task with the cell named. A task's own
    ``executor_params: {execution_timeout: ...}`` in pipeline.yaml wins."""
    for name in dag:
        params = getattr(dag[name], "executor_params", None)
        if isinstance(params, dict):
            params.setdefault("execution_timeout", max(1, math.ceil(seconds)))  # nbclient takes an int


def _build_frame(dag):
    """The frame of ploomber's ``DAG._build`` this render is the first step of, or None
    (a render alone: ``ploomber status``, ``dag.plot()``)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_build" and frame.f_locals.get("self") is dag:
            return frame
        frame = frame.f_back
    return None


def _say(line: str) -> None:
    from .. import redact

    print(redact.redact_text(line), flush=True)


def on_finish(dag, report) -> None:
    # parameters must be required: ploomber passes only required ones
    from .tasks import elapsed

    _started(dag).finish(schema.SUCCEEDED, elapsed=elapsed(report))


def on_failure(dag, traceback) -> None:
    text = "\n".join((traceback or {}).values()) if isinstance(traceback, dict) else traceback
    _started(dag).finish(schema.FAILED, traceback_text=text)


def build_of(dag) -> Build | None:
    """The Build recording this DAG, if its hooks ran."""
    return getattr(dag, ATTRIBUTE, None)


def _started(dag) -> Build:
    build = build_of(dag)
    if build is None:  # hooks called without on_render (e.g. a task built alone)
        on_render(dag)
        build = build_of(dag)
    return build


def _command_line() -> list[str]:
    """The command as typed: ploomber's CLI router rewrites sys.argv (drops "build")."""
    orig = getattr(sys, "orig_argv", None)
    if orig and len(orig) > 1 and not orig[1].startswith("-"):
        return list(orig[1:])  # [python, /path/ploomber, build, ...] -> script and args
    return list(sys.argv)
