"""nbprod.project: nbprod.yaml, one schema with sections; every mistake is one line naming the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nbprod import project
from nbprod.compare.metrics import headline
from nbprod.errors import ConfigError
from nbprod.project import MetricSpec

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_project_declares_its_headline_metrics():
    declared = project.load(REPO_ROOT)
    assert headline(declared.metrics) == ["accuracy", "f1_macro"]
    assert {s.name: s.goal for s in declared.metrics} == {"accuracy": "max", "f1_macro": "max", "log_loss": "min"}
    assert [m.name for m in declared.models] == ["penguins"]
    assert declared.source == REPO_ROOT / "nbprod.yaml"


def test_no_file_means_no_declarations(tmp_path):
    assert project.load(tmp_path).metrics == ()


def test_an_empty_file_means_no_declarations(tmp_path):
    (tmp_path / "nbprod.yaml").write_text("# nothing yet\n")
    assert project.load(tmp_path).metrics == ()


@pytest.mark.parametrize(
    "text, message",
    [
        ("metrics: {accuracy: max}\n", "line 1: `metrics` must be a list"),
        ("metrics:\n  - goal: max\n", "line 2: metrics entry 1 needs a `name`"),
        ("metrics:\n  - {name: acc, goal: up}\n", "goal 'up'"),
        ("metrics:\n  - name: acc\n    direction: max\n", "line 3: metrics entry 1 (acc) has unknown keys ['direction']"),
        ("metrics:\n  - {name: acc, tolerance: -1}\n", "tolerance -1"),
        ("metrics:\n  - {name: acc, headline: 'yes please'}\n", "headline 'yes please'"),
        ("metrics:\n  - {name: acc}\n  - {name: acc}\n", "line 3: metrics entry 2: acc is declared twice"),
        ("metrics: [\n", "not valid YAML (line"),
        ("- 1\n", "must be a mapping"),
        ("metrics: []\nmodel:\n  name: m\n", "nbprod.yaml line 2: unknown section 'model': known sections: metrics"),
        ("metrics: []\nmetrics:\n  - {name: a, x: 1}\n", "nbprod.yaml line 2: 'metrics' appears twice (first at line 1)"),
        ("metrics:\n  - {name: a, goal: max, goal: min}\n", "line 2: 'goal' appears twice"),
        ("metrics:\n  - {name: a, 1: x}\n", "line 2: metrics entry 1 (a) has unknown keys ['1']"),
    ],
)
def test_bad_declarations_are_one_line_errors_naming_the_file_and_line(tmp_path, text, message):
    (tmp_path / "nbprod.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        project.load(tmp_path)
    assert message in str(err.value) and "nbprod.yaml" in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_parse_keeps_declaration_order():
    parsed = project.parse("metrics:\n  - {name: loss, goal: min, tolerance: 0.01}\n  - {name: acc, headline: true}\n")
    assert parsed.metrics == (MetricSpec("loss", "min", False, 0.01), MetricSpec("acc", "max", True, 0.0))


def test_inputs_are_kept_by_default_up_to_50_mb_and_configurable(tmp_path):
    assert project.load(tmp_path).inputs == project.InputsSpec(store=True, max_mb=50.0)
    (tmp_path / "nbprod.yaml").write_text("inputs: {store: true, max_mb: 200}\n")
    spec = project.load(tmp_path).inputs
    assert spec == project.InputsSpec(store=True, max_mb=200.0)
    assert spec.keeps(200 * 1024 * 1024) and not spec.keeps(200 * 1024 * 1024 + 1)
    (tmp_path / "nbprod.yaml").write_text("inputs:\n  store: false\n")
    assert not project.load(tmp_path).inputs.keeps(1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("inputs: true\n", "line 1: `inputs` must be a mapping"),
        ("inputs:\n  store: yes please\n", "line 2: inputs.store is 'yes please'"),
        ("inputs:\n  store: true\n  max_mb: -1\n", "line 3: inputs.max_mb is -1"),
        ("inputs:\n  max_mb: lots\n", "line 2: inputs.max_mb is 'lots'"),
        ("inputs:\n  store: true\n  keep: all\n", "line 3: inputs has unknown key 'keep'"),
    ],
)
def test_bad_inputs_sections_are_one_line_errors_naming_the_line(tmp_path, text, message):
    (tmp_path / "nbprod.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        project.load(tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_models_section_is_validated_line_by_line():
    from nbprod.errors import ConfigError

    good = project.parse("models:\n  - name: penguins\n    task: train\n    model: model\n    gates:\n"
                         "      - accuracy >= 0.9\n      - f1_macro: {vs: production, margin: 0.01}\n")
    spec = good.model("penguins")
    assert [r.text() for r in spec.gates] == ["accuracy >= 0.9", "f1_macro at most 0.01 worse than production"]
    assert spec.products() == {"model": "model"} and spec.on_tie == "keep"
    for text, message in [
        ("models:\n  - name: Penguins\n    task: t\n    model: m\n", "line 2: model name 'Penguins' is not a name"),
        ("models:\n  - name: p\n    task: t\n", "needs `model`"),
        ("models:\n  - name: p\n    task: t\n    model: m\n    gate: []\n", "line 5: models entry 1 has unknown key 'gate'"),
        ("models:\n  - name: p\n    task: t\n    model: m\n    gates:\n      - accuracy => 0.9\n", "line 6"),
        ("models:\n  - name: p\n    task: t\n    model: m\n    gates:\n      - f1: {vs: staging}\n", "has vs 'staging'"),
        ("models:\n  - name: p\n    task: t\n    model: m\n    gates:\n      - f1: {vs: production, margin: -1}\n",
         "has margin -1"),
        ("models:\n  - name: p\n    task: t\n    model: m\n    on_tie: maybe\n", "line 5: models.p.on_tie is 'maybe'"),
        ("models:\n  - name: p\n    task: t\n    model: m\n    evaluation: predictions\n", "name the task and its product"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            project.parse(text)
