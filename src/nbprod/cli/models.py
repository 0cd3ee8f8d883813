"""``nbprod models ls | show | history | at | promote | rollback | approve | reject | verify``."""

from __future__ import annotations

import click

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_REASON = click.option("--reason", required=True, help="Why (kept in the model's history).")
_ALIAS = click.option("--alias", default="production", show_default=True, help="The alias to move.")


def _store():
    from ..store.spool import open_store
    from . import say

    return open_store(log=say)


def _echo(data, as_json: bool, text) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str) if as_json else text(data))


@click.group()
def models() -> None:
    """The model registry: versions, aliases (production), gates, history."""


@models.command("ls")
@_JSON
def models_ls(as_json: bool) -> None:
    """Every model in the store, its versions and aliases."""
    from ..models import views

    _echo(views.listing(_store()), as_json, views.text_listing)


@models.command("show")
@click.argument("ref")
@_JSON
def models_show(ref: str, as_json: bool) -> None:
    """A model (NAME), or one version (NAME@ALIAS, NAME:VERSION) with its gate report."""
    from ..models import views

    view = views.show(_store(), ref)
    _echo(view, as_json, views.text_version if "version" in view and "products" in view else views.text_model)


@models.command("history")
@click.argument("name")
@_JSON
def models_history(name: str, as_json: bool) -> None:
    """Every event of a model, oldest first: registered, evaluated, promoted, rolled back, approved, rejected."""
    from ..models import views

    _echo(views.history(_store(), name), as_json, views.text_history)


@models.command("at")
@click.argument("name")
@click.argument("moment", metavar="TIME")
@_ALIAS
@_JSON
def models_at(name: str, moment: str, alias: str, as_json: bool) -> None:
    """The version that was production (or --alias) at TIME (ISO 8601, UTC unless it says; or 3d, 12h: ago)."""
    from ..models import views
    from ..durations import parse_since

    found = views.at(_store(), name, parse_since(moment, what="TIME"), alias)
    _echo(found, as_json, lambda f: f"{f['model']}@{f['alias']} at {f['time']}: "
          + (f"v{f['version']} (run {f['run_id']})" if f["version"] else "no version yet"))


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@_REASON
@_ALIAS
@click.option("--force", is_flag=True, help="Promote even though its gates did not pass or it has no approval "
              "(the reason is kept; a rejected version is never promoted: approve it first).")
@_JSON
def models_promote(name: str, version: int, reason: str, alias: str, force: bool, as_json: bool) -> None:
    """Move production (or --alias) to VERSION. Refused (exit 4) when its gates did not pass,
    its gate compared against another version than production's, or production moved meanwhile."""
    from ..models import registry

    event = registry.promote(_store(), name, version, reason=reason, alias=alias, force=force)
    _echo(event, as_json, lambda e: f"nbprod: {name}@{alias} is v{version} already" if e is None
          else f"nbprod: {name}@{alias}: {registry.label(e['from'])} -> v{e['to']} (event {e['n']})")


@models.command("rollback")
@click.argument("name")
@click.option("--to", "to", type=int, help="The version to go back to [what it pointed to before].")
@_REASON
@_ALIAS
@_JSON
def models_rollback(name: str, to: int | None, reason: str, alias: str, as_json: bool) -> None:
    """Point production (or --alias) back to what it was before its last move, or --to VERSION."""
    from ..models import registry

    event = registry.rollback(_store(), name, reason=reason, to=to, alias=alias)
    _echo(event, as_json, lambda e: f"nbprod: {name}@{alias}: v{e['from']} -> v{e['to']} (rolled back, event {e['n']})")


def _decision(verdict: str):
    @click.argument("name")
    @click.argument("version", type=int)
    @_REASON
    @_JSON
    def command(name: str, version: int, reason: str, as_json: bool) -> None:
        from ..models import registry

        event = registry.decide(_store(), name, version, verdict, reason=reason)
        _echo(event, as_json, lambda e: f"nbprod: {name} v{version} {verdict} (event {e['n']})")

    command.__doc__ = f"Record that VERSION is {verdict} (a human decision, kept in the history)."
    return command


models.command("approve")(_decision("approved"))
models.command("reject")(_decision("rejected"))


@models.command("verify")
@click.argument("names", nargs=-1)
@_JSON
def models_verify(names: tuple[str, ...], as_json: bool) -> None:
    """Check every model's log: the hash chain, no event missing or changed, manifests as registered.
    Exits 4 when anything is wrong."""
    from ..errors import CheckFailedError
    from ..models import views

    found = views.verify(_store(), list(names) or None)
    bad = {name: problems for name, problems in found.items() if problems}
    if as_json:
        _echo(found, True, str)
    else:
        for name, problems in sorted(bad.items()):
            for problem in problems:
                click.echo(f"model {name}: {problem}")
    if bad:
        raise CheckFailedError(f"{sum(map(len, bad.values()))} problem(s) in the logs of {', '.join(sorted(bad))}",
                               hint="an event was edited or deleted: restore it from a backup")
    if not as_json:
        click.echo(f"nbprod: {len(found)} model log(s) verified: every event chained, none missing")
