"""``nbprod ci init github|gitlab``: the CI file that checks and smoke-builds the project."""

from __future__ import annotations

import click


@click.group()
def ci() -> None:
    """Set up CI for the project (GitHub Actions, GitLab CI)."""


@ci.command("init")
@click.argument("kind", type=click.Choice(["github", "gitlab"]))
@click.option("--output", type=click.Path(dir_okay=False),
              help="Where to write it [.github/workflows/nbprod.yml, or .gitlab-ci.yml].")
@click.option("--force", is_flag=True, help="Overwrite a file that is there and differs.")
@click.option("--python", default="3.11", show_default=True, help="The Python version CI runs.")
@click.option("--lock", default="requirements.lock", show_default=True, metavar="PATH",
              help="The pinned requirements pip's cache is keyed on (and installed from, without --install).")
@click.option("--install", metavar="COMMAND",
              help="The install command, e.g. 'pip install -c requirements.lock -e .' [pip install -r LOCK].")
def ci_init(kind: str, output: str | None, force: bool, python: str, lock: str, install: str | None) -> None:
    """Write the CI file for KIND: on every push and pull (merge) request, install from
    the lock, `nbprod check`, `nbprod build --smoke --junit nbprod-junit.xml`, then keep
    the executed notebooks, products and report as artifacts even when a step failed.

    Commit the file it writes. Run it again after changing an option (with --force to
    replace an edited file).
    """
    from ..ci.workflows import write_workflow

    written = write_workflow(kind, output, force=force, python=python, lock=lock, install=install)
    click.echo(f"nbprod: {'wrote' if written.changed else 'unchanged:'} {written.path}")
