"""Which metrics matter and which way is better, declared once per project.

Why: "accuracy went from 0.95 to 0.97" is only news if the tool knows higher
is better, and a report should chart the two or three numbers a team watches,
not every scalar a notebook glued. A project declares them in ``nbprod.yaml``
beside ``pipeline.yaml``::

    metrics:
      - name: accuracy
        goal: max          # max: higher is better; min: lower is better
        headline: true     # shown in `runs ls`, the report's index and charts
      - name: log_loss
        goal: min
        tolerance: 0.001   # changes smaller than this are "unchanged"

The recorder copies the declaration into every run record
(``RunRecord.metrics_spec``), so ``runs diff`` and reports work from the store
alone, and an old run keeps the meaning it was recorded with. Metrics not
declared are still compared, with no direction (``verdict: changed``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from .exceptions import ConfigError

FILENAME = "nbprod.yaml"
GOALS = ("max", "min")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    goal: str = "max"
    headline: bool = False
    tolerance: float = 0.0

    def verdict(self, old: Any, new: Any) -> str:
        """``improved``, ``regressed`` or ``unchanged`` (within ``tolerance``)."""
        delta = float(new) - float(old)
        if abs(delta) <= self.tolerance:
            return "unchanged"
        better = delta > 0 if self.goal == "max" else delta < 0
        return "improved" if better else "regressed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse(items: Any, source: str) -> list[MetricSpec]:
    """Specs from the ``metrics:`` list; a bad entry is a one-line ConfigError naming it."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{source}: `metrics` must be a list of {{name, goal}} entries, got {type(items).__name__}",
                          hint="see README.md, 'Comparing runs'")
    specs, seen = [], set()
    for number, item in enumerate(items, 1):
        where = f"{source}: metrics entry {number}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise ConfigError(f"{where} needs a `name`", hint="e.g. `- {name: accuracy, goal: max}`")
        unknown = set(item) - {"name", "goal", "headline", "tolerance"}
        if unknown:
            raise ConfigError(f"{where} ({item['name']}) has unknown keys {sorted(unknown)}",
                              hint="allowed: name, goal, headline, tolerance")
        goal = str(item.get("goal", "max")).lower()
        if goal not in GOALS:
            raise ConfigError(f"{where} ({item['name']}) has goal {item.get('goal')!r}",
                              hint="use `max` (higher is better) or `min` (lower is better)")
        tolerance = item.get("tolerance", 0.0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise ConfigError(f"{where} ({item['name']}) has tolerance {tolerance!r}", hint="use a number >= 0")
        if item["name"] in seen:
            raise ConfigError(f"{where}: {item['name']} is declared twice", hint="keep one entry per metric")
        seen.add(item["name"])
        specs.append(MetricSpec(item["name"], goal, bool(item.get("headline", False)), float(tolerance)))
    return specs


def load(root: str | os.PathLike) -> list[MetricSpec]:
    """The project's declared metrics (``<root>/nbprod.yaml``); none when there is no file."""
    path = Path(root) / FILENAME
    if not path.is_file():
        return []
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{at}", hint="fix the file or remove it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping with a `metrics:` list", hint="see README.md, 'Comparing runs'")
    return parse(data.get("metrics"), str(path))


def from_dicts(items: Iterable[dict[str, Any]] | None) -> list[MetricSpec]:
    """Specs as stored in a record (already validated when recorded)."""
    fields = {"name", "goal", "headline", "tolerance"}
    return [MetricSpec(**{k: v for k, v in item.items() if k in fields}) for item in items or []]


def by_name(specs: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    return {spec.name: spec for spec in specs}


def headline(specs: Iterable[MetricSpec]) -> list[str]:
    return [spec.name for spec in specs if spec.headline]
