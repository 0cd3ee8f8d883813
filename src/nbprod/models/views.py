"""What ``nbprod models ls/show/history/at/verify`` answer: plain data (``--json``) and text.

Why apart from the registry: the registry decides and changes; these only read the
folded log and shape it for a terminal, a JSON consumer or the report, the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..schema import isoformat, parse_time
from . import log as events
from . import registry


def listing(store) -> list[dict[str, Any]]:
    """Every model in the store: versions, aliases, the last event."""
    rows = []
    for name in events.names(store):
        found = registry.open_registry(store, name)
        last = found.log.events[-1] if found.log.events else {}
        rows.append({"model": name, "versions": len(found.versions), "aliases": dict(sorted(found.aliases.items())),
                     "latest": max(found.versions, default=None), "events": found.log.n,
                     "last_event": {k: last.get(k) for k in ("n", "type", "time", "actor")}})
    return rows


def version_view(found: registry.Registry, number: int) -> dict[str, Any]:
    manifest = found.version(number)
    return {**manifest, "aliases": sorted(a for a, v in found.aliases.items() if v == number),
            "gates": found.gate(number) or manifest.get("gates"), "decision": found.decision(number),
            "evaluations": len(found.evaluations.get(number, []))}


def show(store, ref: str) -> dict[str, Any]:
    """``NAME``: the model (versions, aliases); ``NAME@ALIAS`` / ``NAME:V``: one version."""
    name, alias, number = registry.parse_ref(ref)
    found = registry.known(store, name)
    if alias is None and number is None:
        return {"model": name, "aliases": dict(sorted(found.aliases.items())),
                "versions": [_version_row(found, v) for v in sorted(found.versions, reverse=True)]}
    return version_view(found, found.resolve(ref))


def _version_row(found: registry.Registry, number: int) -> dict[str, Any]:
    manifest = found.versions[number]
    gate = found.gate(number) or manifest.get("gates") or {}
    return {"version": number, "run_id": manifest.get("run_id"), "created_at": manifest.get("created_at"),
            "commit": (manifest.get("commit") or "")[:12] or None, "metrics": manifest.get("metrics") or {},
            "gates": gate.get("verdict"), "aliases": sorted(a for a, v in found.aliases.items() if v == number),
            "decision": found.decision(number)}


def history(store, name: str) -> list[dict[str, Any]]:
    """Every event, oldest first, as one flat row each."""
    found = registry.known(store, name)
    return [_event_row(e) for e in found.log.events]


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    kind = event.get("type")
    if kind in registry.MOVES:
        what = f"{event['alias']}: {registry.label(event.get('from'))} -> v{event['to']}"
        if event.get("forced"):
            what += " (forced)"
    elif kind == "evaluated":
        what = f"v{event['version']}: gates {event.get('verdict')}"
    else:
        what = f"v{event.get('version')}"
    return {"n": event["n"], "time": event.get("time"), "type": kind, "what": what,
            "actor": event.get("actor"), "reason": event.get("reason"), "run_id": (event.get("manifest") or event).get("run_id")}


def at(store, name: str, moment: datetime, alias: str = registry.PRODUCTION) -> dict[str, Any]:
    found = registry.known(store, name)
    number = found.at(moment, alias)
    return {"model": name, "alias": alias, "time": isoformat(moment), "version": number,
            "run_id": found.versions[number].get("run_id") if number else None}


def timeline(found: registry.Registry, alias: str = registry.PRODUCTION) -> list[dict[str, Any]]:
    """Each span ``alias`` pointed at one version: {version, since, until (None: now), event}."""
    spans = []
    for move in (m for m in found.moves if m["alias"] == alias):
        if spans:
            spans[-1]["until"] = move["time"]
        spans.append({"version": move["to"], "since": move["time"], "until": None, "type": move["type"],
                      "actor": move.get("actor"), "reason": move.get("reason")})
    return spans


def for_run(store, run_id: str) -> list[dict[str, Any]]:
    """The model versions a run registered or evaluated: {model, version, registered, gates}."""
    found = []
    for name in events.names(store):
        model = registry.open_registry(store, name)
        for number, manifest in sorted(model.versions.items()):
            evaluated = [e for e in model.evaluations.get(number, []) if e.get("run_id") == run_id]
            if manifest.get("run_id") == run_id or evaluated:
                found.append({"model": name, "version": number, "registered": manifest.get("run_id") == run_id,
                              "aliases": sorted(a for a, v in model.aliases.items() if v == number),
                              "gates": evaluated[-1]["gates"] if evaluated else manifest.get("gates")})
    return found


def text_for_run(rows: list[dict[str, Any]]) -> str:
    from .gates import describe

    lines = []
    for row in rows:
        what = "registered" if row["registered"] else "evaluated again (same bytes as an earlier run's)"
        aliases = f", now {', '.join(row['aliases'])}" if row["aliases"] else ""
        gates = row["gates"] or {}
        lines.append(f"model {row['model']} v{row['version']}: {what}{aliases}; gates {gates.get('verdict', 'none')}")
        lines += [f"  {line}" for line in describe(gates)] if gates else []
    return "\n".join(lines)


def verify(store, names: list[str] | None = None) -> dict[str, list[str]]:
    """Each model's problems (:func:`nbprod.models.log.verify`, and manifests that differ from their events)."""
    found = {}
    for name in names or events.names(store):
        problems = events.verify(store, name)
        if not problems and registry.open_registry(store, name).log.events:
            problems = _manifests(store, registry.open_registry(store, name))
        found[name] = problems
    return found


