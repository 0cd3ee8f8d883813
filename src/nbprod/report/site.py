"""Building the site: what to render, where to write it, and the manifest that makes
re-building cheap.

Why incremental: a store gains one run at a time and keeps hundreds, and a run's
pages never change once its record is written. Rendering every notebook again
after each run would take minutes (nbconvert needs tens of milliseconds a notebook,
after a second of importing). So ``site/manifest.json`` remembers, per run, a
fingerprint of its summary, its neighbours and the pages written for it::

    {"format": "<SITE_FORMAT>:<digest of this package's templates and code>",
     "static": ["static/notebook.css"],
     "runs": {run_id: {"fp", "prev", "next", "prev_fp", "registered", "pages": [...]}},
     "models": ["models/penguins.html"]}

and a build compares the store's summaries (a few requests, not one per run) with it:

- a new run, or one whose summary changed: every page of it is rendered
  (``rendered``): run page, notebook pages, compare page with its predecessor;
- a run whose previous or next run changed (a new run arrived after it): only its
  run page is rendered again, for the links (``relinked``), and its compare page
  when its predecessor changed; its notebooks are not;
- any other run: nothing is read or written for it (``reused``);
- a run whose model versions changed (``registered``: a version it registered, or that
  version's verdict): its run page is rendered again (``relinked``);
- the index and the models pages are always rendered (they list every run, from the
  summaries alone, and each model's event log, which changes without any run changing);
- pages of runs no longer in the store, and pages no longer produced, are deleted;
- a different ``format`` (nbprod upgraded, templates edited) or ``force`` renders
  everything;
- a run whose notebook could not be read, or whose record is missing, is recorded
  with ``fp`` None (its predecessor's missing: ``prev_fp`` None), so the next build
  renders it again; meanwhile pages written earlier are kept, and only pages that
  exist are linked.

The manifest is written last, so a build that is cut short is completed by the next.

Where: by default the store's ``site/`` prefix, written through the :class:`Store`
(one fsspec code path: a folder, ``memory://``, or S3, where each page gets its
``Content-Type`` so an S3 static website serves it as a page); with ``out``, a local
folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from nbprod.errors import StoreError
from nbprod.files import sha256_bytes
from nbprod.schema import RunRecord, is_smoke
from nbprod.store import Store

from . import modelpages
from .sinks import FolderSink, StoreSink

SITE_FORMAT = 1  # bump when the site's layout changes in a way templates do not show
MANIFEST = "manifest.json"
CSS = "static/notebook.css"
BATCH = 50  # runs whose records are read (and pages rendered) together

#: the only pages a build ever deletes: a manifest is stored data, and a tampered one
#: must not make a build delete anything outside the site's own pages
_PAGE = re.compile(r"(runs|notebooks|compare|models)/[A-Za-z0-9_.\-/]+\.html")

# -- what a build renders -----------------------------------------------------------
#: modules outside this package whose output the pages show: a change to one renders every page again
SHOWN_MODULES = ("nbprod.compare.diff", "nbprod.compare.metrics", "nbprod.compare.select", "nbprod.project",
                 "nbprod.project.models", "nbprod.models.registry", "nbprod.models.views",
                 "nbprod.redact", "nbprod.schema", "nbprod.store.pull")


def site_format() -> str:
    """SITE_FORMAT plus a digest of this package's templates and code, of the modules
    whose output the pages show (diff, redaction, metric specs) and of the versions of
    nbprod and nbconvert: an upgrade, or an edited template, renders every page again."""
    import importlib
    import sys
    from importlib.metadata import PackageNotFoundError, version

    from nbprod import __version__

    here = Path(__file__).parent
    digest = hashlib.sha256(str(SITE_FORMAT).encode())
    try:
        nbconvert_version = version("nbconvert")
    except PackageNotFoundError:
        nbconvert_version = "none"
    digest.update(f"nbprod {__version__} nbconvert {nbconvert_version}".encode())
    package = here.parent
    shown = []
    for name in SHOWN_MODULES:  # imported, so a moved or renamed module fails here, loudly
        module = sys.modules.get(name) or importlib.import_module(name)
        shown.append(Path(module.__file__))
    sources = [*here.glob("*.py"), *(here / "templates").glob("*.j2"), *shown]
    for path in sorted(set(sources)):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{SITE_FORMAT}:{digest.hexdigest()[:16]}"


def fingerprint(summary: dict[str, Any]) -> str:
    """What identifies a run's content: its summary (records are written once; a
    rewritten record rewrites its summary too)."""
    return sha256_bytes(json.dumps(summary, sort_keys=True, default=str).encode())[:16]


def task_slug(name: str) -> str:
    """A file name for a task's notebook page; names that needed changing get a hash,
    so two tasks never share a page."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-") or "task"
    return slug if slug == name else f"{slug}-{sha256_bytes(name.encode())[:6]}"


