"""penguins.data: parameter parsing and batch loading."""

import pandas as pd
import pytest

from penguins import data


@pytest.mark.parametrize(
    "years, expected",
    [
        (2008, [2008]),
        ("2008", [2008]),
        ("2007,2008", [2007, 2008]),
        (" 2009 , 2007 ", [2007, 2009]),
        ("[2007, 2008]", [2007, 2008]),
        # what ploomber's env rendering + papermill make of "2007,2008"
        ("(2007, 2008)", [2007, 2008]),
        ([2009, 2007, 2009], [2007, 2009]),
        ((2008,), [2008]),
    ],
)
def test_parse_years_accepts(years, expected):
    assert data.parse_years(years) == expected


@pytest.mark.parametrize(
    "years", ["", "[]", "2008.5", "twenty", "2007;2008", None, True, 2008.0, [[2007]]]
)
def test_parse_years_rejects(years):
    with pytest.raises(ValueError, match="invalid years"):
        data.parse_years(years)


def test_bundled_source_is_the_packaged_csv():
    for source in ("palmerpenguins", "", None):
        path = data.source_path(source)
        assert path.name == "penguins.csv"
        assert path.is_file()


def test_missing_source_csv_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv not found"):
        data.source_path(tmp_path / "nope.csv")


def test_load_batch_keeps_only_requested_years():
    batch = data.load_batch("palmerpenguins", "2007,2009")
    assert set(batch["year"]) == {2007, 2009}
    assert list(batch.index) == list(range(len(batch)))


def test_load_batch_with_no_matching_year_names_available_years():
    with pytest.raises(ValueError, match=r"years available: \[2007, 2008, 2009\]"):
        data.load_batch("palmerpenguins", 2020)


def test_load_batch_from_a_csv_path(tmp_path):
    csv = tmp_path / "mini.csv"
    pd.DataFrame({"species": ["Adelie", "Gentoo"], "year": [2007, 2008]}).to_csv(
        csv, index=False
    )
    assert data.load_batch(csv, 2008)["species"].tolist() == ["Gentoo"]


def test_sha256_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"abc")
    assert data.sha256_file(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
