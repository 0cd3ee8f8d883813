"""A model's registry: its versions, aliases and decisions, as the fold of its event log.

Why a fold: nothing here is stored as state that could be overwritten. A version is
its ``registered`` event (the manifest, also kept at ``versions/<v>.json``); an alias
is where the last ``promoted`` or ``rolled_back`` event for it pointed; what was in
production at any time is the fold up to that time (:meth:`Registry.at`). Every change
is decided on a log as read and appended as event ``n + 1`` only if no one else took
``n + 1`` first (:func:`nbprod.models.log.append`); a promotion that lost that race
re-reads the log and is refused if its alias moved meanwhile, so of N promotions at
once exactly one wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import ConfigError, GateRefusedError, ModelNotFoundError, PromotionConflictError
from ..schema import actor as current_actor
from ..schema import parse_time
from . import log as events

PRODUCTION = "production"
ALIAS = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_REF = re.compile(r"(?P<name>[a-z0-9][a-z0-9._-]{0,63})(?:@(?P<alias>[a-z0-9][a-z0-9._-]{0,63})|:v?(?P<version>\d+))?")
MOVES = ("promoted", "rolled_back")


@dataclass
class Registry:
    """One model's log folded: versions (manifests), aliases, every alias move, evaluations, decisions."""

    name: str
    log: events.Log
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    identities: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    moves: list[dict[str, Any]] = field(default_factory=list)
    evaluations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)  # the last approved/rejected event

    def version(self, number: int) -> dict[str, Any]:
        if number not in self.versions:
            known = ", ".join(f"v{v}" for v in sorted(self.versions)[-5:]) or "none yet"
            raise ModelNotFoundError(f"model {self.name} has no version {number}",
                                     hint=f"versions: {known} (`nbprod models show {self.name}`)",
                                     ref=f"{self.name}:{number}")
        return self.versions[number]

    def gate(self, number: int) -> dict[str, Any] | None:
        """The latest gate report of a version (its last ``evaluated`` event), None when never evaluated."""
        found = self.evaluations.get(number) or []
        return found[-1]["gates"] if found else None

    def decision(self, number: int) -> str | None:
        event = self.decisions.get(number)
        return event["type"] if event else None

    def at(self, moment: datetime, alias: str = PRODUCTION) -> int | None:
        """The version ``alias`` pointed to at ``moment`` (None: nothing yet)."""
        current = None
        for move in self.moves:
            if move["alias"] == alias and parse_time(move["time"]) <= moment:
                current = move["to"]
        return current

    def previous(self, alias: str = PRODUCTION) -> int | None:
        """What ``alias`` pointed to before its current version was last promoted to it (so two
        rollbacks in a row go back twice, never back and forth)."""
        current = self.aliases.get(alias)
        promoted = [m for m in self.moves if m["alias"] == alias and m["to"] == current and m["type"] == "promoted"]
        return promoted[-1]["from"] if promoted else None

    def resolve(self, ref: str) -> int:
        """The version a reference names: ``NAME`` (production), ``NAME@ALIAS``, ``NAME:3`` / ``NAME:v3``."""
        found = _REF.fullmatch(ref)
        if found and found["version"]:
            return int(self.version(int(found["version"]))["version"])
        alias = (found["alias"] if found else None) or PRODUCTION
        if alias not in self.aliases:
            raise ModelNotFoundError(
                f"model {self.name} has no {alias} version yet",
                hint=f"promote one: `nbprod models promote {self.name} VERSION --reason ...`"
                if self.versions else "build the pipeline: a succeeded run registers a version", ref=ref)
        return self.aliases[alias]


def parse_ref(ref: str) -> tuple[str, str | None, int | None]:
    """``penguins@production`` -> (name, alias, version); a bad reference is one line."""
    found = _REF.fullmatch(str(ref).strip())
    if not found:
        raise ConfigError(f"{ref!r} is not a model reference",
                          hint="use NAME, NAME@ALIAS (penguins@production) or NAME:VERSION (penguins:3)")
    return found["name"], found["alias"], int(found["version"]) if found["version"] else None


def fold(log: events.Log) -> Registry:
    registry = Registry(log.name, log)
    for event in log.events:
        kind = event.get("type")
        if kind == "registered":
            manifest = event["manifest"]
            registry.versions[manifest["version"]] = manifest
            registry.identities[manifest["identity"]] = manifest["version"]
        elif kind == "evaluated":
            registry.evaluations.setdefault(event["version"], []).append(event)
        elif kind in MOVES:
            registry.aliases[event["alias"]] = event["to"]
            registry.moves.append(event)
        elif kind in ("approved", "rejected"):
            registry.decisions[event["version"]] = event
    return registry


