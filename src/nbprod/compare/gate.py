"""The gate ``nbprod runs diff OLD NEW --fail-on regressed`` applies to a diff (exit 4).

Why its own module: a gate decides, the diff only describes. A headline metric of
nbprod.yaml fails the gate when it got worse beyond its declared tolerance, and also when
the new run has none (not scrapped, or NaN/inf where the old run had a value): a gate must
not pass because the model it guards produced nothing.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import CheckFailedError


def regressed(diff: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline metric rows of ``diff`` (:func:`nbprod.compare.diff.diff_records`) that fail."""
    return [m for m in diff["metrics"] if m["headline"] and (
        m["verdict"] in ("regressed", "removed") or (m["verdict"] == "n/a" and not _finite(m["new"])))]


def check(diff: dict[str, Any]) -> None:
    """Raise :class:`CheckFailedError` (exit 4) naming every failing headline metric."""
    worse = regressed(diff)
    if worse:
        shown = ", ".join(f"{m['name']} {_shown(m['old'])} -> {_shown(m['new'])}" for m in worse)
        raise CheckFailedError(f"{len(worse)} headline metric(s) regressed beyond their tolerance, or are missing, "
                               f"from run {diff['old']} to {diff['new']}: {shown}")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value: Any) -> str:
    return f"{value:.6g}" if _finite(value) else "missing" if value is None else str(value)
