"""The contract a raw penguins batch must meet before we train on it, and
the input contract of a trained model.

Validation is lazy (every failure is collected) and summarised as plain
JSON, so a bad batch produces one report listing everything wrong with it
and a one-line error, instead of stopping at the first problem.

The model's input schema (:func:`feature_schema`) is :data:`SCHEMA`'s rules
restricted to the feature columns. train saves it with pandera's own JSON
serialization (:func:`feature_schema_json`, ``DataFrameSchema.to_json``); the
registry keeps that file with the model, and a batch scored later is checked
against the schema the model was trained with (:func:`validate_features`),
not against whatever this module says at scoring time.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from penguins import features

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
ISLANDS = ["Biscoe", "Dream", "Torgersen"]
SEXES = ["male", "female"]

# ``str`` (not ``object``) so coercion yields pandas' string dtype, which is
# the default for text columns in pandas 3 and keeps missing values as NaN.
SCHEMA = pa.DataFrameSchema(
    {
        "species": pa.Column(str, pa.Check.isin(SPECIES), nullable=False),
        "island": pa.Column(str, pa.Check.isin(ISLANDS), nullable=False),
        "bill_length_mm": pa.Column(float, pa.Check.in_range(25, 70), nullable=True),
        "bill_depth_mm": pa.Column(float, pa.Check.in_range(10, 25), nullable=True),
        "flipper_length_mm": pa.Column(
            float, pa.Check.in_range(150, 240), nullable=True
        ),
        "body_mass_g": pa.Column(float, pa.Check.in_range(2500, 6500), nullable=True),
        "sex": pa.Column(str, pa.Check.isin(SEXES), nullable=True),
        "year": pa.Column(int, pa.Check.ge(2007), nullable=False),
    },
    coerce=True,
    name="penguins",
)

#: Row indexes kept per failure in the summary and the error message.
MAX_ROWS = 5


class InvalidDataError(ValueError):
    """A batch broke the schema; the message is one line naming what failed."""


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _row_index(value):
    """Plain-Python form of a failing row label (ints stay ints)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def _row_sort_key(row):
    # ints first in numeric order, then any other labels by their text
    return (0, row, "") if isinstance(row, int) else (1, 0, str(row))


def _summarise(failure_cases: pd.DataFrame) -> list[dict]:
    failures: dict[tuple[str, str], dict] = {}
    for case in failure_cases.to_dict("records"):
        check = str(case.get("check"))
        if check in ("column_in_dataframe", "column_in_schema"):
            # pandera names the missing/unexpected column in failure_case
            # (and the schema's name in column)
            column = case.get("failure_case")
        elif case.get("schema_context") == "DataFrameSchema":
            column = "<dataframe>"
        else:
            column = case.get("column")
        key = ("<dataframe>" if _is_missing(column) else str(column), check)
        entry = failures.setdefault(key, {"rows": set(), "n_cases": 0})
        entry["n_cases"] += 1
        index = case.get("index")
        if not _is_missing(index):
            entry["rows"].add(_row_index(index))
    summary = []
    for (column, check), entry in sorted(failures.items()):
        rows = sorted(entry["rows"], key=_row_sort_key)
        summary.append(
            {
                "column": column,
                "check": check,
                "n_rows": len(rows) if rows else entry["n_cases"],
                "row_indexes": rows[:MAX_ROWS],
            }
        )
    return summary


def validate(df: pd.DataFrame) -> dict:
    """Validate ``df`` against :data:`SCHEMA` and return a JSON-able summary:
    ``{"valid", "rows", "n_failures", "failures": [{column, check, n_rows,
    row_indexes}]}`` where ``n_failures`` counts the (column, check) pairs
    that failed. Never raises for bad data: see :func:`check`.
    """
    try:
        SCHEMA.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = _summarise(exc.failure_cases)
    else:
        failures = []
    return {
        "valid": not failures,
        "rows": int(len(df)),
        "n_failures": len(failures),
        "failures": failures,
    }


def describe(summary: dict) -> str:
    """One-line description of a :func:`validate` summary's failures."""
    parts = [
        f"{f['column']} failed {f['check']} at rows {f['row_indexes']}"
        for f in summary["failures"]
    ]
    return "invalid penguins data: " + "; ".join(parts)


def check(df: pd.DataFrame) -> dict:
    """Validate ``df`` and raise :class:`InvalidDataError` when it is invalid;
    return the summary otherwise."""
    summary = validate(df)
    if not summary["valid"]:
        raise InvalidDataError(describe(summary))
    return summary


# -- the model's input schema ---------------------------------------------------

#: The name the feature schema carries in its JSON (and in errors).
FEATURE_SCHEMA_NAME = "penguins_features"


def feature_schema() -> pa.DataFrameSchema:
    """The model's input contract: :data:`SCHEMA`'s column rules for the
    feature columns only (no target, no year), coerced, not strict: a batch
    to score may carry other columns, which the model ignores."""
    return pa.DataFrameSchema(
        {name: SCHEMA.columns[name] for name in features.FEATURES},
        coerce=True,
        name=FEATURE_SCHEMA_NAME,
    )


def feature_schema_json() -> str:
    """:func:`feature_schema` as pandera's JSON (``DataFrameSchema.to_json``),
    ending with a newline; the same schema always gives the same bytes."""
    return feature_schema().to_json(indent=2) + "\n"


def load_schema(schema_json) -> pa.DataFrameSchema:
    """A pandera schema from its JSON: a dict (``LoadedModel.schema``), JSON
    text, or a path to a JSON file. Anything else is a one-line ValueError."""
    if isinstance(schema_json, pa.DataFrameSchema):
        return schema_json
    if schema_json is None:
        raise ValueError("no input schema: the model was registered without one")
    if isinstance(schema_json, os.PathLike) or (
        isinstance(schema_json, str) and not schema_json.lstrip().startswith("{")
    ):
        schema_json = Path(schema_json).read_text(encoding="utf-8")
    if isinstance(schema_json, dict):
        schema_json = json.dumps(schema_json)
    if not isinstance(schema_json, str):
        raise ValueError(
            f"input schema is a {type(schema_json).__name__}, expected pandera's JSON"
        )
    try:
        return pa.DataFrameSchema.from_json(schema_json)
    except Exception as exc:  # pandera raises several types for a bad document
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"input schema is not a pandera schema: {first}") from None


def validate_features(df: pd.DataFrame, schema_json, *, model: str | None = None) -> pd.DataFrame:
    """Check ``df`` against the input schema ``schema_json`` (see
    :func:`load_schema`) and return its feature columns, coerced to the
    schema's types, in the schema's order.

    A batch that breaks it raises :class:`InvalidDataError` with one line
    naming every failing column, its check and the first rows, e.g.
    ``batch does not match the input schema of penguins:3: body_mass_g failed
    coerce_dtype('float64') at rows [3]``; a missing column is
    ``sex failed column_in_dataframe``.
    """
    contract = load_schema(schema_json)
    try:
        validated = contract.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = _summarise(exc.failure_cases)
        whose = f"the input schema of {model}" if model else f"input schema {contract.name}"
        parts = [
            f"{f['column']} failed {f['check']}"
            + (f" at rows {f['row_indexes']}" if f["row_indexes"] else "")
            for f in failures
        ]
        raise InvalidDataError(f"batch does not match {whose}: " + "; ".join(parts)) from None
    return validated[list(contract.columns)]