def open_registry(store, name: str) -> Registry:
    return fold(events.read(store, name))


def known(store, name: str) -> Registry:
    """The registry of ``name``, or a one-line error when the store holds no such model."""
    registry = open_registry(store, name)
    if not registry.log.events:
        present = events.names(store)
        raise ModelNotFoundError(f"store {store.url} holds no model {name!r}",
                                 hint=f"models: {', '.join(present)}" if present
                                 else "declare it under `models:` in nbprod.yaml and build", ref=name)
    return registry


# -- changes ----------------------------------------------------------------------------
def register(store, name: str, manifest: dict[str, Any], *, actor: str | None = None) -> tuple[int, bool]:
    """The version of ``manifest`` (``identity``: the sha256 of its products' hashes): the existing
    one when these bytes are registered already, else a new version. Returns (version, created)."""

    def decide(log):
        registry = fold(log)
        if manifest["identity"] in registry.identities:
            return None
        number = max(registry.versions, default=0) + 1
        return {"type": "registered", "version": number, "manifest": {**manifest, "version": number}}

    log, event = events.append(store, name, decide, actor=actor or current_actor())
    if event is None:
        return fold(log).identities[manifest["identity"]], False
    number = event["version"]
    store.create_key(f"{events.prefix(name)}/versions/{number}.json", events.dumps(event["manifest"]))
    return number, True


def evaluate(store, name: str, number: int, report: dict[str, Any], *, run_id: str | None,
             evidence: str, actor: str | None = None) -> bool:
    """Record a gate report of version ``number`` (an ``evaluated`` event), unless its latest
    evaluation has the same ``evidence`` (the predictions' and metrics' hash, the rules): the
    latest evaluation is the gate a promotion reads, so an older one seen again is recorded again."""

    def decide(log):
        registry = fold(log)
        registry.version(number)
        latest = (registry.evaluations.get(number) or [{}])[-1]
        if latest.get("evidence") == evidence:
            return None
        return {"type": "evaluated", "version": number, "run_id": run_id, "evidence": evidence, "gates": report,
                "verdict": report.get("verdict")}

    return events.append(store, name, decide, actor=actor or current_actor())[1] is not None


def promote(store, name: str, number: int, *, reason: str, alias: str = PRODUCTION, force: bool = False,
            report: dict[str, Any] | None = None, actor: str | None = None) -> dict[str, Any] | None:
    """Point ``alias`` at version ``number``; the ``promoted`` event, or None when it is there already.

    Decided on ``report`` (this run's gate report, `build --promote`) or else the version's
    latest evaluation. Refused (:class:`GateRefusedError`, exit 4) when the version was
    rejected; when its gates did not pass, or its manifest says it needs an approval and has
    none, unless ``force``; refused (:class:`PromotionConflictError`) when its gate compared
    against another version than the one in ``alias`` now (a stale baseline), or when
    ``alias`` moves while this promotion is decided. Each check is made again on the log as
    it is when the promotion is appended.
    """
    _check_alias(alias)
    _reason(reason, "promote")
    start = known(store, name)
    start.version(number)
    seen = start.aliases.get(alias)
    if seen == number:
        return None

    def check(found: Registry) -> None:
        if found.decision(number) == "rejected":
            raise GateRefusedError(f"model {name} v{number} was rejected", hint="approve it first "
                                   f"(`nbprod models approve {name} {number} --reason ...`), if it should be promoted",
                                   model=name, version=number)
        if not force:
            _promotable(found, number, alias, found.aliases.get(alias), report or found.gate(number))

    check(start)
    gate = report or start.gate(number) or {}
    return _move(store, start, alias, seen, number, "promoted", reason, actor,
                 {"forced": force, "baseline": _baseline(gate), "verdict": gate.get("verdict")}, check)


