"""Holdout metrics and the confusion-matrix figure.

Metrics are returned as plain Python numbers so they can be written to JSON
and glued into notebooks without numpy types leaking out.
"""

from __future__ import annotations

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


def metrics(y_true, y_pred, labels) -> dict:
    """Accuracy, macro F1, per-class recall and the confusion matrix
    (rows: true label, columns: predicted label, in ``labels`` order)."""
    labels = [str(label) for label in labels]
    y_true = [str(y) for y in y_true]
    y_pred = [str(y) for y in y_pred]
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "recall_per_class": {
            label: float(r) for label, r in zip(labels, recalls, strict=True)
        },
        "confusion_matrix": [[int(v) for v in row] for row in cm],
        "labels": labels,
    }


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
