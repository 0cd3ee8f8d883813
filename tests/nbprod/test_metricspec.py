"""nbprod.metricspec: metric directions and headlines declared in nbprod.yaml."""

from __future__ import annotations

import pytest

from nbprod import metricspec
from nbprod.exceptions import ConfigError
from nbprod.metricspec import MetricSpec
from nbprod.records import RunRecord

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_the_reference_project_declares_its_headline_metrics():
    specs = metricspec.load(REPO_ROOT)
    assert metricspec.headline(specs) == ["accuracy", "f1_macro"]
    assert all(s.goal == "max" for s in specs)


def test_no_file_means_no_declarations(tmp_path):
    assert metricspec.load(tmp_path) == []


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


@pytest.mark.parametrize(
    "text, message",
    [
        ("metrics: {accuracy: max}\n", "must be a list"),
        ("metrics:\n  - goal: max\n", "entry 1 needs a `name`"),
        ("metrics:\n  - {name: acc, goal: up}\n", "goal 'up'"),
        ("metrics:\n  - {name: acc, direction: max}\n", "unknown keys ['direction']"),
        ("metrics:\n  - {name: acc, tolerance: -1}\n", "tolerance -1"),
        ("metrics:\n  - {name: acc}\n  - {name: acc}\n", "declared twice"),
        ("metrics: [\n", "not valid YAML (line"),
        ("- 1\n", "must be a mapping"),
    ],
)
def test_bad_declarations_are_one_line_errors_naming_the_file(tmp_path, text, message):
    (tmp_path / "nbprod.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        metricspec.load(tmp_path)
    assert message in str(err.value) and "nbprod.yaml" in str(err.value) and "\n" not in str(err.value)


def test_specs_round_trip_through_a_record():
    specs = [MetricSpec("accuracy", "max", True), MetricSpec("loss", "min", tolerance=0.01)]
    record = RunRecord(run_id="r", status="succeeded", started_at="t", metrics_spec=[s.to_dict() for s in specs])
    again = RunRecord.from_dict(record.to_dict())
    assert metricspec.from_dicts(again.metrics_spec) == specs
