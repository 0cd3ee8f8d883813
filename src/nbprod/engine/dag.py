"""Loading and building a ploomber DAG the way ``ploomber build`` does, with nbprod's hooks.

ploomber (last release 2024) is kept behind :mod:`nbprod.engine` so it can be
replaced: this module runs ``ploomber build`` with ploomber's own argument
parser, attaches nbprod's recording hooks to any DAG (so ``nbprod build``
records projects that never heard of nbprod), and turns ploomber's errors into
one line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import NbprodError, PipelineError

# ploomber's telemetry and update check phone home; nbprod runs offline.
QUIET_ENV = {"PLOOMBER_STATS_ENABLED": "false", "PLOOMBER_VERSION_CHECK_DISABLED": "true"}


def quiet_ploomber() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def build(argv: list[str], loaded: list | None = None) -> Any:
    """Run ``ploomber build`` with ``argv``, with nbprod's hooks attached.

    Reuses ploomber's own argument parser (every ``ploomber build`` option and
    ``--env--NAME`` works), intercepting the loaded DAG to attach the hooks.
    ploomber errors propagate; :func:`explain` turns them into one line.
    ``loaded`` (a list) receives the DAG once it is loaded.
    """
    quiet_ploomber()
    from ploomber.cli import build as ploomber_build
    from ploomber.cli.parsers import CustomParser

    class RecordingParser(CustomParser):
        def load_from_entry_point_arg(self):
            dag, args = super().load_from_entry_point_arg()
            attach(dag, entry_point=self.parse_entry_point_value(), argv=["nbprod", "build", *argv])
            if loaded is not None:
                loaded.append(dag)
            return dag, args

    saved_argv, saved_parser = sys.argv, ploomber_build.CustomParser
    sys.argv = ["nbprod build", *argv]
    ploomber_build.CustomParser = RecordingParser
    try:
        return ploomber_build.main(catch_exception=False)
    finally:
        sys.argv, ploomber_build.CustomParser = saved_argv, saved_parser


def explain(err: BaseException, limit: int = 400) -> str:
    """One line for an error ploomber raised while loading or building.

    ploomber wraps the real cause (a YAML error, a missing file) in layers of
    banners; the deepest exception in the chain says what is wrong, so its
    meaningful lines are joined into one.
    """
    chain = []
    current: BaseException | None = err
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    for exc in reversed(chain):
        lines = _meaningful_lines(str(exc))
        if lines:
            text = " ".join(" ".join(lines).split())
            return text if len(text) <= limit else text[: limit - 3] + "..."
    return type(err).__name__


def _meaningful_lines(text: str) -> list[str]:
    """The message lines of ploomber's report: no banners, no traceback frames, nothing
    after its ``Summary`` banner (which repeats the task names)."""
    skip = ("====", "----", "Need help", "Traceback", "Summary")
    found: list[str] = []
    in_traceback = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Traceback"):
            in_traceback = True
            continue
        if in_traceback and raw[:1].isspace():  # a frame or its source line
            continue
        in_traceback = False
        if line.startswith("=") and "Summary" in line:
            break
        if not line.startswith(skip):
            found.append(line)
    return found


def as_pipeline_error(err: BaseException) -> "NbprodError":
    """nbprod's own error if one caused ``err`` (ploomber wraps hook errors), else a PipelineError."""
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, NbprodError):
            return current
        current = current.__cause__ or current.__context__
    return PipelineError(explain(err), hint="fix pipeline.yaml / the notebook and run again")


def attach(dag, *, entry_point: str | None = None, argv: list[str] | None = None) -> None:
    """Attach nbprod's recording hooks to a DAG, keeping the user's own hooks.

    A DAG whose pipeline.yaml already names nbprod's hooks is left as it is,
    so a build is never recorded twice.
    """
    from . import hooks

    dag._nbprod_entry_point = entry_point
    dag._nbprod_argv = list(argv or sys.argv)

    def chain(ours, theirs, extra: tuple[str, ...]):
        if theirs is None or getattr(theirs, "__module__", None) == hooks.__name__:
            return ours
        if getattr(getattr(theirs, "callable", None), "__module__", None) == hooks.__name__:
            return theirs  # a DottedPath to nbprod's own hook
        return ChainedHook(ours, theirs, ("dag", *extra))

    dag.on_render = chain(hooks.on_render, dag.on_render, ())
    dag.on_finish = chain(hooks.on_finish, dag.on_finish, ("report",))
    dag.on_failure = chain(hooks.on_failure, dag.on_failure, ("traceback",))


class ChainedHook:
    """The project's own DAG hook, then nbprod's.

    A class, not a closure: ploomber pickles the DAG (hooks included) to build
    function tasks in a subprocess.
    """

    def __init__(self, ours, theirs, names: tuple[str, ...]):
        self.ours, self.theirs, self.names = ours, theirs, names

    @property
    def __signature__(self):
        return _signature(self.names)

    def __call__(self, dag, **kwargs):
        from ploomber.util.util import callback_check

        available = {**dag._available_callback_kwargs, "dag": dag, **kwargs}
        try:
            self.theirs(**callback_check(self.theirs, available))
        finally:
            self.ours(dag, **kwargs)


def _signature(names: tuple[str, ...]):
    import inspect

    return inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )


