"""``nbprod check [PATH...]``: the project's notebooks and spec files checked, no kernel started."""

from __future__ import annotations

import click


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH]...")
@click.option("--json", "as_json", is_flag=True, help="The problems as JSON on stdout.")
@click.option("--strict", is_flag=True, help="Warnings fail the check too (exit 4).")
@click.option("--fix", is_flag=True,
              help="Strip outputs, execution counts, papermill's cells and metadata in place (ids and tags kept).")
@click.option("--entry-point", "-e", "entry_point", type=click.Path(), metavar="PATH",
              help="The pipeline's spec (default: pipeline.yaml, found as `ploomber build` finds it).")
def check(paths: tuple[str, ...], as_json: bool, strict: bool, fix: bool, entry_point: str | None) -> None:
    """Check notebooks, scripts and the pipeline's YAML files without running them.

    PATH: notebooks, scripts, YAML files or folders (default: every notebook and
    script task of the pipeline, pipeline.yaml, env*.yaml and nbprod.yaml).
    Committed outputs and papermill metadata, the parameters cell against what
    the pipeline passes (names, types, help), pyflakes by cell, credentials in
    sources and outputs, and whether the pipeline renders. One line per problem;
    exit 0 clean (warnings alone too, unless --strict), 4 when a check failed,
    2 for bad usage.
    """
    from ..check.run import check as run_check
    from ..errors import CheckFailedError
    from . import say

    result = run_check(paths, entry_point=entry_point, fix=fix)
    if result.fixed:
        say("\n".join(f"nbprod: {fixed.text()}" for fixed in result.fixed))
    output = result.to_json() if as_json else "\n".join(result.lines())
    if output:
        click.echo(output)
    if result.failed(strict):
        raise CheckFailedError(f"check failed: {result.summary()}",
                               hint=None if result.errors else "warnings fail with --strict")
    say(f"nbprod: check passed: {result.summary()}")
