"""Build a recorded run again (``nbprod reproduce``): the engine's one entry for it.

:func:`replay` is :func:`~nbprod.engine.build.run_build` with three differences, all
applied once the DAG is loaded and before it renders (``run_build``'s ``prepare``):

- *the recorded parameters win*: each task's parameters, as the spec renders them now,
  are compared with the ones the run recorded (canonical JSON; a path under the original
  project is compared as the same path under the reproduction's). A value that differs
  is replaced by the recorded one, one line each. What cannot be given again safely is
  refused before any task runs, one line naming the task and the parameter: a parameter
  only one side has, a task the pipeline no longer has, a recorded value that was
  redacted (it held a secret) or that is the ``repr`` of an object JSON cannot hold.
- the record's ``command`` is the original's (what was built again), not this call's;
- it runs in ``cwd`` with ``environ`` set (the store to record into, the env file), and
  both are put back afterwards.

A build that fails is still a reproduction (the run is recorded, and compared): its
record is returned like a successful one's. Only ploomber is asked here; what the
comparison needs is in the record.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Callable, Iterator

from ..errors import BuildFailedError, NotReproducibleError
from ..schema import RunRecord

REDACTED = "[redacted:"


def replay(argv: list[str], *, params: dict[str, dict[str, Any]], command: list[str], cwd: str,
           environ: dict[str, str], moved: list[tuple[str, str]] = (), smoke: bool = False,
           say: Callable[[str], None] = print) -> RunRecord | None:
    """Build with ploomber's options ``argv`` (``--force`` added) in ``cwd``, every task given
    its recorded ``params`` ({task: {name: value}}); the new run's record (None: nothing
    was recorded). ``moved``: (original root, new root) prefixes of paths in parameters."""
    from .build import run_build
    from .hooks import build_of

    loaded: list = []

    def prepare(dag) -> None:
        recorded_params_win(dag, params, moved, say)
        dag._nbprod_argv = list(command)
        loaded.append(dag)

    with _inside(cwd, environ):
        try:
            run_build([*argv, *([] if {"-f", "--force"} & set(argv) else ["--force"])], err=say, smoke=smoke,
                      prepare=prepare)
        except BuildFailedError as failed:  # recorded; a failure is compared like any other outcome
            say(f"nbprod: {failed}")
    build = build_of(loaded[0]) if loaded else None
    return build.record if build is not None else None


@contextlib.contextmanager
def _inside(cwd: str, environ: dict[str, str]) -> Iterator[None]:
    saved_cwd, saved = os.getcwd(), {key: os.environ.get(key) for key in environ}
    os.environ.update(environ)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def recorded_params_win(dag, recorded: dict[str, dict[str, Any]], moved=(), say: Callable[[str], None] = print) -> None:
    """Give every task of ``dag`` its ``recorded`` parameters (see the module docstring), or
    raise :class:`NotReproducibleError` naming each task and parameter that cannot be."""
    from .tasks import _plain_params

    problems: list[str] = []
    changes: list[tuple[Any, str, Any, str]] = []
    names = list(dag)
    problems += [f"task '{name}' of the run is not in the pipeline at its commit"
                 for name in recorded if name not in names]
    for name in names:
        if name not in recorded:
            continue
        task = dag[name]
        now = _plain_params(task.params)
        wanted = {key: _moved(value, moved) for key, value in recorded[name].items()}
        for key in sorted(set(now) | set(wanted)):
            where = f"task '{name}', parameter '{key}'"
            if key not in wanted:
                problems.append(f"{where}: the pipeline passes it now, the run did not record it")
            elif key not in now:
                problems.append(f"{where}: recorded, but the pipeline no longer passes it")
            elif _canon(now[key]) == _canon(wanted[key]) or _canon(_redacted(now[key])) == _canon(wanted[key]):
                continue
            elif REDACTED in _canon(wanted[key]):
                problems.append(f"{where}: its recorded value was redacted (it held a secret value), "
                                "so it cannot be given again")
            elif not _json_safe(task.params.get(key)):
                problems.append(f"{where}: its value is an object ({type(task.params.get(key)).__name__}) "
                                "the record holds only as text")
            else:
                changes.append((task, key, wanted[key], f"nbprod: {where} renders as {_canon(now[key])} here, "
                                                        f"recorded {_canon(wanted[key])}: the recorded value is used"))
    if problems:  # refused before anything is changed
        raise NotReproducibleError("; ".join(problems), hint="the run cannot be built again with its own parameters",
                                   task=problems[0])
    for task, key, value, line in changes:
        task.params._setitem(key, value)
        say(line)


def _moved(value: Any, moved) -> Any:
    """``value`` with each original project path prefix replaced by the reproduction's."""
    if isinstance(value, str):
        for old, new in moved:
            if value == old or value.startswith(old.rstrip("/") + "/"):
                return new + value[len(old):]
        return value
    if isinstance(value, list):
        return [_moved(v, moved) for v in value]
    if isinstance(value, dict):
        return {k: _moved(v, moved) for k, v in value.items()}
    return value


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _redacted(value: Any) -> Any:
    from ..redact import redact_obj

    return redact_obj(value)


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False
