"""penguins.schema: the real data passes, broken rows are reported by name."""

import json

import numpy as np
import pandas as pd
import pytest

from penguins import data, features, schema


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


# -- the model's input schema (train's `schema` product, checked by score) ------


def test_feature_schema_covers_exactly_the_features():
    contract = schema.feature_schema()
    assert list(contract.columns) == features.FEATURES
    assert contract.name == schema.FEATURE_SCHEMA_NAME and contract.coerce


def test_feature_schema_json_round_trips_through_pandera():
    text = schema.feature_schema_json()
    assert text == schema.feature_schema_json() and text.endswith("}\n")  # the same bytes every time
    document = json.loads(text)
    assert document["schema_type"] == "dataframe" and document["name"] == "penguins_features"
    assert set(document["columns"]) == set(features.FEATURES)
    assert document["columns"]["body_mass_g"]["in_range"]["min_value"] == 2500
    back = schema.load_schema(document)  # a dict, as LoadedModel.schema holds it
    assert back == schema.feature_schema()
    assert schema.load_schema(text) == back  # JSON text
    assert back.to_json(indent=2) + "\n" == text


def test_load_schema_reads_a_file_and_refuses_what_is_not_a_schema(tmp_path):
    path = tmp_path / "input_schema.json"
    path.write_text(schema.feature_schema_json())
    assert schema.load_schema(path) == schema.load_schema(str(path)) == schema.feature_schema()
    with pytest.raises(ValueError, match="no input schema"):
        schema.load_schema(None)
    with pytest.raises(ValueError, match="not a pandera schema") as info:
        schema.load_schema({"columns": {"a": {"dtype": "no-such-type"}}})
    assert "\n" not in str(info.value)


def test_validate_features_returns_the_coerced_feature_columns(real):
    raw = real.astype({"body_mass_g": object, "island": object})
    X = schema.validate_features(raw, json.loads(schema.feature_schema_json()), model="penguins:3")
    assert list(X.columns) == features.FEATURES and len(X) == len(real)
    assert X["body_mass_g"].dtype == "float64"
    pd.testing.assert_frame_equal(X, schema.feature_schema().validate(real[features.FEATURES]))


def test_a_batch_without_the_target_or_year_is_valid(real):
    batch = real.drop(columns=["species", "year"])
    assert len(schema.validate_features(batch, schema.feature_schema_json())) == len(real)


def test_validation_error_is_one_line_naming_the_column(real):
    contract = json.loads(schema.feature_schema_json())
    with pytest.raises(schema.InvalidDataError) as info:
        schema.validate_features(real.drop(columns=["sex"]), contract, model="penguins:3")
    message = str(info.value)
    assert message == "batch does not match the input schema of penguins:3: sex failed column_in_dataframe"

    bad = real.astype({"body_mass_g": object})
    bad.loc[4, "body_mass_g"] = "heavy"
    bad.loc[6, "flipper_length_mm"] = 400.0
    with pytest.raises(schema.InvalidDataError) as info:
        schema.validate_features(bad, contract)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, ValueError)
    assert message.startswith("batch does not match input schema penguins_features: ")
    assert "body_mass_g failed coerce_dtype('float64') at rows [4]" in message
    assert "flipper_length_mm failed in_range(150, 240) at rows [6]" in message
