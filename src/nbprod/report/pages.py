"""The site's own pages (index, run, compare; models in :mod:`.modelpages`), rendered with Jinja2.

Why Jinja with autoescape: every string on these pages comes from a run record
(parameters, scrap values, error messages, user and host names), and any of them
can hold ``<`` or ``"``; autoescape makes escaping the default, so forgetting it is
impossible. The only markup inserted unescaped is what this package built itself
(the SVG charts, display outputs cleaned by :mod:`.notebooks`), marked ``Markup``.

Every page carries :data:`CSP` and goes through :func:`finish`, which redacts
secret values (:func:`nbprod.redact.redact_text`) from its final text, so nothing
a notebook printed or a record holds can publish a credential.

Links are relative (``../runs/<id>.html``), so the site works from ``file://``, from
any sub-folder of a static host, and from the store's ``site/`` prefix alike. The
layout of the site::

    index.html                          every run, newest first, and the trend charts
    runs/<run_id>.html                  one run
    notebooks/<run_id>/<task>.html      its executed notebooks
    compare/<old>__<new>.html           a run against the one before it
    models/<name>.html                  a model: versions (#v<N>), gate reports, its aliases over time
    static/notebook.css                 nbconvert's stylesheet, once for all notebooks
"""

from __future__ import annotations

import re
from typing import Any

#: The Content-Security-Policy of every page. No page needs a script (charts are
#: inline SVG), images are data: URIs, styles are inline or the site's own
#: static/notebook.css ('self'). Everything else, network included, is refused: an
#: output that slipped past the sanitizer can neither run nor load anything.
CSP = ("default-src 'none'; script-src 'none'; object-src 'none'; img-src data:; "
       "style-src 'self' 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'")

_env = None


def env():
    """The Jinja environment (autoescape on), created once per process."""
    global _env
    if _env is None:
        import jinja2

        from .notebooks import TEMPLATES

        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        from .values import fmt

        _env.filters["fmt"] = fmt
        _env.filters["short"] = lambda sha, n=8: (sha or "")[:n] if sha else "—"
        _env.filters["when"] = _when
        _env.filters["secs"] = _secs
        _env.globals["CSP"] = CSP
        _env.globals["version"] = _version()
    return _env


def _when(text: str | None) -> str:
    """ISO time as ``2026-11-01 12:00:00Z`` (seconds; the record keeps milliseconds)."""
    if not text:
        return "—"
    return re.sub(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?",
                  lambda m: f"{m[1]} {m[2]}{'Z' if m[4] in ('Z', '+00:00') else (m[4] or '')}", str(text))


