"""``nbprod run``: papermill with the ``nbprod`` engine, its outcome as nbprod's errors.

The engine (:mod:`nbprod.runner.engine`) checks and records; this only maps what
papermill raises to nbprod's exit codes: a refused parameter is the engine's
:class:`~nbprod.errors.ConfigError` (2), a failed cell or a dead kernel a
:class:`~nbprod.errors.BuildFailedError` carrying the run's final line (1),
Ctrl-C or SIGTERM a :class:`~nbprod.errors.BuildInterruptedError` (130).
"""

from __future__ import annotations

import sys
from typing import Any

from .. import schema
from ..errors import BuildFailedError, BuildInterruptedError, ConfigError

ENGINE = "nbprod"  # the name pyproject.toml registers NbprodEngine under


def run_notebook(input_path: str, output_path: str, parameters: dict[str, Any] | None = None, *,
                 argv: list[str] | None = None, kernel_name: str | None = None, cwd: str | None = None,
                 execution_timeout: int | None = None, log_output: bool = False, progress_bar: bool = False,
                 **papermill_options) -> schema.RunRecord | None:
    """Execute ``input_path`` into ``output_path`` with ``parameters``, checked and recorded."""
    import papermill
    from papermill.exceptions import PapermillException

    runs: list = []
    try:
        papermill.execute_notebook(
            input_path, output_path, parameters=dict(parameters or {}), engine_name=ENGINE,
            kernel_name=kernel_name, cwd=cwd, execution_timeout=execution_timeout, log_output=log_output,
            progress_bar=progress_bar, nbprod_argv=list(argv or sys.argv), nbprod_runs=runs, **papermill_options)
    except KeyboardInterrupt:
        line = runs[0].build.take_final_line() if runs else None
        raise BuildInterruptedError(line or "interrupted before the notebook ran: nothing recorded") from None
    except ConfigError:
        raise
    except FileNotFoundError as err:
        if runs:
            raise
        raise ConfigError(f"{err.filename or input_path}: no such file", hint="check the notebook's path") from None
    except (PapermillException, Exception) as err:
        if not runs or runs[0].build.record is None:
            raise
        line = runs[0].build.take_final_line()
        raise BuildFailedError(line or f"{type(err).__name__}: {err}") from None
    return runs[0].build.record if runs else None
