"""The models pages: each model's versions with their runs, metrics and gate reports, and
where its aliases pointed over time; and, for run pages, which versions each run registered.

Why read again by every build: a model's event log changes while no run does (a promotion,
a rollback, an approval), so its page is rendered each time, like the index; that costs one
LIST and a few small GETs per model. What a run page shows of it (``registered penguins v3
(gates passed)``) is kept in the run's manifest entry, and a change there renders the run
page again for the link (a relink), not its notebooks.

Everything shown comes from the log (:mod:`nbprod.models.registry`'s fold and
:func:`nbprod.models.views.timeline`): reasons and actors are whatever a user typed, so the
template escapes them and the timeline SVG (:func:`.charts.timeline_svg`) escapes its own.
A log that cannot be read is one warning line and a page that says so; the other models and
every run page are built as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from nbprod.errors import StoreError
from nbprod.files import sha256_bytes
from nbprod.schema import parse_time

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # a model name the registry accepts
HEADLINE = 4  # metrics shown in the versions table when none is declared headline


def model_page(name: str) -> str:
    """The page of model ``name``; a name the registry would not accept (a store edited by
    hand) gets a slug and a hash, so it can neither leave ``models/`` nor share a page."""
    if _NAME.fullmatch(name):
        return f"models/{name}.html"
    slug = re.sub(r"[^a-z0-9_.-]+", "_", name.lower()).strip("._-") or "model"
    return f"models/{slug}-{sha256_bytes(name.encode())[:6]}.html"


@dataclass(frozen=True)
class Models:
    """The store's models as read for one build: their registries, the ones that could not
    be read (name -> why), and what each run registered (run_id -> registrations)."""

    registries: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    by_run: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted({*self.registries, *self.problems})

    def marks(self, run_id: str) -> list[list[Any]]:
        """What a run page shows of the registry, as the manifest keeps it (a change relinks)."""
        return [[r["model"], r["version"], r["how"], r["verdict"]] for r in self.by_run.get(run_id, [])]


def read_models(store) -> Models:
    """Every model in ``store``, folded; an unreadable log is a problem, not an error."""
    from nbprod.models import log as events
    from nbprod.models import registry

    found, problems = {}, {}
    for name in events.names(store):
        try:
            found[name] = registry.open_registry(store, name)
        except (StoreError, KeyError, TypeError, ValueError) as err:
            problems[name] = f"model {name}: its event log could not be read ({err})"
    return Models(found, problems, _registrations(found))


def _registrations(registries: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """run_id -> the versions it registered (its manifest's run) or evaluated again (the same
    bytes built again: an ``evaluated`` event with its run_id), each with that run's verdict:
    what :func:`nbprod.models.views.for_run` says of one run (``nbprod runs show``), for every
    run from one read of each log, instead of reading every log again per run page."""
    by_run: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    for name, found in sorted(registries.items()):
        for number, manifest in sorted(found.versions.items()):
            run_id = manifest.get("run_id")
            if run_id:
                verdict = (manifest.get("gates") or {}).get("verdict")
                by_run.setdefault(run_id, {})[(name, number)] = {"model": name, "version": number,
                                                                 "how": "registered", "verdict": verdict}
        for number, evaluations in sorted(found.evaluations.items()):
            for event in evaluations:
                run_id = event.get("run_id")
                if not run_id:
                    continue
                entry = by_run.setdefault(run_id, {}).setdefault(
                    (name, number), {"model": name, "version": number, "how": "evaluated", "verdict": None})
                entry["verdict"] = event.get("verdict")  # what this run's gate decided, its last word
    return {run_id: list(found.values()) for run_id, found in by_run.items()}


def run_links(models: Models, run_id: str, prefix: str = "../") -> list[dict[str, Any]]:
    """The run page's lines: ``registered penguins v3 (gates passed)``, each linking its version."""
    return [{**r, "href": f"{prefix}{model_page(r['model'])}#v{r['version']}"} for r in models.by_run.get(run_id, [])]


def index_rows(models: Models) -> list[dict[str, Any]]:
    """The index's models table (empty when the store holds none: no section, no link)."""
    rows = []
    for name in models.names:
        found = models.registries.get(name)
        rows.append({"name": name, "href": model_page(name), "problem": models.problems.get(name),
                     "versions": len(found.versions) if found else None,
                     "latest": max(found.versions, default=None) if found else None,
                     "aliases": sorted(found.aliases.items()) if found else []})
    return rows


def write_pages(sink, models: Models, *, pages: set[str], headline: list[str], now: datetime) -> list[str]:
    """Render every model's page into ``sink``; the pages written. ``pages``: the site's run
    pages (a version's run is linked only when it has one); ``headline``: the metrics the
    versions table shows (the newest record's declaration)."""
    written = []
    for name in models.names:
        page = model_page(name)
        sink.write(page, model_html(name, models.registries.get(name), problem=models.problems.get(name),
                                    pages=pages, headline=headline, now=now))
        written.append(page)
    return written


