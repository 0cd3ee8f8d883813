"""The paired predictions file: what goes in comes back, anything else is one ConfigError.

Real files in a temporary folder; the failed write is a real one (a subprocess whose
file-size limit makes the write fail with EFBIG, as a full disk fails), not a patched call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from nbprod.errors import ConfigError
from nbprod.models.predictions import FORMAT, Predictions, read_predictions, write_predictions

LABELS = ["Adelie", "Chinstrap", "Gentoo"]
Y = ["Adelie", "Gentoo", "Chinstrap", "Gentoo"]
PROBA = [[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.2, 0.6, 0.2], [0.05, 0.05, 0.9]]
PRED = ["Adelie", "Gentoo", "Chinstrap", "Gentoo"]
PRODUCTION_PRED = ["Adelie", "Gentoo", "Adelie", "Gentoo"]


def good(**changes):
    """write_predictions' keyword arguments for a valid 4-row file, with ``changes``."""
    arguments = dict(y_true=Y, labels=LABELS, candidate={"pred": PRED, "proba": PROBA},
                     production={"version": 2, "pred": PRODUCTION_PRED, "proba": PROBA})
    return {**arguments, **changes}


def test_round_trip_with_numpy_inputs(tmp_path):
    path = write_predictions(tmp_path / "deep" / "er" / "predictions.json", y_true=np.array(Y),
                             labels=np.array(LABELS), candidate={"pred": np.array(PRED), "proba": np.array(PROBA)},
                             production={"version": np.int64(3), "pred": np.array(PRODUCTION_PRED),
                                         "proba": np.array(PROBA, dtype=np.float32)})
    assert path == tmp_path / "deep" / "er" / "predictions.json"
    document = json.loads(path.read_text())  # plain JSON: any reader opens it
    assert document["format"] == FORMAT and document["rows"] == 4 and document["production"]["version"] == 3
    found = read_predictions(path)
    assert isinstance(found, Predictions)
    assert found.labels == LABELS and found.rows == 4 and found.production_version == 3
    assert found.y_true.tolist() == Y and found.candidate.pred.tolist() == PRED
    assert np.array_equal(found.candidate.proba, np.array(PROBA))  # floats round-trip exactly
    assert found.production.pred.tolist() == PRODUCTION_PRED
    assert np.allclose(found.production.proba, PROBA, atol=1e-7)  # float32 in, float64 out


def test_round_trip_with_pandas_inputs(tmp_path):
    frame = pd.DataFrame({"species": pd.Categorical(Y), "pred": pd.Series(PRED, dtype="string")})
    path = write_predictions(tmp_path / "p.json", y_true=frame["species"], labels=pd.Index(LABELS),
                             candidate={"pred": frame["pred"], "proba": pd.DataFrame(PROBA, columns=LABELS)})
    found = read_predictions(path.read_bytes(), source="evaluate.predictions")
    assert found.y_true.tolist() == Y and found.candidate.pred.tolist() == PRED
    assert found.candidate.proba.tolist() == PROBA
    assert found.production is None and found.production_version is None


def test_round_trip_of_numbers_regression_and_integer_classes(tmp_path):
    path = write_predictions(tmp_path / "r.json", y_true=pd.Series([1.5, 2.0, 3.25]),
                             candidate={"pred": np.array([1.0, 2.5, 3.0]), "proba": None},
                             production={"version": 1, "pred": [1, 2, 3]})
    found = read_predictions(path.read_text())  # JSON text works too
    assert found.labels is None and found.y_true.dtype == float and found.y_true.tolist() == [1.5, 2.0, 3.25]
    assert found.production.pred.tolist() == [1, 2, 3] and found.candidate.proba is None
    path = write_predictions(tmp_path / "i.json", y_true=np.array([0, 1, 1]), labels=[0, 1],
                             candidate={"pred": np.array([0, 1, 0]), "proba": [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]})
    found = read_predictions(path)
    assert found.labels == [0, 1] and found.y_true.tolist() == [0, 1, 1] and found.y_true.dtype.kind == "i"


