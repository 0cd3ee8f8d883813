"""The species classifier, its train/holdout split and its model card.

A small, fully seeded scikit-learn pipeline: preprocessing lives inside it,
so the saved joblib file is all that is needed to predict on raw rows, and
the same inputs always give the same model.
"""

from __future__ import annotations

import platform

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from penguins import features


def make_pipeline(random_state: int = 42, C: float = 1.0) -> Pipeline:
    """Imputation + scaling/one-hot encoding + logistic regression.

    Imputers cover the few rows with missing measurements or sex;
    ``handle_unknown="ignore"`` keeps prediction working if a new batch has a
    category the training batch lacked.
    """
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", numeric, features.NUMERIC),
            ("categorical", categorical, features.CATEGORICAL),
        ]
    )
    classifier = LogisticRegression(
        random_state=int(random_state), C=float(C), max_iter=1000
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def split(df: pd.DataFrame, test_size: float = 0.25, seed: int = 42):
    """Stratified, seeded split into ``X_train, X_test, y_train, y_test``.

    Stratifying on species keeps the rarer Chinstrap class in both parts.
    """
    X = df[features.FEATURES]
    y = df[features.TARGET]
    return train_test_split(
        X, y, test_size=float(test_size), random_state=int(seed), stratify=y
    )


def _plain(value):
    """Make numpy scalars and containers JSON-serialisable."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def model_card(
    pipeline: Pipeline,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    params: dict,
    training_data_sha256: str,
) -> dict:
    """A JSON-able record of what was trained, on what, with which versions.

    Enough to tell two model files apart and to reproduce one: features,
    classes, parameters, the hash of the training data and library versions.
    """
    classifier = pipeline.named_steps["classifier"]
    return {
        "model": type(classifier).__name__,
        "features": {
            "numeric": list(features.NUMERIC),
            "categorical": list(features.CATEGORICAL),
        },
        "target": features.TARGET,
        "classes": [str(c) for c in pipeline.classes_],
        "parameters": _plain(dict(params)),
        "estimator_parameters": _plain(
            {k: classifier.get_params()[k] for k in ("C", "max_iter", "random_state")}
        ),
        "training_data_sha256": training_data_sha256,
        "n_train": int(len(X_train)),
        "n_train_per_class": _plain(
            {str(k): int(v) for k, v in y_train.value_counts().sort_index().items()}
        ),
        "versions": {
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
    }
