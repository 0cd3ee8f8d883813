"""The ``nbprod`` command line: a lazy root group, one module per command group.

Each command parses its options, calls one function of the package that does
the work, and renders what it returns; nothing else happens here. Command
modules are imported only when their command runs (or ``--help`` lists them),
and they import click alone at module level, so ``nbprod --help`` is instant.

nbprod's own errors (:class:`~nbprod.errors.NbprodError`) print as one line on
stderr and exit with the error's ``exit_code`` (README.md, "Exit codes");
``--debug`` or ``NBPROD_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

#: command name -> "module:attribute" under nbprod.cli, imported when used
COMMANDS = {
    "build": "build:build",
    "runs": "runs:runs",
    "push": "sync:push",
    "pull": "sync:pull",
    "store": "store:store",
    "report": "report:report",
    "check": "check:check",
    "ci": "ci:ci",
    "reproduce": "reproduce:reproduce",
    "run": "run:run",
    "task": "task:task",
    "schedule": "schedule:schedule",
    "export": "export:export",
    "models": "models:models",
}

USAGE_EXIT = 2  # click's own usage errors exit 2 as well


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use (kedro's LazyGroup)."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return super().get_command(ctx, name)


def debug_requested() -> bool:
    return os.environ.get("NBPROD_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def say(line: str) -> None:
    """A progress or warning line: stderr, so stdout stays the command's answer."""
    click.echo(line, err=True)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (or set NBPROD_DEBUG=1).")
@click.version_option(package_name="nbprod")
def cli(debug: bool) -> None:
    """nbprod: run notebooks as recorded, reproducible pipelines.

    The store is NBPROD_STORE (default: outputs/store). Exit codes: 0 ok, 1 a
    task failed, 2 usage or configuration, 3 store, 4 a check said no, 5 a
    reproduction differs, 130 interrupted.
    """
    if debug:
        os.environ["NBPROD_DEBUG"] = "1"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, print nbprod errors as one line, exit with their code."""
    from ..errors import BuildFailedError, BuildInterruptedError, NbprodError

    try:
        cli.main(args=argv, prog_name="nbprod", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("nbprod: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as err:  # `nbprod`, `nbprod runs`: the help, as before
        err.show()
        sys.exit(err.exit_code)
    except click.UsageError as err:  # one line, like every other error (exit 2)
        where = err.ctx.command_path if err.ctx is not None else "nbprod"
        click.echo(f"nbprod: error: {err.format_message().rstrip('.')}: see `{where} --help`", err=True)
        sys.exit(err.exit_code)
    except click.ClickException as err:
        if debug_requested():
            raise  # e.g. ploomber's errors, which are click exceptions too
        err.show()
        sys.exit(err.exit_code)
    except NbprodError as err:
        if debug_requested():
            raise
        if getattr(err, "deferred", False):  # its sentence is printed at exit, as the last line
            sys.exit(err.exit_code)
        # a failed build's sentence already says what failed; other errors get "error:"
        prefix = "" if isinstance(err, (BuildFailedError, BuildInterruptedError)) else "error: "
        from ..redact import redact_text  # errors may quote URLs or commands holding secrets

        click.echo(f"nbprod: {prefix}{redact_text(str(err))}", err=True)
        sys.exit(err.exit_code)
