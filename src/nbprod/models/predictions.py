"""The paired predictions file: the candidate and production scored on the same rows.

Why a file of row-level predictions rather than two scores: a gate against production
must decide on *paired* statistics (the same holdout rows, the same run), and only the
rows themselves carry the pairing. An evaluate notebook scores the candidate (this run's
model) and, when there is one, the model that was production, then calls
:func:`write_predictions`; nbprod reads the stored product back with
:func:`read_predictions` and :mod:`nbprod.models.gates` decides on it.

The file is one JSON document, written whole through :func:`nbprod.files.replace_atomically`
(a reader never sees half of it)::

    {"format": "nbprod-predictions/1", "rows": 120, "labels": ["Adelie", ...] | null,
     "y_true": [...],
     "candidate": {"pred": [...], "proba": [[...], ...] | null},
     "production": {"version": 2, "pred": [...], "proba": ... | null} | null}

``proba`` columns follow ``labels`` (given whenever ``proba`` is); every value is plain JSON
(strings, integers, finite floats), so any reader can open it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbprod.errors import ConfigError
from nbprod.files import replace_atomically

FORMAT = "nbprod-predictions/1"

_WRITE_HINT = "write it with nbprod.write_predictions(path, y_true=..., candidate={'pred': ..., 'proba': ...})"
_SUM_TOLERANCE = 1e-4  # a probability row sums to 1 within this (catches logits and scores, not rounding)


@dataclass(frozen=True, eq=False)
class Scored:
    """One model's predictions on the file's rows: ``pred`` (n,), ``proba`` (n, len(labels)) or None."""

    pred: Any  # numpy array
    proba: Any = None  # numpy array of floats, or None


@dataclass(frozen=True, eq=False)
class Predictions:
    """A predictions file read back (``eq=False``: numpy arrays have no single truth value)."""

    labels: list | None
    y_true: Any  # numpy array
    candidate: Scored
    production: Scored | None
    production_version: int | None
    rows: int


def write_predictions(path: str | os.PathLike, *, y_true, candidate: Mapping, production: Mapping | None = None,
                      labels=None) -> Path:
    """Write the paired predictions file to ``path`` (parent folders created), whole or not at all.

    ``candidate`` and ``production`` are ``{"pred": [...], "proba": [[...]] or None}``;
    ``production`` also has ``"version"``, the registry version that was production when it
    was scored. Any array-likes (lists, numpy, pandas). ``labels`` (the classes, in ``proba``'s
    column order) is required with ``proba``. A bad argument is a :class:`ConfigError`.
    """
    truth = _scalars(y_true, "y_true")
    classes = None if labels is None else _labels(labels)
    document = {"format": FORMAT, "rows": len(truth), "labels": classes, "y_true": truth,
                "candidate": _scored(candidate, "candidate", truth, classes, production=False),
                "production": None if production is None else _scored(production, "production", truth, classes,
                                                                      production=True)}
    if classes is not None:
        _within(truth, classes, "y_true")
    data = (json.dumps(document, allow_nan=False, separators=(",", ":")) + "\n").encode()
    return replace_atomically(path, lambda tmp: tmp.write_bytes(data))


def read_predictions(data: bytes | str | os.PathLike, *, source: str = "predictions") -> Predictions:
    """Read a predictions file: its bytes, its JSON text (a str starting with ``{``) or a path.

    ``source`` names it in errors (for a path left at the default, the path does). Anything
    that is not this format (bad JSON, another format tag, lengths that differ, NaN or
    infinite probabilities) is a :class:`ConfigError` naming ``source`` and what is wrong.
    """
    import numpy as np

    if isinstance(data, (bytes, bytearray)):
        text = bytes(data)
    elif isinstance(data, str) and data.lstrip().startswith("{"):
        text = data
    else:
        source = str(data) if source == "predictions" else source
        try:
            text = Path(data).read_bytes()
        except OSError as err:
            raise ConfigError(f"{source}: cannot read the predictions file ({err.strerror or err})",
                              hint=_WRITE_HINT) from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as err:
        raise _bad(source, f"is not JSON ({err})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise _bad(source, f"is not a {FORMAT} file (format {found!r})")
    labels = document.get("labels")
    truth = document.get("y_true")
    if labels is not None:
        if not isinstance(labels, list) or not labels:
            raise _bad(source, "has `labels` that are not a list of classes")
        _column(labels, "labels", None, source)
        if len(set(labels)) != len(labels):
            raise _bad(source, f"repeats a class in labels {labels!r}")
    if not isinstance(truth, list) or not truth:
        raise _bad(source, "has no `y_true` rows")
    rows = len(truth)
    if document.get("rows") != rows:
        raise _bad(source, f"says rows {document.get('rows')!r} but y_true has {rows}")
    parts = {}
    for part in ("candidate", "production"):
        entry = document.get(part)
        if entry is None and part == "production":
            parts[part] = None
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("pred"), list):
            raise _bad(source, f"has no `{part}.pred` list")
        if len(entry["pred"]) != rows:
            raise _bad(source, f"has {len(entry['pred'])} {part} predictions for {rows} y_true rows")
        proba = entry.get("proba")
        if proba is not None:
            if labels is None:
                raise _bad(source, f"has {part}.proba but no labels")
            try:
                proba = np.asarray(proba, dtype=float)
            except (TypeError, ValueError):
                raise _bad(source, f"has a {part}.proba that is not a table of numbers") from None
            if proba.shape != (rows, len(labels)):
                raise _bad(source, f"has {part}.proba of shape {proba.shape}, expected ({rows}, {len(labels)})")
            if not np.isfinite(proba).all():
                raise _bad(source, f"has NaN or infinite values in {part}.proba")
            if proba.min() < 0 or proba.max() > 1:
                raise _bad(source, f"has probabilities outside [0, 1] in {part}.proba")
        parts[part] = Scored(pred=_column(entry["pred"], f"{part}.pred", labels, source), proba=proba)
    version = (document.get("production") or {}).get("version")
    if parts["production"] is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise _bad(source, f"has production.version {version!r}, expected the registry version number")
    return Predictions(labels=labels, y_true=_column(truth, "y_true", labels, source), candidate=parts["candidate"],
                       production=parts["production"], production_version=version, rows=rows)


def _column(values: list, name: str, labels: list | None, source: str):
    """One column of the file as a numpy array: plain scalars, within ``labels`` when given
    (an object array when strings and numbers mix, so neither is turned into the other)."""
    import numpy as np

    stray = next((v for v in values if not isinstance(v, (str, int, float))
                  or isinstance(v, float) and not math.isfinite(v)), None)
    if stray is not None:
        raise _bad(source, f"has {stray!r} in {name}, expected a class or a finite number per row")
    if labels is not None:
        known = set(labels)
        stray = next((v for v in values if v not in known), None)
        if stray is not None:
            raise _bad(source, f"has {stray!r} in {name}, not one of labels {labels!r}")
    mixed = len({isinstance(v, str) for v in values}) > 1
    return np.asarray(values, dtype=object if mixed else None)


def _bad(source: str, what: str) -> ConfigError:
    return ConfigError(f"{source} {what}", hint=_WRITE_HINT)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _scored(entry, name: str, truth: list, classes: list | None, *, production: bool) -> dict[str, Any]:
    allowed = ("pred", "proba", "version") if production else ("pred", "proba")
    example = "{'version': 2, 'pred': ..., 'proba': ...}" if production else "{'pred': ..., 'proba': ...}"
    if not isinstance(entry, Mapping) or "pred" not in entry:
        raise ConfigError(f"write_predictions: {name} must be a mapping with 'pred'", hint=f"pass {name}={example}")
    unknown = [key for key in entry if key not in allowed]
    if unknown:
        raise ConfigError(f"write_predictions: {name} has unknown key {unknown[0]!r}",
                          hint=f"use {', '.join(repr(k) for k in allowed)}")
    pred = _scalars(entry["pred"], f"{name}['pred']")
    if len(pred) != len(truth):
        raise ConfigError(f"write_predictions: {name}['pred'] has {len(pred)} rows, y_true has {len(truth)}",
                          hint="score the same rows as y_true, in the same order")
    if classes is not None:
        _within(pred, classes, f"{name}['pred']")
    out: dict[str, Any] = {}
    if production:
        version = entry.get("version")
        if isinstance(version, bool) or not (isinstance(version, int) or _is_integer(version)) or version < 1:
            raise ConfigError(f"write_predictions: production['version'] is {version!r}",
                              hint="pass the registry version that was production when it was scored")
        out["version"] = int(version)
    out["pred"] = pred
    out["proba"] = None if entry.get("proba") is None else _proba(entry["proba"], f"{name}['proba']", len(truth),
                                                                  classes)
    return out


def _is_integer(value) -> bool:
    import numpy as np

    return isinstance(value, np.integer)


def _scalars(values, name: str) -> list:
    """A 1-D array-like as a list of JSON scalars (str, int, finite float, bool)."""
    import numpy as np

    if isinstance(values, (str, bytes, Mapping)) or values is None:
        raise ConfigError(f"write_predictions: {name} is a {type(values).__name__}", hint="pass one value per row")
    array = np.asarray(values, dtype=object)
    if array.ndim != 1 or not len(array):
        raise ConfigError(f"write_predictions: {name} has shape {array.shape}", hint="pass one value per row (1-D)")
    out = []
    for row, value in enumerate(array.tolist()):
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"write_predictions: {name} row {row} is {value!r}",
                              hint="pass a class (str or int) or a finite number for every row")
        out.append(value)
    return out


def _labels(labels) -> list:
    classes = _scalars(labels, "labels")
    if len(set(classes)) != len(classes):
        raise ConfigError(f"write_predictions: labels {classes!r} repeat a class",
                          hint="pass each class once, in proba's column order (e.g. model.classes_)")
    return classes


def _within(values: list, classes: list, name: str) -> None:
    known = set(classes)
    stray = next((v for v in values if v not in known), None)
    if stray is not None:
        raise ConfigError(f"write_predictions: {name} has {stray!r}, not one of labels {classes!r}",
                          hint="pass every class in labels (e.g. model.classes_)")


def _proba(values, name: str, rows: int, classes: list | None) -> list:
    import numpy as np

    if classes is None:
        raise ConfigError(f"write_predictions: {name} needs labels",
                          hint="pass labels=model.classes_ (proba's columns)")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"write_predictions: {name} is not a table of numbers",
                          hint="pass model.predict_proba(X)") from None
    if array.shape != (rows, len(classes)):
        raise ConfigError(f"write_predictions: {name} has shape {array.shape}, expected ({rows}, {len(classes)})",
                          hint="pass one row per y_true row, one column per label (model.predict_proba(X))")
    if not np.isfinite(array).all():
        raise ConfigError(f"write_predictions: {name} has NaN or infinite values", hint="pass probabilities")
    if array.min() < 0 or array.max() > 1 or np.abs(array.sum(axis=1) - 1).max() > _SUM_TOLERANCE:
        raise ConfigError(f"write_predictions: {name} rows are not probabilities (each in [0, 1], summing to 1)",
                          hint="pass model.predict_proba(X), not decision scores")
    return array.tolist()
