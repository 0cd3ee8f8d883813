"""``nbprod build``: one recorded build, ending in one of nbprod's errors when it did not succeed.

The CLI parses nothing itself (ploomber's own parser takes every ``ploomber
build`` option) and calls :func:`run_build`; what it prints at the end is the
build's final sentence, carried by the error: :class:`BuildFailedError` (exit
1), :class:`BuildInterruptedError` (exit 130), or a :class:`PipelineError`
(exit 2) when the pipeline did not even load.
"""

from __future__ import annotations

import re
import warnings
from typing import Callable

from ..errors import BuildFailedError, BuildInterruptedError, BuildTimedOutError


def run_build(argv: list[str], *, debug: bool = False, err: Callable[[str], None] = print,
              tags: list[str] | tuple[str, ...] = (), note: str | None = None, smoke: bool = False,
              junit: str | None = None, baseline: str | None = None, prepare=None, part: dict | None = None,
              promote: bool = False) -> None:
    """Build the pipeline with ploomber's options ``argv``, recorded.

    Warnings are held and printed as one line each (through ``err``) once the
    pipeline has loaded: a pipeline that fails to load prints exactly one line.
    """
    from .dag import as_pipeline_error, build
    from .hooks import build_of

    if baseline:
        _check_baseline(baseline)
    if promote and smoke:
        from ..errors import ConfigError

        raise ConfigError("--promote with --smoke: a smoke run never promotes a model",
                          hint="drop --promote (smoke parameters are not production's)")

    held = _one_line_warnings()
    loaded: list = []

    def flush() -> None:
        for line in held:
            err(line)
        held.clear()

    def recording():
        return build_of(loaded[0]) if loaded else None

    def final_line() -> str | None:
        return recording().take_final_line() if recording() is not None else None

    try:
        build(list(argv), loaded, tags=list(tags), note=note, smoke=smoke, junit=junit, baseline=baseline,
              prepare=prepare, part=part, promote=promote)
        flush()
    except KeyboardInterrupt as interrupt:
        flush()
        started = recording()
        if started is not None and not started.done:
            # recorded by the Build's at-exit fallback, after the kernels' asyncio tasks are
            # collected (they print tracebacks then), so that its sentence is the last line
            started.session.interrupted_by = started.session.interrupted_by or str(interrupt) or "SIGINT"
            raise (BuildTimedOutError if started.timed_out else BuildInterruptedError)("", deferred=True) from None
        raise BuildInterruptedError(final_line() or "build interrupted before anything was recorded") from None
    except SystemExit:
        raise
    except Exception as error:
        if debug:
            raise
        line = final_line()
        if line is None:  # nothing was recorded: the pipeline did not load or render
            raise as_pipeline_error(error) from error
        flush()
        detail = str(error).strip()
        if detail:
            err(detail)
        raise BuildFailedError(line) from None
    refused = recording().session.models_error if recording() is not None else None
    if refused is not None:  # `--promote` refused by a gate, or the registry not writable
        raise refused


def _check_baseline(ref: str) -> None:
    """A ``--baseline`` that names no run stops the build before it starts (exit 2); a store
    that cannot be asked now is not a reason not to build (the summary will say)."""
    from ..errors import RunNotFoundError, StoreError
    from ..settings import Settings
    from ..store import Store

    try:
        Store.from_settings(Settings.from_env()).resolve(ref)
    except RunNotFoundError as err:
        raise RunNotFoundError(f"--baseline: {err.message}", hint=err.hint, ref=ref) from None
    except StoreError:
        pass


def _one_line_warnings() -> list[str]:
    """Collect warnings as one line each, to print once the pipeline has loaded.

    ploomber's warnings span many lines (banners, source lines). A pipeline
    that fails to load must print exactly one line, its error, so warnings are
    held until we know the build ran.
    """
    held: list[str] = []

    def show(message, category, filename, lineno, file=None, line=None):
        text = re.sub(r"[=-]{5,}", " ", str(message))
        held.append(f"nbprod: warning: {' '.join(text.split())} ({category.__name__})")

    warnings.showwarning = show
    return held
