"""How a stored value is shown on a run page: numbers, tables, JSON, images.

Why a module of its own: scraps come in several stored forms (see
:mod:`nbprod.record.scraps`): inline JSON values, artifacts (data frames serialized with
``to_json(orient="split")``, large JSON, the ``repr`` of what JSON cannot hold),
and display-only scraps whose only trace is a display output in the executed
notebook. Each becomes one plain "view" dict that the Jinja templates render with
autoescape on; the only pre-built HTML is a display output, cleaned by
:func:`.notebooks.display_html`.

A view is ``{"name", "kind", ...}`` with kind one of ``scalar`` (``value``), ``text``
(``text``), ``table`` (``columns``, ``rows``, ``note``), ``json`` (``text``), ``html``
(``html``: safe markup) or ``note`` (``text``: why nothing is shown).

Products: an image (by its name's suffix, up to :data:`MAX_IMAGE` bytes) is shown
inline as a ``data:`` URI, the only images the pages' CSP allows (``img-src data:``),
read from the store by hash; anything else is named with where ``nbprod pull RUN``
puts it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

MAX_ARTIFACT = 2_000_000  # bytes: larger artifacts are named, not downloaded for the page
MAX_ROWS = 50  # rows of a table shown on the page
MAX_JSON = 20_000  # characters of pretty JSON shown
MAX_IMAGE = 2_000_000  # bytes: a larger image product is not inlined
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".svg": "image/svg+xml"}


def fmt(value: Any) -> str:
    """A scalar as a short string (floats to 6 significant digits)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "—"
    return str(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def value_view(name: str, value: Any) -> dict[str, Any]:
    """A JSON value: a scalar, a table when its shape is tabular, else pretty JSON."""
    if isinstance(value, str):
        return {"name": name, "kind": "text", "text": value}
    if _scalar(value):
        return {"name": name, "kind": "scalar", "value": fmt(value)}
    if isinstance(value, dict) and value and all(_scalar(v) for v in value.values()):
        return {"name": name, "kind": "table", "columns": ["key", "value"],
                "rows": [[str(k), fmt(v)] for k, v in value.items()][:MAX_ROWS], "note": _more(len(value))}
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value) \
            and all(_scalar(v) for r in value for v in r.values()):
        columns: list[str] = []
        for row in value:
            columns += [str(k) for k in row if str(k) not in columns]
        rows = [[fmt(row.get(c)) for c in columns] for row in value[:MAX_ROWS]]
        return {"name": name, "kind": "table", "columns": columns, "rows": rows, "note": _more(len(value))}
    if isinstance(value, list) and all(_scalar(v) for v in value) and len(value) <= 20:
        return {"name": name, "kind": "scalar", "value": json.dumps(value)}
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    if len(text) > MAX_JSON:
        text = text[:MAX_JSON] + f"\n... ({len(text):,} characters in all)"
    return {"name": name, "kind": "json", "text": text}


def _more(total: int) -> str | None:
    return f"first {MAX_ROWS} of {total:,} rows" if total > MAX_ROWS else None


def frame_view(name: str, payload: bytes) -> dict[str, Any]:
    """A data frame stored as ``to_json(orient="split")``: its first rows as a table."""
    data = json.loads(payload)
    columns = [_label(c) for c in data.get("columns", [])]
    index = data.get("index") or []
    rows = data.get("data", [])
    shown = [[_label(index[i]) if i < len(index) else ""] + [fmt(v) for v in row] for i, row in enumerate(rows[:MAX_ROWS])]
    return {"name": name, "kind": "table", "columns": [""] + columns, "rows": shown, "note": _more(len(rows))}


def _label(value: Any) -> str:
    if isinstance(value, list):  # a MultiIndex entry
        return " / ".join(fmt(v) for v in value)
    return fmt(value)


def scrap_view(name: str, entry: dict[str, Any], *, fetch: Callable[[str], bytes],
               displays: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The view of one recorded scrap; ``fetch(sha256)`` reads an artifact's bytes and
    ``displays`` are the display outputs of scraps found in the executed notebook."""
    from markupsafe import Markup

    from .notebooks import display_html

    if name in displays and (entry.get("display_only") or "value" not in entry):
        # built by display_html: cleaned HTML or an <img> of a data URI, safe to insert
        return {"name": name, "kind": "html", "html": Markup(display_html(displays[name]))}
    if entry.get("display_only"):
        return {"name": name, "kind": "note", "text": "display-only scrap: see the notebook"}
    if "value" in entry:
        if entry.get("nonfinite"):
            return {"name": name, "kind": "scalar", "value": str(entry["nonfinite"])}
        return value_view(name, entry["value"])
    artifact = entry.get("artifact") or {}
    sha, size = artifact.get("sha256"), artifact.get("size") or 0
    if not sha:
        return {"name": name, "kind": "note", "text": "not recorded"}
    if size > MAX_ARTIFACT:
        return {"name": name, "kind": "note",
                "text": f"{entry.get('type') or 'artifact'} of {size / 1e6:.1f} MB, not shown (sha256 {sha[:12]}...)"}
    try:
        payload = fetch(sha)
    except Exception as err:  # a missing or corrupt object: the page still renders
        return {"name": name, "kind": "note", "text": f"artifact unavailable: {err}"}
    try:
        if entry.get("type") == "dataframe":
            view = frame_view(name, payload)
            if entry.get("shape"):
                view["note"] = " · ".join(filter(None, [f"{entry['shape'][0]:,} × {entry['shape'][1]:,}", view.get("note")]))
            return view
        value = json.loads(payload)
    except (ValueError, TypeError, KeyError, IndexError):
        return {"name": name, "kind": "note", "text": f"artifact of {size:,} bytes could not be read"}
    if entry.get("repr"):
        return {"name": name, "kind": "json", "text": str(value)[:MAX_JSON]}
    return value_view(name, value)


def product_view(run_id: str, task: str, product: dict[str, Any], *, fetch: Callable[[str], bytes]) -> dict[str, Any]:
    """A recorded product for the run page: the record's fields plus ``image`` (a data: URI)
    for an image that could be read, else ``pulled`` (its path after ``nbprod pull RUN``)
    and ``note`` (why an image is not shown)."""
    import base64
    from pathlib import PurePosixPath

    from nbprod.store.pull import local_path

    view = {**product, "image": None, "note": None, "pulled": None}
    path = str(product.get("path") or product.get("name") or "")
    mime = IMAGE_TYPES.get(PurePosixPath(path).suffix.lower())
    sha, size = product.get("sha256"), product.get("size") or 0
    if mime and sha and size <= MAX_IMAGE:
        try:
            view["image"] = f"data:{mime};base64,{base64.b64encode(fetch(sha)).decode('ascii')}"
            return view
        except Exception as err:  # a missing or corrupt object: the page still renders
            view["note"] = f"image unavailable: {err}"
    elif mime and sha:
        view["note"] = f"image of {size / 1e6:.1f} MB, not shown inline"
    view["pulled"] = (PurePosixPath("outputs", "pulled", run_id) / local_path(path, task).as_posix()).as_posix()
    return view

