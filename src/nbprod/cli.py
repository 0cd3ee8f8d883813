"""The ``nbprod`` command line (click; heavy modules imported only inside commands).

nbprod's own errors (:class:`~nbprod.exceptions.NbprodError`) print as one line
on stderr and exit 1; ``--debug`` or ``NBPROD_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
import sys

import click


def _debug_requested() -> bool:
    return os.environ.get("NBPROD_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (or set NBPROD_DEBUG=1).")
@click.version_option(package_name="nbprod")
def cli(debug: bool) -> None:
    """nbprod: run notebooks as recorded, reproducible pipelines.

    The store is NBPROD_STORE (default: outputs/store).
    """
    if debug:
        os.environ["NBPROD_DEBUG"] = "1"


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("ploomber_args", nargs=-1, type=click.UNPROCESSED)
def build(ploomber_args: tuple[str, ...]) -> None:
    """Build a ploomber pipeline and record the run.

    Takes every `ploomber build` option (--force, --partially TASK,
    --entry-point PATH, --env--NAME VALUE, ...; see `nbprod build --help`).
    Works on any ploomber project, with or without nbprod hooks.
    """
    from . import hooks, pipeline
    from .exceptions import BuildFailedError, BuildInterruptedError

    held = _one_line_warnings()

    def flush_warnings():
        for line in held:
            click.echo(line, err=True)

    try:
        pipeline.build(list(ploomber_args))
        flush_warnings()
    except KeyboardInterrupt:
        flush_warnings()
        line = hooks.take_final_line()
        raise BuildInterruptedError(line or "build interrupted before anything was recorded") from None
    except SystemExit:
        raise
    except Exception as err:
        if _debug_requested():
            raise
        line = hooks.take_final_line()
        if line is None:  # nothing was recorded: the pipeline did not load or render
            raise pipeline.as_pipeline_error(err) from err
        flush_warnings()
        detail = str(err).strip()
        if detail:
            click.echo(detail, err=True)
        raise BuildFailedError(line) from None


def _one_line_warnings() -> list[str]:
    """Collect warnings as one line each, to print once the pipeline has loaded.

    ploomber's warnings span many lines (banners, source lines). A pipeline
    that fails to load must print exactly one line, its error, so warnings are
    held until we know the build ran.
    """
    import re
    import warnings

    held: list[str] = []

    def show(message, category, filename, lineno, file=None, line=None):
        text = re.sub(r"[=-]{5,}", " ", str(message))
        held.append(f"nbprod: warning: {' '.join(text.split())} ({category.__name__})")

    warnings.showwarning = show
    return held


@cli.group()
def runs() -> None:
    """List and inspect recorded runs."""


@runs.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="List every run (ignores --limit).")
def runs_ls(as_json: bool, limit: int, show_all: bool) -> None:
    """Recorded runs, newest first."""
    from . import views
    from .store import Store

    rows = Store.from_settings().summaries(limit=None if show_all else limit)
    click.echo(views.runs_json(rows) if as_json else views.runs_table(rows))


@runs.command("show")
@click.argument("run", default="latest")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
def runs_show(run: str, as_json: bool) -> None:
    """One run: RUN is a run id, a unique prefix of one, or `latest`."""
    from . import views
    from .store import Store

    store = Store.from_settings()
    record = store.read_record(store.resolve(run))
    click.echo(views.record_json(record) if as_json else views.record_text(record, store))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, print nbprod errors as one line."""
    from .exceptions import BuildFailedError, BuildInterruptedError, NbprodError

    try:
        cli.main(args=argv, prog_name="nbprod", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("nbprod: aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        if _debug_requested() and not isinstance(err, click.UsageError):
            raise  # e.g. ploomber's errors, which are click exceptions too
        err.show()
        sys.exit(err.exit_code)
    except NbprodError as err:
        if _debug_requested():
            raise
        # a failed build's sentence already says what failed; other errors get "error:"
        prefix = "" if isinstance(err, (BuildFailedError, BuildInterruptedError)) else "error: "
        click.echo(f"nbprod: {prefix}{err}", err=True)
        sys.exit(130 if isinstance(err, BuildInterruptedError) else 1)


if __name__ == "__main__":
    main()