def _secs(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def finish(html: str) -> bytes:
    """A page's final text: secret values redacted, UTF-8."""
    from nbprod.redact import redact_text

    return redact_text(html).encode("utf-8")


def render(template: str, **context: Any) -> bytes:
    return finish(env().get_template(template).render(csp=CSP, **context))


def safe(markup: str):
    """Markup this package built (and escaped or cleaned) itself."""
    from markupsafe import Markup

    return Markup(markup)


# -- pages ---------------------------------------------------------------------------
def _version() -> str:
    from nbprod import __version__

    return __version__


def _specs(record) -> list:
    from nbprod.compare import metrics as metricspec

    return metricspec.from_dicts(getattr(record, "metrics_spec", None) or [])


def index_html(summaries: list[dict[str, Any]], newest, pages: set[str] | None = None,
               models: list[dict[str, Any]] | None = None) -> bytes:
    """The index: every run newest first, a trend chart per headline metric, and the models.

    ``summaries`` oldest first; headline metrics and goals come from the newest
    record's ``metrics_spec`` (the declaration in force now). ``pages``: the site's
    pages, when known; a compare page not among them is not linked. ``models``:
    :func:`.modelpages.index_rows` (none: no models section)."""
    from datetime import datetime, timezone

    from nbprod.compare import metrics as metricspec
    from nbprod.compare.select import differing_params

    from .charts import trend_svg

    specs = _specs(newest) if newest is not None else []
    goals = {spec.name: spec.goal for spec in specs}
    headline = metricspec.headline(specs)
    def run_href(run_id: str) -> str | None:  # a listed run without a record has no page yet
        href = f"runs/{run_id}.html"
        return href if pages is None or href in pages else None

    charts = [{"name": name, "svg": safe(trend_svg(name, summaries, goal=goals.get(name), href=run_href))}
              for name in headline]
    params = differing_params(summaries)
    rows = []
    for i, summary in enumerate(summaries):
        prev = summaries[i - 1]["run_id"] if i else None
        metrics = summary.get("metrics") or {}
        rows.append({
            "run_id": summary["run_id"],
            "href": run_href(summary["run_id"]),
            "started_at": summary.get("started_at"),
            "status": summary.get("status"),
            "commit": summary.get("commit"),
            "dirty": summary.get("dirty"),
            "duration_s": summary.get("duration_s"),
            "user": summary.get("user"),
            "metrics": [metrics.get(name) for name in headline],
            "params": [_param(summary, name) for name in params],
            "command": " ".join(str(a) for a in summary.get("command") or []),
            "error": summary.get("error"),
            "compare_href": _compare_href(prev, summary["run_id"], pages),
        })
    rows.reverse()  # newest first
    failed = sum(1 for s in summaries if s.get("status") != "succeeded")
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return render("index.html.j2", root="", title="Runs", rows=rows, charts=charts, headline=headline,
                  goals=goals, failed=failed, generated=generated, params=params, models=models or [])


def _param(summary: dict[str, Any], name: str) -> str:
    """A parameter's cell in the index: JSON for lists and objects, — when the run has none."""
    import json

    from .values import fmt

    values = summary.get("params") or {}
    if name not in values:
        return "—"
    value = values[name]
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else fmt(value)


def _compare_href(prev: str | None, run_id: str, pages: set[str] | None) -> str | None:
    href = f"compare/{prev}__{run_id}.html" if prev else None
    return href if href and (pages is None or href in pages) else None


def run_html(record, *, entry: dict[str, Any], notebooks: dict[str, dict[str, Any]], fetch,
             run_href, notebook_href, compare_href, reproduced_by: list[dict[str, Any]] | None = None,
             registered: list[dict[str, Any]] | None = None) -> bytes:
    """One run: status, provenance, parameters, metrics and scraps per task, links.

    A reproduction (``nbprod reproduce``) links the run it reproduces, with its verdict and
    differences; ``reproduced_by``: the summaries of runs reproducing this one (their
    ``reproduces`` is this run), linked with their verdicts. ``registered``: the model
    versions it registered (:func:`.modelpages.run_links`), linked with their gate verdicts."""
    from nbprod.compare.metrics import by_name

    from .notebooks import display_outputs
    from .values import product_view, scrap_view, value_view

    specs = by_name(_specs(record))
    tasks = []
    for task in record.tasks:
        nb = notebooks.get(task.name) or {}
        displays = display_outputs(nb.get("json") or {})
        tasks.append({
            "name": task.name,
            "kind": task.kind,
            "status": task.status,
            "source": task.source,
            "started_at": task.started_at,
            "ended_at": task.ended_at,
            "duration_s": task.duration_s,
            "upstream": task.upstream,
            "params": [value_view(name, value) for name, value in task.params.items()],
            "products": [product_view(record.run_id, task.name, p, fetch=fetch) for p in task.products],
            "kernel": task.kernel or None,
            "source_sha256": task.source_sha256,
            "scraps": [scrap_view(name, scrap, fetch=fetch, displays=displays)
                       for name, scrap in task.scraps.items() if isinstance(scrap, dict)],
            "notebook_href": notebook_href(task.name) if _available(nb) else None,
            "notebook_note": nb.get("note") or nb.get("warning"),
            "error": task.error,
        })
    metrics = [{"name": name, "value": value, "goal": specs[name].goal if name in specs else None,
                "headline": bool(name in specs and specs[name].headline)}
               for name, value in record.metrics().items()]
    order = {name: i for i, name in enumerate(specs)}  # declaration order, as index and diff
    metrics.sort(key=lambda m: (not m["headline"], m["name"] not in specs, order.get(m["name"], 0), m["name"]))
    reproduction = None
    if getattr(record, "reproduces", None):
        details = getattr(record, "reproduction", None) or {}
        reproduction = {"of": record.reproduces, "href": run_href(record.reproduces), "verdict": record.verdict,
                        "differences": (details.get("differences") or [])[:MAX_DIFFERENCES],
                        "more": max(0, len(details.get("differences") or []) - MAX_DIFFERENCES)}
    reproducers = [{"run_id": s["run_id"], "href": run_href(s["run_id"]), "verdict": s.get("verdict")}
                   for s in reproduced_by or [] if s.get("reproduces") == record.run_id]
    error_task = record.error.task if record.error else None
    prev, nxt = entry.get("prev"), entry.get("next")
    return render(
        "run.html.j2", root="../", title=f"Run {record.run_id}", run=record, tasks=tasks, metrics=metrics,
        git=record.git or {}, python=record.python or {}, packages=sorted((record.packages or {}).items()),
        inputs=record.inputs or [], input_columns=_columns(record.inputs or []),
        prev_href=run_href(prev) if prev else None, next_href=run_href(nxt) if nxt else None,
        prev=prev, next=nxt, compare_href=compare_href(prev, record.run_id) if prev else None,
        pull_command=f"nbprod pull {record.run_id}", builder_packages=record.packages or {}, spec_files=sorted((record.project or {}).get("files", {}).items()),
        error_href=notebook_href(error_task) if error_task and _available(notebooks.get(error_task) or {}) else None,
        reproduction=reproduction, reproducers=reproducers, uncommitted=getattr(record, "uncommitted", None),
        registered=registered or [],
    )


MAX_DIFFERENCES = 50  # a reproduction's differences shown on its page (the record keeps them all)


def _available(nb: dict[str, Any]) -> bool:
    """Whether a notebook's page exists (the builder says; else: it could be read)."""
    return bool(nb.get("available")) if "available" in nb else nb.get("bytes") is not None


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def compare_html(old, new, repo=None) -> bytes:
    """The compare page: :func:`nbprod.compare.diff.diff_records` of two runs, the same content
    as ``nbprod runs diff`` (files changed between the commits when ``repo``, a git
    clone of the project, has both)."""
    from nbprod.compare.diff import diff_records

    diff = diff_records(old, new, repo=repo)
    return render("compare.html.j2", root="../", title=f"Compare {old.run_id} → {new.run_id}", diff=diff,
                  old_href=f"../runs/{old.run_id}.html", new_href=f"../runs/{new.run_id}.html")