def model_html(name: str, found, *, problem: str | None = None, pages: set[str] | None = None,
               headline: list[str] | None = None, now: datetime) -> bytes:
    """One model's page: its versions (newest first), each version's gate report, each alias's timeline."""
    from .charts import timeline_svg
    from .pages import render, safe

    def run_href(run_id: str | None) -> str | None:
        href = f"runs/{run_id}.html" if run_id else None
        return "../" + href if href and (pages is None or href in pages) else None

    versions = [_version(found, number, run_href) for number in sorted(found.versions, reverse=True)] if found else []
    shown = list(headline or []) or _some_metrics(versions)
    for version in versions:
        version["headline"] = [version["metrics"].get(metric) for metric in shown]
    timelines = []
    if found is not None:
        aliases = sorted({m["alias"] for m in found.moves}, key=lambda a: (a != "production", a))
        for alias in aliases or ["production"]:
            spans = _spans(found, alias, now)
            timelines.append({"alias": alias, "spans": spans,
                              "svg": safe(timeline_svg(alias, spans, now=now.isoformat())) if spans else None})
    return render("model.html.j2", root="../", title=f"Model {name}", name=name, problem=problem,
                  versions=versions, headline=shown, timelines=timelines,
                  aliases=sorted(found.aliases.items()) if found else [], events=found.log.n if found else 0)


def _version(found, number: int, run_href: Callable[[str | None], str | None]) -> dict[str, Any]:
    manifest = found.versions[number]
    gate = found.gate(number) or manifest.get("gates")
    decision = found.decisions.get(number)
    return {
        "version": number, "anchor": f"v{number}", "run_id": manifest.get("run_id"),
        "run_href": run_href(manifest.get("run_id")), "task": manifest.get("task"),
        "created_at": manifest.get("created_at"), "commit": manifest.get("commit"), "dirty": manifest.get("dirty"),
        "aliases": sorted(a for a, v in found.aliases.items() if v == number),
        "metrics": manifest.get("metrics") or {}, "params": manifest.get("params") or {},
        "products": sorted((manifest.get("products") or {}).items()),
        "verdict": (gate or {}).get("verdict"), "gate": _gate(gate) if gate else None,
        "decision": {k: decision.get(k) for k in ("type", "reason", "actor", "time")} if decision else None,
        "evaluations": [{"time": e.get("time"), "run_id": e.get("run_id"), "run_href": run_href(e.get("run_id")),
                         "verdict": e.get("verdict"), "actor": e.get("actor"),
                         "baseline": ((e.get("gates") or {}).get("baseline") or {}).get("version")}
                        for e in found.evaluations.get(number, [])],
    }


def _gate(report: dict[str, Any]) -> dict[str, Any]:
    """A gate report as the page shows it: numbers formatted, the interval as one cell."""
    rules = []
    for rule in report.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        interval = rule.get("interval")
        rules.append({**{k: rule.get(k) for k in ("rule", "metric", "kind", "verdict", "why")},
                      "candidate": _plain(rule.get("candidate")), "production": _plain(rule.get("production")),
                      "difference": _signed(rule.get("difference")), "p_value": _plain(rule.get("p_value")),
                      "interval": f"[{_signed(interval[0])}, {_signed(interval[1])}]"
                      if isinstance(interval, (list, tuple)) and len(interval) == 2 else "—"})
    baseline = report.get("baseline") or {}
    return {"verdict": report.get("verdict"), "promotable": report.get("promotable"), "on_tie": report.get("on_tie"),
            "baseline": f"{baseline.get('alias') or 'production'} v{baseline['version']}"
            if baseline.get("version") is not None else None,
            "note": report.get("note"), "rows": report.get("rows"), "confidence": report.get("confidence"),
            "rules": rules}


def _spans(found, alias: str, now: datetime) -> list[dict[str, Any]]:
    """:func:`nbprod.models.views.timeline` with what the page adds: how long each span
    lasted (until now for the last), where the alias came from, and whether it was forced."""
    from nbprod.models.views import timeline

    moves = [m for m in found.moves if m.get("alias") == alias]
    spans = []
    for span, move in zip(timeline(found, alias), moves):
        since, until = _time(span["since"]), _time(span["until"]) if span["until"] else now
        seconds = max(0.0, (until - since).total_seconds()) if since and until else 0.0
        spans.append({**span, "from": move.get("from"), "forced": bool(move.get("forced")), "seconds": seconds,
                      "lasted": _lasted(seconds), "anchor": f"v{span['version']}"})
    return spans


def _time(text: Any) -> datetime | None:
    try:
        moment = parse_time(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment and moment.tzinfo is None else moment


def _lasted(seconds: float) -> str:
    minutes, hours, days = int(seconds // 60), int(seconds // 3600), int(seconds // 86400)
    if days:
        return f"{days} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


def _some_metrics(versions: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for version in versions:
        names += [n for n in version["metrics"] if n not in names]
    return names[:HEADLINE]


def _plain(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _signed(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return f"{value:+.4g}"
