"""Metric declarations as the comparisons use them: from a record, by name, the headline ones.

Declared in ``nbprod.yaml`` (validated by :mod:`nbprod.project`), copied into
each record as ``metrics_spec``; diffs and reports read them from the record,
so an old run keeps the meaning it was recorded with. Metrics not declared are
still compared, with no direction (``verdict: changed``).
"""

from __future__ import annotations

from typing import Any, Iterable

from ..project import MetricSpec

__all__ = ["MetricSpec", "from_dicts", "by_name", "headline"]


def from_dicts(items: Iterable[dict[str, Any]] | None) -> list[MetricSpec]:
    """Specs as stored in a record (already validated when recorded)."""
    fields = {"name", "goal", "headline", "tolerance"}
    return [MetricSpec(**{k: v for k, v in item.items() if k in fields}) for item in items or []]


def by_name(specs: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    return {spec.name: spec for spec in specs}


def headline(specs: Iterable[MetricSpec]) -> list[str]:
    return [spec.name for spec in specs if spec.headline]
