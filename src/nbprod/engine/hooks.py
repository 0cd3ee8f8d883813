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

import sys

from .. import schema
from ..record.lifetime import Build
from ..record.session import Session

ATTRIBUTE = "_nbprod_build"  # where a DAG keeps its Build


def on_render(dag) -> None:
    """Start recording a build (idempotent: ploomber may render more than once)."""
    from .. import project
    from .entry import project_root
    from .params import check_params
    from .repair import reset_failed
    from .tasks import describe, to_download

    check_params(dag)
    build = build_of(dag)
    if build is not None and not build.done:
        build.session.fetched = to_download(dag)
        return
    entry_point = getattr(dag, "_nbprod_entry_point", None)
    argv = getattr(dag, "_nbprod_argv", None) or _command_line()
    root = project_root(entry_point)
    specs = [spec.to_dict() for spec in project.load(root).metrics]  # a bad nbprod.yaml stops the build here
    session = Session(root=root, argv=[str(a) for a in argv], fetched=to_download(dag), metrics_spec=specs)
    build = Build(session, describe=lambda: describe(dag), repair=lambda names: reset_failed(dag, names))
    setattr(dag, ATTRIBUTE, build)
    build.start()


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
