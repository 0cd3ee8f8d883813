"""penguins.schema: the real data passes, broken rows are reported by name."""

import numpy as np
import pytest

from penguins import data, schema


@pytest.fixture(scope="module")
def real():
    return data.load_batch("palmerpenguins", [2007, 2008, 2009])


def test_real_data_is_valid(real):
    summary = schema.validate(real)
    assert summary == {"valid": True, "rows": 344, "n_failures": 0, "failures": []}
    assert schema.check(real) == summary


def test_real_data_round_trips_through_parquet(real, tmp_path):
    path = tmp_path / "p.parquet"
    real.to_parquet(path, index=False)
    import pandas as pd

    assert schema.validate(pd.read_parquet(path))["valid"]


@pytest.fixture
def broken(real):
    df = real.copy()
    df.loc[3, "body_mass_g"] = 9000.0
    df.loc[7, "body_mass_g"] = 100.0
    df.loc[5, "species"] = "Emperor"
    df.loc[9, "species"] = np.nan
    return df


def test_validate_collects_every_failure(broken):
    summary = schema.validate(broken)
    assert summary["valid"] is False
    assert summary["rows"] == len(broken)
    found = {(f["column"], f["check"]): f for f in summary["failures"]}
    assert summary["n_failures"] == len(found) == 3
    mass = found[("body_mass_g", "in_range(2500, 6500)")]
    assert mass["row_indexes"] == [3, 7] and mass["n_rows"] == 2
    assert found[("species", "not_nullable")]["row_indexes"] == [9]
    unknown = [f for (col, check), f in found.items() if check.startswith("isin")]
    assert unknown[0]["column"] == "species" and unknown[0]["row_indexes"] == [5]


def test_summary_is_plain_json(broken):
    import json

    summary = schema.validate(broken)
    assert json.loads(json.dumps(summary)) == summary


def test_check_raises_one_line_naming_columns_checks_rows(broken):
    with pytest.raises(schema.InvalidDataError) as info:
        schema.check(broken)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in message
    assert message.startswith("invalid penguins data: ")
    assert "body_mass_g failed in_range(2500, 6500) at rows [3, 7]" in message
    assert "species failed isin(" in message and "at rows [5]" in message
    assert "species failed not_nullable at rows [9]" in message


def test_row_indexes_are_capped(real):
    df = real.copy()
    df.loc[:9, "island"] = "Atlantis"
    (failure,) = schema.validate(df)["failures"]
    assert failure["n_rows"] == 10
    assert failure["row_indexes"] == [0, 1, 2, 3, 4]


def test_missing_column_is_reported(real):
    summary = schema.validate(real.drop(columns=["sex"]))
    assert not summary["valid"]
    assert ("sex", "column_in_dataframe") in {
        (f["column"], f["check"]) for f in summary["failures"]
    }


def test_object_dtype_strings_are_coerced(real):
    # pandas 3 reads text as the "str" dtype; frames built elsewhere may
    # still carry object columns: both must validate
    assert schema.validate(real.astype({"species": object, "sex": object}))["valid"]
