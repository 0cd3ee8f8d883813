"""nbprod.compare.metrics: declarations as comparisons use them (verdicts, from records, headline)."""

from __future__ import annotations

import pytest

from nbprod.compare import metrics as metricspec
from nbprod.project import MetricSpec
from nbprod.schema import RunRecord


@pytest.mark.parametrize(
    "goal, old, new, tolerance, verdict",
    [
        ("max", 0.90, 0.95, 0.0, "improved"),
        ("max", 0.95, 0.90, 0.0, "regressed"),
        ("min", 0.30, 0.20, 0.0, "improved"),
        ("min", 0.20, 0.30, 0.0, "regressed"),
        ("max", 0.9, 0.9, 0.0, "unchanged"),
        ("max", 0.900, 0.9005, 0.001, "unchanged"),
        ("min", 1, 3, 1.0, "regressed"),
    ],
)
def test_verdicts(goal, old, new, tolerance, verdict):
    assert MetricSpec("m", goal, tolerance=tolerance).verdict(old, new) == verdict


def test_specs_round_trip_through_a_record():
    specs = [MetricSpec("accuracy", "max", True), MetricSpec("loss", "min", tolerance=0.01)]
    record = RunRecord(run_id="r", status="succeeded", started_at="t", metrics_spec=[s.to_dict() for s in specs])
    again = RunRecord.from_dict(record.to_dict())
    assert metricspec.from_dicts(again.metrics_spec) == specs
    assert metricspec.headline(specs) == ["accuracy"]
    assert set(metricspec.by_name(specs)) == {"accuracy", "loss"}
