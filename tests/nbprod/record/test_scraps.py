"""nbprod.scraps: values glued with scrapbook in a really executed notebook."""

from __future__ import annotations

import io
import json
import math

import nbformat
import pandas as pd
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbprod.record.scraps import Scrap, encode, read_scraps

INLINE_MAX = 4096

GLUE_SOURCE = """\
import scrapbook as sb
import pandas as pd
sb.glue("count", 344)
sb.glue("accuracy", 0.9375)
sb.glue("nan_metric", float("nan"))
sb.glue("species", "Adelie")
sb.glue("config", {"seed": 1, "features": ["bill_length_mm", "flipper_length_mm"]})
sb.glue("flag", True)
sb.glue("long_list", list(range(2000)))
sb.glue("frame", pd.DataFrame({"species": ["Adelie", "Gentoo", "Chinstrap"], "count": [152, 124, 68]}))
sb.glue("fig", "text", display=True)
sb.glue("again", 1)
sb.glue("again", 2)
"""

NAMES = [
    "count",
    "accuracy",
    "nan_metric",
    "species",
    "config",
    "flag",
    "long_list",
    "frame",
    "fig",
    "again",
]


@pytest.fixture(scope="module")
def executed_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scraps")
    source = folder / "glue.ipynb"
    output = folder / "glue.out.ipynb"
    nb = new_notebook(
        cells=[
            new_markdown_cell("# glue everything"),
            new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
            new_code_cell(GLUE_SOURCE),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, source)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLOOMBER_STATS_ENABLED", "false")
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters={"x": 1},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(folder),
        )
    return output


@pytest.fixture(scope="module")
def scraps(executed_path):
    return {scrap.name: scrap for scrap in read_scraps(str(executed_path))}


@pytest.fixture(scope="module")
def encoded(scraps):
    return {name: encode(scrap, INLINE_MAX) for name, scrap in scraps.items()}


# -- reading ---------------------------------------------------------------------


def test_read_scraps_in_glue_order_one_per_name(executed_path):
    found = read_scraps(str(executed_path))
    assert [s.name for s in found] == NAMES
    assert all(isinstance(s, Scrap) for s in found)


def test_read_scraps_accepts_a_path_object(executed_path):
    assert [s.name for s in read_scraps(executed_path)] == NAMES


def test_read_scraps_values(scraps):
    assert scraps["count"].data == 344 and type(scraps["count"].data) is int
    assert scraps["accuracy"].data == 0.9375
    assert scraps["species"].data == "Adelie"
    assert scraps["config"].data == {"seed": 1, "features": ["bill_length_mm", "flipper_length_mm"]}
    assert scraps["flag"].data is True
    assert scraps["long_list"].data == list(range(2000))
    assert scraps["again"].data == 2  # the last glue of a name wins
    for name in ["count", "accuracy", "species", "config", "flag", "long_list", "frame"]:
        assert scraps[name].display_only is False, name


def test_read_scraps_frame(scraps):
    frame = scraps["frame"].data
    assert isinstance(frame, pd.DataFrame)
    expected = pd.DataFrame({"species": ["Adelie", "Gentoo", "Chinstrap"], "count": [152, 124, 68]})
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected, check_dtype=False)


def test_read_scraps_display_only(scraps):
    fig = scraps["fig"]
    assert fig.display_only is True
    assert fig.data is None


def test_read_scraps_of_a_notebook_without_scraps(tmp_path):
    path = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1")]), path)
    assert read_scraps(str(path)) == []


# -- encoding the executed notebook's scraps ------------------------------------------


def test_numbers_stay_numbers_inline(encoded):
    entry, blob = encoded["count"]
    assert blob is None
    assert entry["value"] == 344 and type(entry["value"]) is int
    entry, blob = encoded["accuracy"]
    assert blob is None
    assert entry["value"] == 0.9375 and type(entry["value"]) is float


def test_small_values_inline(encoded):
    assert encoded["species"] == ({"value": "Adelie", "encoder": "text"}, None)
    entry, blob = encoded["config"]
    assert blob is None
    assert entry["value"] == {"seed": 1, "features": ["bill_length_mm", "flipper_length_mm"]}
    entry, blob = encoded["flag"]
    assert blob is None and entry["value"] is True


def test_glued_nan_is_recorded_as_none(encoded):
    entry, blob = encoded["nan_metric"]
    assert blob is None
    assert entry["value"] is None


