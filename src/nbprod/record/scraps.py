"""Scraps: the values a notebook glued with scrapbook, read back for the record.

The only module that imports scrapbook (last released 2021), so it can be
replaced in one place. Small JSON values are kept inline in the run record;
larger ones (and data frames) are stored as artifacts and referenced, so
records stay small enough to list and diff.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Scrap:
    name: str
    data: Any
    encoder: str | None
    display_only: bool


def read_scraps(notebook_path: str) -> list[Scrap]:
    """Scraps of an executed ``.ipynb``, in glue order (last glue of a name wins)."""
    import scrapbook as sb

    notebook = sb.read_notebook(str(notebook_path))
    found: list[Scrap] = []
    for name, scrap in notebook.scraps.items():
        found.append(
            Scrap(
                name=name,
                data=scrap.data,
                encoder=scrap.encoder,
                display_only=scrap.data is None and scrap.display is not None,
            )
        )
    return found


def encode(scrap: Scrap, inline_max: int) -> tuple[dict[str, Any], bytes | None]:
    """The record entry for a scrap, and the bytes to store as an artifact (or None).

    Numbers stay numbers. A value whose JSON exceeds ``inline_max`` bytes, or
    one that is not JSON at all (a data frame), is serialized and stored.
    """
    if scrap.display_only:
        return {"encoder": scrap.encoder, "display_only": True}, None
    data = scrap.data
    if _is_frame(data):
        payload = data.to_json(orient="split", date_format="iso").encode()
        return {"encoder": scrap.encoder, "type": "dataframe", "shape": list(data.shape)}, payload
    try:
        text = json.dumps(_finite(data), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        text = json.dumps(repr(data))
        return {"encoder": scrap.encoder, "type": type(data).__name__, "repr": True}, text.encode()
    if scrap.encoder == "json" and data in _NONFINITE_TEXT:
        # Jupyter's message encoder sends a glued NaN/inf as the string "nan"/"inf"
        return {"value": None, "encoder": scrap.encoder, "nonfinite": data}, None
    if len(text.encode()) <= inline_max:
        return {"value": _finite(data), "encoder": scrap.encoder}, None
    return {"encoder": scrap.encoder, "type": type(data).__name__}, text.encode()


_NONFINITE_TEXT = ("nan", "inf", "-inf", "NaN", "Infinity", "-Infinity")


def _is_frame(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "to_json")


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: map them to None (a metric that is NaN is no metric)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


#: the mimetype prefix of scrapbook's outputs in a notebook (``...scrap.<encoder>+json``)
_SCRAP_MIME = "application/scrapbook.scrap."


def redact_payloads(notebook: bytes, redactor) -> bytes:
    """A notebook's bytes with the secrets inside its glued data frames redacted.

    scrapbook stores a data frame as base64 parquet in the notebook, where text
    redaction cannot see a secret: each such payload is decoded, its strings
    (cells, column names, index) redacted, and encoded again. A payload that
    cannot be decoded while secrets exist is replaced by a text scrap saying so.
    """
    if not redactor or b'"pandas"' not in notebook:
        return notebook
    nb = json.loads(notebook)
    changed = False
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", None) or []:
            for mime, payload in list((output.get("data") or {}).items()):
                if not (mime.startswith(_SCRAP_MIME) and isinstance(payload, dict)
                        and payload.get("encoder") == "pandas" and isinstance(payload.get("data"), str)):
                    continue
                try:
                    clean = _redacted_frame(payload["data"], redactor)
                except Exception:  # unreadable here: nothing of it may leave the machine unseen
                    output["data"][mime] = {**payload, "encoder": "text",
                                            "data": "[redacted: a data frame nbprod could not read]"}
                    changed = True
                    continue
                if clean != payload["data"]:
                    payload["data"] = clean
                    changed = True
    if not changed:
        return notebook
    return (json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def redact_payloads_in_place(notebooks, redactor) -> None:
    """:func:`redact_payloads` for each notebook file, rewritten whole when it changed."""
    import sys
    from pathlib import Path

    from .. import redact
    from ..files import atomic_write

    for path in sorted(Path(p) for p in notebooks):
        try:
            data = path.read_bytes()
            clean = redact_payloads(data, redactor)
            if clean != data:
                atomic_write(path, clean, mode=path.stat().st_mode & 0o7777)
        except OSError as err:
            print(redact.redact_text(f"nbprod: warning: could not redact the scraps of {path}: {err}"),
                  file=sys.stderr)


def _redacted_frame(data: str, redactor) -> str:
    import base64
    import io

    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(base64.b64decode(data)), engine="pyarrow")

    def clean(value):
        if isinstance(value, str):
            return redactor.text(value)
        if isinstance(value, (list, dict)):
            return redactor.obj(value)
        return value

    redacted = frame.map(clean)
    redacted.columns = [clean(c) for c in frame.columns]
    redacted.index = frame.index.map(clean)
    if redacted.equals(frame) and list(redacted.columns) == list(frame.columns) and redacted.index.equals(frame.index):
        return data
    out = io.BytesIO()
    redacted.to_parquet(out, engine="pyarrow")
    return base64.b64encode(out.getvalue()).decode()