def rollback(store, name: str, *, reason: str, to: int | None = None, alias: str = PRODUCTION,
             actor: str | None = None) -> dict[str, Any]:
    """Point ``alias`` back at what it pointed to before its last move, or at version ``to``."""
    _check_alias(alias)
    _reason(reason, "rollback")
    start = known(store, name)
    seen = start.aliases.get(alias)
    if seen is None:
        raise ConfigError(f"model {name} has no {alias} version: nothing to roll back",
                          hint=f"promote one: `nbprod models promote {name} VERSION --reason ...`")
    target = to if to is not None else start.previous(alias)
    if target is None:
        raise ConfigError(f"v{seen} was promoted to {alias} of model {name} from nothing: there is none before it",
                          hint="name the version to go to: --to VERSION")
    start.version(target)
    if target == seen:
        raise ConfigError(f"model {name}: {alias} is v{seen} already", hint="name another version with --to")
    if target not in {m["to"] for m in start.moves if m["alias"] == alias}:
        raise GateRefusedError(f"model {name} v{target} was never {alias}: a rollback goes back to a version that was",
                               hint=f"promote it instead (its gates decide): `nbprod models promote {name} {target}`",
                               model=name, version=target)

    def check(found: Registry) -> None:
        if found.decision(target) == "rejected":
            raise GateRefusedError(f"model {name} v{target} was rejected: not rolled back to it",
                                   hint="approve it first (`nbprod models approve`) or pick another --to", model=name,
                                   version=target)

    check(start)
    return _move(store, start, alias, seen, target, "rolled_back", reason, actor, {}, check)


def decide(store, name: str, number: int, verdict: str, *, reason: str, actor: str | None = None) -> dict[str, Any]:
    """Record a human decision on a version: ``approved`` or ``rejected``."""
    _reason(reason, verdict[:-1] if verdict.endswith("d") else verdict)
    known(store, name).version(number)
    event = {"type": verdict, "version": number, "reason": _redacted(reason)}
    return events.append(store, name, lambda log: dict(event), actor=actor or current_actor())[1]


def _move(store, start: Registry, alias, seen, number, kind, reason, actor, extra, check) -> dict[str, Any]:
    name = start.name

    def choose(log):
        found = fold(log)
        now = found.aliases.get(alias)
        if now != seen:
            raise PromotionConflictError(
                f"model {name}: {alias} moved from {label(seen)} to {label(now)} while you were moving it to v{number}",
                hint="run the gate again against the new version (build again) and retry",
                model=name, alias=alias, seen=seen, now=now, version=number)
        if log is not start.log:  # another event landed first: its gates, decisions, baseline again
            check(found)
        return {"type": kind, "alias": alias, "from": seen, "to": number, "reason": _redacted(reason), **extra}

    return events.append(store, name, choose, actor=actor or current_actor(), log=start.log)[1]


def _promotable(registry: Registry, number: int, alias: str, seen: int | None, report: dict[str, Any] | None) -> None:
    name = registry.name
    if registry.version(number).get("approval") and registry.decision(number) != "approved":
        raise GateRefusedError(f"model {name} v{number} needs an approval before promotion (approval: true)",
                               hint=f"`nbprod models approve {name} {number} --reason ...`", model=name, version=number)
    if report is None:
        raise GateRefusedError(f"model {name} v{number} has no gate report", hint="build it with its evaluation "
                               "step, or --force --reason", model=name, version=number)
    if not report.get("promotable"):
        from .gates import failure_line

        line = failure_line(report, model=name, version=number) or f"model {name} v{number}: gates {report.get('verdict')}"
        raise GateRefusedError(line, hint="fix the model, or --force --reason to promote it anyway",
                               model=name, version=number)
    differential = any(r.get("kind") != "absolute" for r in report.get("rules", []))
    baseline = _baseline(report)
    if alias == PRODUCTION and differential and baseline != seen:
        raise PromotionConflictError(
            f"model {name} v{number}: its gate compared against {label(baseline)}, but production is {label(seen)} now",
            hint="run the gate again against it (build again: the same bytes are the same version) and retry",
            model=name, alias=alias, seen=baseline, now=seen, version=number)


def _baseline(report: dict[str, Any] | None) -> int | None:
    return ((report or {}).get("baseline") or {}).get("version")


def label(number: int | None) -> str:
    return f"v{number}" if number is not None else "nothing"


def _check_alias(alias: str) -> None:
    if not ALIAS.fullmatch(alias or ""):
        raise ConfigError(f"alias {alias!r} is not a name", hint="use lower-case letters, digits and . _ -")


def _reason(reason: str | None, what: str) -> None:
    if not reason or not reason.strip():
        raise ConfigError(f"{what} needs a reason", hint="add --reason '...' (kept in the model's history)")
    if len(reason) > 2000:
        raise ConfigError("--reason is longer than 2000 characters", hint="shorten it")
    if "\x00" in reason:
        raise ConfigError("--reason holds a NUL character", hint="remove it")


def _redacted(reason: str) -> str:
    """A reason as kept: secret values of the environment (and credential shapes) masked,
    as in everything else nbprod writes."""
    from ..redact import redact_text

    return redact_text(reason)
