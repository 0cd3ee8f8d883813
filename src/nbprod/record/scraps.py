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
