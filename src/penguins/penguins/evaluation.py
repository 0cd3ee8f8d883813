"""Holdout metrics, the confusion-matrix figure, models scored on the same
rows, and the table of a scored batch.

Metrics are returned as plain Python numbers so they can be written to JSON
and glued into notebooks without numpy types leaking out.

Two models compared on a holdout (the candidate and the production model, in
evaluate) must give their class probabilities in the same column order:
:func:`score` returns them in the caller's ``labels`` order, whatever order
the model's own ``classes_`` has (:func:`align_proba`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score
from sklearn.metrics import log_loss as _log_loss


def align_proba(proba, classes, labels) -> np.ndarray:
    """``proba`` (one column per class, in ``classes`` order: a model's
    ``classes_``) with its columns reordered to ``labels``.

    A label the model does not know gets a column of zeros (the model never
    predicts it). A class of the model that is not among ``labels`` is a
    ValueError: its probability would be dropped and the rows would no
    longer sum to one.
    """
    proba = np.asarray(proba, dtype=float)
    classes = [str(c) for c in classes]
    labels = [str(label) for label in labels]
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise ValueError(
            f"probabilities of shape {proba.shape} do not have one column per class {classes}"
        )
    unknown = [c for c in classes if c not in labels]
    if unknown:
        raise ValueError(f"the model predicts classes {unknown} that are not among the labels {labels}")
    out = np.zeros((proba.shape[0], len(labels)), dtype=float)
    for column, cls in enumerate(classes):
        out[:, labels.index(cls)] = proba[:, column]
    return out


def score(model, X, labels) -> dict:
    """``{"pred": [...], "proba": 2-D array}``: ``model``'s predicted labels
    (as strings) and class probabilities for the rows of ``X``, the
    probability columns in ``labels`` order (:func:`align_proba`)."""
    pred = [str(p) for p in model.predict(X)]
    proba = align_proba(model.predict_proba(X), model.classes_, labels)
    return {"pred": pred, "proba": proba}


def log_loss(y_true, proba, labels) -> float:
    """Multi-class log loss (cross-entropy, lower is better) of probabilities
    whose columns follow ``labels``."""
    labels = [str(label) for label in labels]
    return float(_log_loss([str(y) for y in y_true], np.asarray(proba, dtype=float), labels=labels))


def metrics(y_true, y_pred, labels, proba=None) -> dict:
    """Accuracy, macro F1, per-class recall and the confusion matrix
    (rows: true label, columns: predicted label, in ``labels`` order);
    with ``proba`` (columns in ``labels`` order) also the log loss."""
    labels = [str(label) for label in labels]
    y_true = [str(y) for y in y_true]
    y_pred = [str(y) for y in y_pred]
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    extra = {} if proba is None else {"log_loss": log_loss(y_true, proba, labels)}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "recall_per_class": {
            label: float(r) for label, r in zip(labels, recalls, strict=True)
        },
        **extra,
        "confusion_matrix": [[int(v) for v in row] for row in cm],
        "labels": labels,
    }


def score_table(model, X: pd.DataFrame, model_version: str, batch: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per row of ``X``: ``row`` (the batch's row number), ``year``
    (when ``batch`` has one), ``predicted_species``, ``proba_<class>`` for
    each of the model's classes, and ``model_version`` (e.g. ``"penguins:3"``),
    so every score says which registered model made it."""
    labels = [str(c) for c in model.classes_]
    scored = score(model, X, labels)
    table = pd.DataFrame({"row": np.arange(len(X), dtype="int64")})
    if batch is not None and "year" in batch.columns:
        table["year"] = np.asarray(batch["year"], dtype="int64")
    table["predicted_species"] = pd.Series(scored["pred"], dtype="str")
    for column, label in enumerate(labels):
        table[f"proba_{label}"] = scored["proba"][:, column]
    table["model_version"] = pd.Series([model_version] * len(X), dtype="str")
    return table


def write_table(table: pd.DataFrame, path) -> None:
    """Write ``table`` as parquet (``.parquet``) or CSV (``.csv``), by suffix,
    whole or not at all (a temporary file beside it, renamed over it), so a
    reader never sees half of a batch's scores."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"cannot write {path.name}: use a .parquet or .csv path")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def confusion_figure(cm, labels):
    """Return a matplotlib Figure showing the confusion matrix ``cm``.

    Built on the Agg canvas directly (no pyplot), so it neither needs a
    display nor changes the backend of whoever imports this module.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=labels)
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Holdout confusion matrix")
    threshold = max((max(row) for row in cm), default=0) / 2
    for i, row in enumerate(cm):
        for j, value in enumerate(row):
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                color="white" if value > threshold else "black",
            )
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig
