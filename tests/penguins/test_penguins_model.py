"""penguins.model and penguins.evaluation: deterministic, accurate, JSON-able."""

import json

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics

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


# -- two models on the same rows (evaluate) and a scored batch (score) ----------


class Reordered:
    """A fitted pipeline whose classes_ (and probability columns) come in another order,
    as a production model trained elsewhere may have them."""

    def __init__(self, fitted, order):
        self.fitted = fitted
        self.classes_ = np.array(order, dtype=object)
        self.columns = [list(fitted.classes_).index(c) for c in order]

    def predict(self, X):
        return self.fitted.predict(X)

    def predict_proba(self, X):
        return self.fitted.predict_proba(X)[:, self.columns]


def test_align_proba_reorders_columns_to_the_labels():
    proba = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    aligned = evaluation.align_proba(proba, ["c", "a", "b"], ["a", "b", "c"])
    assert aligned.tolist() == [[0.2, 0.1, 0.7], [0.3, 0.6, 0.1]]
    # a label the model does not know: a zero column, rows still sum to one
    assert evaluation.align_proba([[0.4, 0.6]], ["b", "a"], ["a", "b", "c"]).tolist() == [[0.6, 0.4, 0.0]]


def test_align_proba_refuses_classes_outside_the_labels_and_bad_shapes():
    with pytest.raises(ValueError, match=r"classes \['d'\] that are not among the labels"):
        evaluation.align_proba([[0.5, 0.5]], ["a", "d"], ["a", "b"])
    with pytest.raises(ValueError, match="one column per class"):
        evaluation.align_proba([[0.5, 0.5]], ["a", "b", "c"], ["a", "b", "c"])


def test_score_aligns_a_model_with_another_class_order(split):
    X_train, X_test, y_train, y_test = split
    fitted = model.make_pipeline().fit(X_train, y_train)
    labels = [str(c) for c in fitted.classes_]
    other = Reordered(fitted, ["Gentoo", "Adelie", "Chinstrap"])
    assert other.predict_proba(X_test).tolist() != fitted.predict_proba(X_test).tolist()
    mine, theirs = evaluation.score(fitted, X_test, labels), evaluation.score(other, X_test, labels)
    assert theirs["pred"] == mine["pred"] and all(type(p) is str for p in mine["pred"])
    np.testing.assert_array_equal(theirs["proba"], mine["proba"])
    np.testing.assert_array_equal(mine["proba"], fitted.predict_proba(X_test))
    assert evaluation.log_loss(y_test, theirs["proba"], labels) == evaluation.log_loss(y_test, mine["proba"], labels)


def test_metrics_with_probabilities_add_the_log_loss(split):
    X_train, X_test, y_train, y_test = split
    fitted = model.make_pipeline().fit(X_train, y_train)
    scored = evaluation.score(fitted, X_test, fitted.classes_)
    scores = evaluation.metrics(y_test, scored["pred"], fitted.classes_, proba=scored["proba"])
    assert type(scores["log_loss"]) is float and 0 < scores["log_loss"] < 0.3
    assert scores["log_loss"] == pytest.approx(sklearn.metrics.log_loss(y_test, fitted.predict_proba(X_test)))
    assert "log_loss" not in evaluation.metrics(y_test, scored["pred"], fitted.classes_)
    # a confident mistake costs more than an unsure one
    sure, unsure = [[0.01, 0.99]], [[0.4, 0.6]]
    assert evaluation.log_loss(["a"], sure, ["a", "b"]) > evaluation.log_loss(["a"], unsure, ["a", "b"])


def test_score_table_says_which_model_version_scored_each_row(split, tmp_path):
    X_train, X_test, y_train, y_test = split
    fitted = model.make_pipeline().fit(X_train, y_train)
    batch = X_test.assign(year=2009)
    table = evaluation.score_table(fitted, X_test, model_version="penguins:3", batch=batch)
    assert list(table.columns) == ["row", "year", "predicted_species", "proba_Adelie", "proba_Chinstrap",
                                   "proba_Gentoo", "model_version"]
    assert len(table) == len(X_test) and table["row"].tolist() == list(range(len(X_test)))
    assert set(table["model_version"]) == {"penguins:3"} and set(table["year"]) == {2009}
    assert table["predicted_species"].tolist() == [str(p) for p in fitted.predict(X_test)]
    probabilities = table[["proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert "year" not in evaluation.score_table(fitted, X_test, "penguins:3").columns

    evaluation.write_table(table, tmp_path / "scores" / "scores.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "scores" / "scores.parquet"), table,
                                  check_dtype=False)
    evaluation.write_table(table, tmp_path / "scores.csv")
    assert pd.read_csv(tmp_path / "scores.csv")["model_version"].tolist() == ["penguins:3"] * len(X_test)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores", "scores.csv"]  # no temporary file left
    with pytest.raises(ValueError, match="use a .parquet or .csv path"):
        evaluation.write_table(table, tmp_path / "scores.xlsx")
