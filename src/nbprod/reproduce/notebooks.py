"""Executed notebooks compared for what they computed, not when or where.

Two executions of the same notebook on the same inputs differ in bytes: papermill's
timings and paths, cell ids (the injected-parameters cell gets a new one each time),
execution metadata, and the project folder, which ploomber writes into the injected
cell (``product = {"nb": "/abs/path/..."}``) and which tracebacks and warnings print.
:func:`normal_form` keeps what a notebook computed: each cell's type, source, tags
and outputs (stream text, display data by MIME type, errors), with every run's
project and repository folders replaced by ``<project>`` / ``<repository>``, and the
notebook's kernel name. Equal normal forms: the notebook is the same (``identical``).

:func:`loose_form` goes further, for the ``equivalent`` verdict: stderr streams
(warnings, progress bars) are dropped and object addresses (``0x7f3a...``) masked.
nbformat reads the notebooks (any nbformat 4 minor version).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def normal_form(data: bytes, folders: Iterable[tuple[str, str]] = (), *, loose: bool = False) -> str:
    """Canonical JSON of what the notebook ``data`` computed (see the module docstring);
    ``folders``: (path, placeholder) pairs to replace, longest first."""
    import nbformat

    nb = nbformat.reads(data.decode("utf-8", "replace"), as_version=4)
    swap = sorted(((p, r) for p, r in folders if p), key=lambda pair: -len(pair[0]))

    def text(value: Any) -> str:
        value = "".join(value) if isinstance(value, list) else str(value)
        for path, placeholder in swap:
            value = value.replace(path.rstrip("/"), placeholder)
        return _ADDRESS.sub("0x…", value) if loose else value

    cells = []
    for cell in nb.cells:
        entry: dict[str, Any] = {"type": cell.cell_type, "source": text(cell.source),
                                 "tags": list((cell.get("metadata") or {}).get("tags") or [])}
        if cell.cell_type == "code":
            entry["outputs"] = [out for out in (_output(o, text, loose) for o in cell.get("outputs") or []) if out]
        cells.append(entry)
    kernel = ((nb.metadata or {}).get("kernelspec") or {}).get("name")
    return json.dumps({"kernel": kernel, "cells": cells}, sort_keys=True, ensure_ascii=False)


def loose_form(data: bytes, folders: Iterable[tuple[str, str]] = ()) -> str:
    return normal_form(data, folders, loose=True)


def _output(out: dict[str, Any], text, loose: bool) -> dict[str, Any] | None:
    kind = out.get("output_type")
    if kind == "stream":
        if loose and out.get("name") == "stderr":
            return None
        return {"stream": out.get("name"), "text": text(out.get("text", ""))}
    if kind in ("execute_result", "display_data"):
        data = {mime: (text(value) if isinstance(value, (str, list)) else value)
                for mime, value in (out.get("data") or {}).items()
                if not (loose and mime == "application/vnd.jupyter.widget-view+json")}
        return {"data": data}
    if kind == "error":
        return {"error": out.get("ename"), "value": text(out.get("evalue", "")),
                "traceback": [text(line) for line in out.get("traceback") or []]}
    return {"other": kind}


def folders_of(record) -> list[tuple[str, str]]:
    """A run's project and repository folders, with their placeholders."""
    found = [((record.project or {}).get("root"), "<project>"), ((record.git or {}).get("root"), "<repository>")]
    return [(path, placeholder) for path, placeholder in found if path]