BAD_ARGUMENTS = {
    "pred length": (good(candidate={"pred": PRED[:3], "proba": None}), "candidate['pred'] has 3 rows, y_true has 4"),
    "proba rows": (good(candidate={"pred": PRED, "proba": PROBA[:3]}), "candidate['proba'] has shape (3, 3)"),
    "proba columns": (good(candidate={"pred": PRED, "proba": [row[:2] for row in PROBA]}), "expected (4, 3)"),
    "proba without labels": (good(labels=None), "candidate['proba'] needs labels"),
    "proba NaN": (good(candidate={"pred": PRED, "proba": [[float("nan"), 0.5, 0.5]] + PROBA[1:]}),
                  "candidate['proba'] has NaN or infinite values"),
    "proba not probabilities": (good(candidate={"pred": PRED, "proba": [[2.0, -1.0, 0.0]] * 4}),
                                "candidate['proba'] rows are not probabilities"),
    "pred not a label": (good(production={"version": 2, "pred": ["Emperor"] * 4}),
                         "production['pred'] has 'Emperor', not one of labels"),
    "y_true not a label": (good(y_true=["Adelie", "Gentoo", "Emperor", "Gentoo"]), "y_true has 'Emperor'"),
    "no version": (good(production={"pred": PRODUCTION_PRED}), "production['version'] is None"),
    "bool version": (good(production={"version": True, "pred": PRODUCTION_PRED}), "production['version'] is True"),
    "version 0": (good(production={"version": 0, "pred": PRODUCTION_PRED}), "production['version'] is 0"),
    "unknown key": (good(candidate={"pred": PRED, "probs": PROBA}), "candidate has unknown key 'probs'"),
    "not a mapping": (good(candidate=PRED), "candidate must be a mapping with 'pred'"),
    "missing y_true": (good(y_true=["Adelie", None, "Gentoo", "Gentoo"]), "y_true row 1 is None"),
    "NaN y_true": (good(y_true=[1.0, float("nan"), 2.0, 3.0], labels=None, candidate={"pred": [1, 2, 3, 4]},
                        production=None), "y_true row 1 is nan"),
    "2-D y_true": (good(y_true=[[1, 2]] * 4), "y_true has shape (4, 2)"),
    "str y_true": (good(y_true="Adelie"), "y_true is a str"),
    "repeated labels": (good(labels=["Adelie", "Adelie", "Gentoo"]), "labels ['Adelie', 'Adelie', 'Gentoo'] repeat"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_a_bad_argument_is_one_config_error_naming_it(case, tmp_path):
    arguments, expected = BAD_ARGUMENTS[case]
    with pytest.raises(ConfigError) as caught:
        write_predictions(tmp_path / "p.json", **arguments)
    message = str(caught.value)
    assert expected in message and message.startswith("write_predictions: ")
    assert "\n" not in message and caught.value.hint and caught.value.exit_code == 2
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary


def valid_document() -> dict:
    return {"format": FORMAT, "rows": 2, "labels": ["a", "b"], "y_true": ["a", "b"],
            "candidate": {"pred": ["a", "a"], "proba": [[0.7, 0.3], [0.6, 0.4]]},
            "production": {"version": 4, "pred": ["a", "b"], "proba": None}}


def edited(**changes) -> bytes:
    document = valid_document()
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = document
        for parent in parents:
            target = target[parent]
        target[key] = value
    return json.dumps(document).encode()


BAD_FILES = {
    "not JSON": (b"{not json", "is not JSON"),
    "not UTF-8": (b"\xff\xfe{", "is not JSON"),
    "empty": (b"", "is not JSON"),
    "a list": (b"[1, 2]", "is not a nbprod-predictions/1 file (format 'list')"),
    "other format": (edited(format="nbprod-predictions/9"), "(format 'nbprod-predictions/9')"),
    "rows differ": (edited(rows=3), "says rows 3 but y_true has 2"),
    "pred length": (edited(candidate__pred=["a"]), "has 1 candidate predictions for 2 y_true rows"),
    "no pred": (edited(production__pred=None), "has no `production.pred` list"),
    "NaN proba": (edited(candidate__proba=[[0.5, 0.5], [0.6, 0.4]]).replace(b"0.6", b"NaN"),
                  "NaN is not a JSON number"),
    "Infinity proba": (edited(candidate__proba=[[0.5, 0.5], [0.6, 0.4]]).replace(b"0.6", b"-Infinity"),
                       "-Infinity is not a JSON number"),
    "overflowing proba": (edited(candidate__proba=[[0.5, 0.5], [0.6, 0.4]]).replace(b"0.6", b"1e999"),
                          "NaN or infinite values in candidate.proba"),
    "proba out of range": (edited(candidate__proba=[[1.5, -0.5], [0.6, 0.4]]), "outside [0, 1] in candidate.proba"),
    "proba shape": (edited(candidate__proba=[[1.0], [1.0]]), "candidate.proba of shape (2, 1), expected (2, 2)"),
    "proba, no labels": (edited(labels=None), "has candidate.proba but no labels"),
    "y_true not a label": (edited(y_true=["a", "c"]), "has 'c' in y_true, not one of labels"),
    "no version": (edited(production__version=None), "has production.version None"),
    "no rows": (edited(y_true=[], rows=0), "has no `y_true` rows"),
    "nested value": (edited(y_true=["a", ["b"]]), "has ['b'] in y_true"),
    "infinite y_true": (edited(labels=None, candidate__proba=None, y_true=[1.5, 2.0]).replace(b"2.0", b"1e999"),
                        "has inf in y_true, expected a class or a finite number"),
    "repeated labels": (edited(labels=["a", "a"]), "repeats a class in labels"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_file_that_is_not_this_format_is_one_config_error_naming_its_source(case):
    data, expected = BAD_FILES[case]
    assert read_predictions(edited(), source="x").rows == 2  # the unedited document is fine
    with pytest.raises(ConfigError) as caught:
        read_predictions(data, source="evaluate.predictions of run 42")
    message = str(caught.value)
    assert message.startswith("evaluate.predictions of run 42 ") and expected in message, message
    assert "nbprod.write_predictions" in message and "\n" not in message and caught.value.exit_code == 2


def test_a_missing_file_is_a_config_error_naming_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"^\S*nowhere\.json: cannot read the predictions file .*No such file"):
        read_predictions(tmp_path / "nowhere.json")


def test_write_leaves_no_temporary_file_and_replaces_the_old_one_whole(tmp_path):
    target = tmp_path / "predictions.json"
    write_predictions(target, **good())
    write_predictions(target, **good(production=None))
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.json"]
    assert read_predictions(target).production is None


def test_a_bad_argument_leaves_an_existing_file_intact(tmp_path):
    target = tmp_path / "predictions.json"
    write_predictions(target, **good())
    before = target.read_bytes()
    with pytest.raises(ConfigError):
        write_predictions(target, **good(candidate={"pred": PRED[:2]}))
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["predictions.json"]


def test_a_write_that_fails_midway_leaves_the_existing_file_intact(tmp_path):
    """A real failed write: the file-size limit makes writing past 64 KiB fail with EFBIG."""
    target = tmp_path / "predictions.json"
    write_predictions(target, **good())
    before = target.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({64 << 10}, {64 << 10}))
        from nbprod.models.predictions import write_predictions
        rows = 20_000
        try:
            write_predictions(sys.argv[1], y_true=[1.5] * rows, candidate={{"pred": [0.25] * rows}})
        except OSError as err:
            print("failed:", err.errno)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBPROD_")}
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stdout.startswith("failed: 27"), done.stdout + done.stderr  # EFBIG
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.json"]  # no temporary left