def run_page(run_id: str) -> str:
    return f"runs/{run_id}.html"


def notebook_page(run_id: str, task: str) -> str:
    return f"notebooks/{run_id}/{task_slug(task)}.html"


def compare_page(old: str, new: str) -> str:
    return f"compare/{old}__{new}.html"


def is_page(rel: Any) -> bool:
    """Whether ``rel`` (from a stored manifest) names one of the site's own pages."""
    return (isinstance(rel, str) and _PAGE.fullmatch(rel) is not None
            and ".." not in rel.split("/") and "" not in rel.split("/"))


def _old_pages(run: Any) -> list[str]:
    pages = run.get("pages") if isinstance(run, dict) else None
    return [page for page in pages if is_page(page)] if isinstance(pages, list) else []


def build_site(store: Store, out: str | os.PathLike | None = None, *, force: bool = False,
               log: Callable[[str], Any] = print, repo: str | os.PathLike | None = None,
               smoke: bool = False) -> dict[str, Any]:
    """Build (or bring up to date) the static report site of ``store``.

    Writes to the store's ``site/`` prefix, or to the local folder ``out``. ``repo``:
    a git clone of the project, where compare pages look up the files changed
    between two runs' commits (as ``nbprod runs diff`` does); None lists none. ``smoke``:
    smoke runs (``nbprod build --smoke``) get pages too; otherwise they are left out. Returns
    ``{"runs", "rendered", "relinked", "reused", "pages", "deleted", "unreadable", "models", "seconds", "where"}``:
    ``rendered`` runs had all their pages rendered, ``relinked`` ones only their run
    page (new neighbours), ``reused`` = runs - rendered; ``unreadable`` runs have a
    corrupt record.json: each is named in one warning line, listed in the index from its
    summary, and rendered again by the next build.
    """
    started = time.perf_counter()
    sink: FolderSink | StoreSink = FolderSink(out) if out is not None else StoreSink(store)
    summaries = [s for s in reversed(store.summaries()) if smoke or not is_smoke(s)]  # oldest first
    fmt = site_format()
    old_manifest = _read_manifest(sink)
    fresh = force or old_manifest.get("format") != fmt
    old_runs = old_manifest.get("runs") if isinstance(old_manifest.get("runs"), dict) else {}
    before: dict[str, dict[str, Any]] = {} if fresh else old_runs

    ids = [s["run_id"] for s in summaries]
    models = modelpages.read_models(store)  # every model's log, folded: its pages, and what runs registered
    reproduced_by: dict[str, list[dict[str, Any]]] = {}  # `nbprod reproduce`: original -> its reproductions
    for s in summaries:
        if s.get("reproduces"):
            reproduced_by.setdefault(s["reproduces"], []).append(s)
    # a run whose reproductions changed is rendered again (its page links them)
    fps = {s["run_id"]: fingerprint({**s, "reproduced_by": [(r["run_id"], r.get("verdict")) for r in
                                                             reproduced_by[s["run_id"]]]})
           if s["run_id"] in reproduced_by else fingerprint(s) for s in summaries}
    plan: dict[str, dict[str, Any]] = {}
    for i, run_id in enumerate(ids):
        prev = ids[i - 1] if i else None
        nxt = ids[i + 1] if i + 1 < len(ids) else None
        old = before.get(run_id)
        full = old is None or old.get("fp") != fps[run_id]
        marks = models.marks(run_id)
        relink = full or old.get("prev") != prev or old.get("next") != nxt or (old.get("registered") or []) != marks
        compare = prev is not None and (full or old.get("prev") != prev or old.get("prev_fp") != fps[prev])
        # pages written by an earlier build (whatever its format): they exist, so they are
        # kept, and linked, where this build cannot write them again
        existing = _old_pages(old_runs.get(run_id))
        entry = {"fp": fps[run_id], "prev": prev, "next": nxt, "prev_fp": fps[prev] if prev else None,
                 "pages": list(existing), **({"registered": marks} if marks else {})}
        plan[run_id] = {"entry": entry, "full": full, "relink": relink, "compare": compare,
                        "existing": set(existing)}

    work = [run_id for run_id in ids if plan[run_id]["relink"] or plan[run_id]["compare"]]
    rendered = sum(1 for p in plan.values() if p["full"])
    log(f"nbprod: report: {len(ids)} runs, {rendered} to render, {len(work) - rendered} to relink -> {sink.where}")

    written = 0
    renderer = None
    if fresh or CSS not in old_manifest.get("static", []):
        from .notebooks import notebook_css

        sink.write(CSS, notebook_css())
        written += 1

    newest_record: RunRecord | None = None
    unreadable: dict[str, str] = {}  # a corrupt record.json: that run is skipped (one warning), the rest built
    for start in range(0, len(work), BATCH):
        batch = work[start:start + BATCH]
        wanted = set(batch) | {plan[r]["entry"]["prev"] for r in batch if plan[r]["compare"]}
        records = store.read_records(sorted(w for w in wanted if w and w not in unreadable), unreadable=unreadable)
        for run_id in batch:
            record = records.get(run_id)
            step = plan[run_id]
            entry, existing = step["entry"], step["existing"]
            if record is None:  # listed but its record is gone: keep what was there, retry next time
                entry["fp"] = None
                continue
            if ids and run_id == ids[-1]:
                newest_record = record
            pages: list[str] = []
            # the run page is rendered again for new links: neighbours, or a compare page
            # that did not exist before
            run_again = step["relink"] or (step["compare"] and compare_page(entry["prev"], run_id) not in existing)
            # it needs the notebooks (links, display scraps); a compare page alone does not
            notebooks = _notebooks(store, record) if step["full"] or run_again else {}
            for task, nb in notebooks.items():
                page = nb["page"]
                if nb.get("bytes") is not None and (step["full"] or page not in existing):
                    if renderer is None:
                        from .notebooks import NotebookRenderer

                        renderer = NotebookRenderer()
                    sink.write(page, _notebook_html(renderer, record, task, nb))
                    written += 1
                    nb["available"] = True
                elif nb.get("bytes") is not None or (nb.get("failed") and page in existing):
                    nb["available"] = page in existing
                else:
                    nb["available"] = False
                if nb.get("failed"):  # a read that failed (not a missing notebook): render it all next time
                    entry["fp"] = None
                if nb["available"]:
                    pages.append(page)
            if not (step["full"] or run_again):  # notebooks not read: their pages stay as they were
                pages += [page for page in entry["pages"] if page.startswith("notebooks/")]
            compare_ok = False
            if entry["prev"]:
                page = compare_page(entry["prev"], run_id)
                old_record = records.get(entry["prev"]) if step["compare"] else None
                if old_record is not None:
                    sink.write(page, _compare_html(old_record, record, repo))
                    written += 1
                    compare_ok = True
                else:
                    compare_ok = page in existing
                    if step["compare"]:  # its predecessor's record is missing: retry next time
                        entry["prev_fp"] = None
                if compare_ok:
                    pages.append(page)
            if run_again:
                sink.write(run_page(run_id), _run_html(store, record, entry, notebooks, compare_ok,
                                                       reproduced_by.get(run_id), modelpages.run_links(models, run_id)))
                written += 1
            pages.append(run_page(run_id))
            entry["pages"] = pages
        sink.flush()

    if ids and newest_record is None and ids[-1] not in unreadable:
        newest_record = store.read_records([ids[-1]], unreadable=unreadable).get(ids[-1])
    for reason in unreadable.values():
        log(f"nbprod: warning: {reason}; its pages are not rendered")
    for problem in models.problems.values():
        log(f"nbprod: warning: {problem}; its page says so")
    keep = {page for p in plan.values() for page in p["entry"]["pages"]}
    model_pages = modelpages.write_pages(sink, models, pages=keep, headline=_headline(newest_record),
                                         now=datetime.now(timezone.utc))
    sink.write("index.html", _index_html(summaries, newest_record, keep, modelpages.index_rows(models)))
    written += 1 + len(model_pages)
    sink.flush()

    # pages no longer produced: runs gone from the store, notebooks or compare pages renamed, models gone
    old_models = old_manifest.get("models") if isinstance(old_manifest.get("models"), list) else []
    stale = ({page for run in old_runs.values() for page in _old_pages(run)}
             | {page for page in old_models if is_page(page)}) - keep - set(model_pages)
    for page in sorted(stale):  # each one is_page: nothing outside the site's pages
        sink.delete(page)

    manifest = {"format": fmt, "static": [CSS], "runs": {r: plan[r]["entry"] for r in ids}, "models": model_pages}
    sink.write(MANIFEST, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    sink.flush()
    seconds = round(time.perf_counter() - started, 3)
    return {"runs": len(ids), "rendered": rendered, "relinked": len(work) - rendered,
            "reused": len(ids) - rendered, "pages": written, "deleted": len(stale),
            "unreadable": len(unreadable), "models": len(model_pages), "seconds": seconds, "where": sink.where}


def _read_manifest(sink) -> dict[str, Any]:
    data = sink.read(MANIFEST)
    if not data:
        return {}
    try:
        manifest = json.loads(data)
    except ValueError:
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _notebooks(store: Store, record: RunRecord) -> dict[str, dict[str, Any]]:
    """Each task's executed notebook: its bytes (None when unreadable, with a note, and
    ``failed`` when reading it failed), parsed JSON (for display scraps) and page. It is
    read by its recorded sha256 and verified against it (a mismatch is a failed read)."""
    found: dict[str, dict[str, Any]] = {}
    for task in record.tasks:
        if not task.notebook:
            continue
        info: dict[str, Any] = {"page": notebook_page(record.run_id, task.name), "bytes": None,
                                "json": {}, "note": None, "warning": None}
        # read by its hash only (the record's ``key`` is not trusted: it could name any
        # file), verified against it
        sha = task.notebook.get("sha256")
        try:
            Store.object_key(sha)
        except StoreError:
            info["note"] = "executed notebook unavailable: its recorded sha256 is not valid"
            found[task.name] = info
            continue
        try:
            data = store.get_bytes(sha)
        except Exception as err:
            info["note"] = f"executed notebook unavailable: {err}"
            info["failed"] = True
            data = None
        if data is not None:
            try:
                info["json"] = json.loads(data)
                info["bytes"] = data
            except ValueError:
                info["note"] = "executed notebook is not valid JSON"
        found[task.name] = info
    return found


def _notebook_html(renderer, record: RunRecord, task: str, nb: dict[str, Any]) -> bytes:
    from .pages import CSP, finish

    depth = "../../"
    context = {"csp": CSP, "css_href": depth + CSS, "index_href": depth + "index.html",
               "run_href": depth + run_page(record.run_id), "run_id": record.run_id, "task": task,
               "warning": nb.get("warning")}
    try:
        html = renderer.render(nb["bytes"], title=f"{task} · run {record.run_id}", context=context)
    except Exception as err:  # one notebook nbconvert cannot read must not stop the report
        from .pages import render

        return render("message.html.j2", root=depth, title=f"{task} · run {record.run_id}",
                      message=f"This notebook could not be rendered: {type(err).__name__}: {err}",
                      back=depth + run_page(record.run_id))
    return finish(html)


def _run_html(store: Store, record: RunRecord, entry: dict[str, Any], notebooks: dict[str, dict[str, Any]],
              compare_ok: bool = True, reproduced_by: list[dict[str, Any]] | None = None,
              registered: list[dict[str, Any]] | None = None) -> bytes:
    from .pages import run_html

    return run_html(record, entry=entry, notebooks=notebooks, fetch=store.get_bytes,
                    run_href=lambda r: f"{r}.html", notebook_href=lambda t: "../" + notebook_page(record.run_id, t),
                    compare_href=lambda old, new: "../" + compare_page(old, new) if compare_ok else None,
                    reproduced_by=reproduced_by, registered=registered)


def _compare_html(old: RunRecord, new: RunRecord, repo) -> bytes:
    from .pages import compare_html

    return compare_html(old, new, repo)


def _index_html(summaries: list[dict[str, Any]], newest: RunRecord | None, pages: set[str] | None = None,
                models: list[dict[str, Any]] | None = None) -> bytes:
    from .pages import index_html

    return index_html(summaries, newest, pages, models)


def _headline(newest: RunRecord | None) -> list[str]:
    """The headline metrics in force now (the newest record's declaration), as the index charts them."""
    from nbprod.compare import metrics as metricspec

    return metricspec.headline(metricspec.from_dicts(getattr(newest, "metrics_spec", None) or []))