def _manifests(store, found: registry.Registry) -> list[str]:
    keys = {v: f"{events.prefix(found.name)}/versions/{v}.json" for v in found.versions}
    blobs = store.read_keys(list(keys.values()))
    problems = []
    for number, key in sorted(keys.items()):
        blob = blobs.get(key)
        if blob is None:
            problems.append(f"versions/{number}.json is missing (its registered event holds the manifest)")
        elif blob != events.dumps(found.versions[number]):
            problems.append(f"versions/{number}.json differs from the manifest its registered event holds")
    return problems


# -- text ---------------------------------------------------------------------------------
def text_listing(rows: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    if not rows:
        return "no models in this store yet: declare one under `models:` in nbprod.yaml and build"
    table = [[r["model"], r["versions"], ", ".join(f"{a}=v{v}" for a, v in r["aliases"].items()) or "-",
              f"{r['last_event']['type']} {_when(r['last_event']['time'])}"] for r in rows]
    return tabulate(table, headers=["model", "versions", "aliases", "last change"])


def text_model(view: dict[str, Any]) -> str:
    from tabulate import tabulate

    lines = [f"model {view['model']}: " + (", ".join(f"{a}=v{v}" for a, v in view["aliases"].items()) or "no aliases yet")]
    table = [[f"v{r['version']}", ", ".join(r["aliases"]) or "", r["run_id"], r["commit"] or "",
              " ".join(f"{k}={_num(v)}" for k, v in list(r["metrics"].items())[:3]), r["gates"] or "-",
              r["decision"] or ""] for r in view["versions"]]
    lines.append(tabulate(table, headers=["version", "aliases", "run", "commit", "metrics", "gates", "decision"]))
    return "\n".join(lines)


def text_version(view: dict[str, Any]) -> str:
    from .gates import describe

    lines = [f"model {view['model']} v{view['version']}" + (f" ({', '.join(view['aliases'])})" if view["aliases"] else ""),
             f"  run       {view.get('run_id')} (task {view.get('task')}), commit {(view.get('commit') or '?')[:12]}"
             f"{' (dirty)' if view.get('dirty') else ''}",
             f"  created   {view.get('created_at')}"]
    for role, entry in sorted(view["products"].items()):
        lines.append(f"  {role:<9} {entry.get('path') or entry.get('name')}  sha256 {entry['sha256'][:12]}  {entry.get('size')} bytes")
    if view.get("metrics"):
        lines.append("  metrics   " + ", ".join(f"{k}={_num(v)}" for k, v in view["metrics"].items()))
    if view.get("decision"):
        lines.append(f"  decision  {view['decision']}")
    gates = view.get("gates")
    lines.append("  gates     " + (f"{gates['verdict']} (evaluated {view['evaluations']} time(s))" if gates else "none"))
    if gates:
        lines += [f"    {line}" for line in describe(gates)]
    return "\n".join(lines)


def text_history(rows: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    table = [[r["n"], _when(r["time"]), r["type"], r["what"], r["actor"], r["reason"] or ""] for r in rows]
    return tabulate(table, headers=["#", "time", "event", "what", "by", "reason"])


def _when(text: str | None) -> str:
    moment = parse_time(text)
    return f"{moment:%Y-%m-%d %H:%M:%S}Z" if moment else "?"


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