def test_big_value_becomes_bytes_to_store(encoded):
    entry, blob = encoded["long_list"]
    assert "value" not in entry
    assert entry["type"] == "list"
    assert isinstance(blob, bytes)
    assert len(blob) > INLINE_MAX
    assert json.loads(blob) == list(range(2000))


def test_frame_becomes_split_json_bytes(encoded):
    entry, blob = encoded["frame"]
    assert "value" not in entry
    assert entry["type"] == "dataframe"
    assert entry["shape"] == [3, 2]
    assert isinstance(blob, bytes)
    payload = json.loads(blob)
    assert payload["columns"] == ["species", "count"]
    assert payload["data"] == [["Adelie", 152], ["Gentoo", 124], ["Chinstrap", 68]]
    back = pd.read_json(io.StringIO(blob.decode()), orient="split")
    assert back["species"].tolist() == ["Adelie", "Gentoo", "Chinstrap"]
    assert back["count"].tolist() == [152, 124, 68]


def test_display_only_is_marked_and_stores_nothing(encoded):
    entry, blob = encoded["fig"]
    assert blob is None
    assert entry["display_only"] is True
    assert "value" not in entry


def test_every_entry_is_strict_json(encoded):
    for name, (entry, blob) in encoded.items():
        json.dumps(entry, allow_nan=False)  # raises on NaN or a non-JSON value
        assert blob is None or isinstance(blob, bytes), name


# -- encoding, value by value ---------------------------------------------------------------


def _scrap(data, encoder="json"):
    return Scrap(name="s", data=data, encoder=encoder, display_only=False)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_float_becomes_none(value):
    entry, blob = encode(_scrap(value), INLINE_MAX)
    assert blob is None
    assert entry["value"] is None


def test_non_finite_inside_containers_becomes_none():
    entry, blob = encode(_scrap({"a": float("nan"), "b": [1.0, float("inf")], "c": (2, 3)}), INLINE_MAX)
    assert blob is None
    assert entry["value"] == {"a": None, "b": [1.0, None], "c": [2, 3]}
    json.dumps(entry, allow_nan=False)


def test_inline_max_boundary():
    value = "x" * 98  # JSON text is 100 bytes with the quotes
    entry, blob = encode(_scrap(value, "text"), inline_max=100)
    assert blob is None and entry["value"] == value
    entry, blob = encode(_scrap(value, "text"), inline_max=99)
    assert "value" not in entry
    assert json.loads(blob) == value


def test_inline_max_zero_stores_everything():
    entry, blob = encode(_scrap(1), inline_max=0)
    assert "value" not in entry
    assert json.loads(blob) == 1


def test_value_that_is_not_json_is_stored_as_its_repr():
    entry, blob = encode(_scrap({1, 2}, "custom"), INLINE_MAX)
    assert entry["repr"] is True
    assert entry["type"] == "set"
    assert json.loads(blob) == repr({1, 2})


def test_frame_without_a_kernel():
    frame = pd.DataFrame({"a": [1.5, math.nan]}, index=["x", "y"])
    entry, blob = encode(_scrap(frame, "pandas"), INLINE_MAX)
    assert entry == {"encoder": "pandas", "type": "dataframe", "shape": [2, 1]}
    payload = json.loads(blob)
    assert payload == {"columns": ["a"], "index": ["x", "y"], "data": [[1.5], [None]]}


# -- secrets inside data frame scraps (base64 parquet in the notebook) ---------------------------


def test_a_secret_inside_a_glued_data_frame_is_redacted_in_its_payload(executed_path, tmp_path):
    from nbprod import redact
    from nbprod.record.scraps import redact_payloads

    data = executed_path.read_bytes()
    redactor = redact.Redactor({"MY_TOKEN": "Gentoo"})
    out = tmp_path / "clean.ipynb"
    out.write_bytes(redactor.bytes(redact_payloads(data, redactor)))
    frames = {s.name: s.data for s in read_scraps(str(out))}
    assert list(frames["frame"]["species"]) == ["Adelie", "[redacted:MY_TOKEN]", "Chinstrap"]
    assert list(frames["frame"]["count"]) == [152, 124, 68]  # still a frame, other values intact
    assert frames["count"] == 344 and frames["again"] == 2


def test_a_notebook_without_secrets_in_its_frames_is_left_byte_for_byte(executed_path):
    from nbprod import redact
    from nbprod.record.scraps import redact_payloads

    data = executed_path.read_bytes()
    assert redact_payloads(data, redact.Redactor({"MY_TOKEN": "not-in-it"})) == data
    assert redact_payloads(data, redact.Redactor({})) == data
