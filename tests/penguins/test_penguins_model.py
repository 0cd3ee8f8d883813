"""penguins.model and penguins.evaluation: deterministic, accurate, JSON-able."""

import json

import matplotlib.figure
import pytest

from penguins import data, evaluation, features, model


@pytest.fixture(scope="module")
def split():
    batch = data.load_batch("palmerpenguins", [2007, 2008, 2009])
    return model.split(batch, test_size=0.25, seed=42)


def test_split_is_stratified_and_seeded(split):
    X_train, X_test, y_train, y_test = split
    assert list(X_train.columns) == features.FEATURES
    assert len(X_test) == 86 and len(X_train) == 258
    assert set(y_test) == {"Adelie", "Chinstrap", "Gentoo"}
    batch = data.load_batch("palmerpenguins", [2007, 2008, 2009])
    again = model.split(batch, test_size=0.25, seed=42)
    assert list(again[1].index) == list(X_test.index)


def test_pipeline_is_deterministic_and_accurate(split):
    X_train, X_test, y_train, y_test = split
    first = model.make_pipeline(random_state=42).fit(X_train, y_train)
    second = model.make_pipeline(random_state=42).fit(X_train, y_train)
    predicted = first.predict(X_test)
    assert list(predicted) == list(second.predict(X_test))
    scores = evaluation.metrics(y_test, predicted, labels=first.classes_)
    assert scores["accuracy"] > 0.9
    assert scores["f1_macro"] > 0.9


def test_metrics_are_plain_python():
    scores = evaluation.metrics(
        ["a", "a", "b", "b"], ["a", "b", "b", "b"], labels=["a", "b"]
    )
    assert scores == {
        "accuracy": 0.75,
        "f1_macro": pytest.approx(0.7333333),
        "recall_per_class": {"a": 0.5, "b": 1.0},
        "confusion_matrix": [[1, 1], [0, 2]],
        "labels": ["a", "b"],
    }
    assert type(scores["accuracy"]) is float
    assert type(scores["confusion_matrix"][0][0]) is int
    json.dumps(scores)


def test_model_card_is_json_able(split):
    X_train, _, y_train, _ = split
    pipeline = model.make_pipeline(C=0.5).fit(X_train, y_train)
    params = {"test_size": 0.25, "seed": 42, "C": 0.5}
    card = model.model_card(pipeline, X_train, y_train, params, "0" * 64)
    assert json.loads(json.dumps(card)) == card
    assert card["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert card["parameters"] == params
    assert card["training_data_sha256"] == "0" * 64
    assert card["n_train"] == len(X_train)
    assert card["features"] == {
        "numeric": features.NUMERIC,
        "categorical": features.CATEGORICAL,
    }
    assert set(card["versions"]) >= {"sklearn", "pandas", "numpy", "python"}


def test_confusion_figure(tmp_path):
    fig = evaluation.confusion_figure([[3, 1], [0, 4]], ["a", "b"])
    assert isinstance(fig, matplotlib.figure.Figure)
    fig.savefig(tmp_path / "cm.png", dpi=50)
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
