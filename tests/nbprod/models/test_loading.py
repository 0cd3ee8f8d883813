"""nbprod.load_model: the version an alias names, deserialized, its bytes verified; a corrupt object refused."""

from __future__ import annotations

import pytest
from registrykit import KINDS, add_version, model_bytes, open_store

import nbprod
from nbprod.errors import IntegrityError, ModelNotFoundError
from nbprod.models import registry


@pytest.mark.parametrize("kind", KINDS)
def test_load_the_production_model_and_a_version(kind, tmp_path, request):
    store = open_store(kind, tmp_path, request)
    one, two = add_version(store, 0), add_version(store, 1)
    registry.promote(store, "penguins", two, reason="second", force=True)
    cache = tmp_path / "cache"

    loaded = nbprod.load_model("penguins@production", store=store, cache=cache)
    assert (loaded.name, loaded.version, loaded.alias) == ("penguins", 2, "production")
    assert loaded.model.predict([[0.0], [3.0]]).tolist() == [0, 1]  # a real, fitted model
    assert loaded.card == {"seed": 1}
    assert loaded.manifest["identity"] == registry.open_registry(store, "penguins").versions[2]["identity"]
    assert loaded.files["model"].read_bytes() == model_bytes(2.0)
    assert nbprod.load_model("penguins", store=store, cache=cache).version == 2  # production by default
    assert nbprod.load_model("penguins:1", store=store, cache=cache).card == {"seed": 0}
    assert nbprod.load_model("penguins:1", store=store, cache=cache, raw=True).model is None


def test_missing_ok_only_for_what_does_not_exist_yet(tmp_path):
    store = open_store("local", tmp_path, None)
    assert nbprod.load_model("penguins@production", store=store, cache=tmp_path / "c", missing_ok=True) is None
    add_version(store, 0)
    assert nbprod.load_model("penguins@production", store=store, cache=tmp_path / "c", missing_ok=True) is None
    with pytest.raises(ModelNotFoundError, match="no production version yet"):
        nbprod.load_model("penguins@production", store=store, cache=tmp_path / "c")
    with pytest.raises(ModelNotFoundError, match="no version 9"):  # a version that is not there is a mistake
        nbprod.load_model("penguins:9", store=store, cache=tmp_path / "c", missing_ok=True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_corrupt_model_object_is_refused_not_loaded(kind, tmp_path, request):
    store = open_store(kind, tmp_path, request)
    add_version(store, 0)
    sha = registry.open_registry(store, "penguins").versions[1]["products"]["model"]["sha256"]
    key = store.object_key(sha)
    data = bytearray(store.read_key(key))
    data[len(data) // 2] ^= 0xFF
    store.write_key(key, bytes(data))
    with pytest.raises(IntegrityError):
        nbprod.load_model("penguins:1", store=store, cache=tmp_path / "cache")
    assert not store.exists(key) and store.exists(f"quarantine/{key}")  # moved aside as evidence
    assert not list((tmp_path / "cache").rglob("model.joblib"))  # nothing half-trusted in the cache


def test_a_tampered_cache_file_is_fetched_again(tmp_path):
    store = open_store("local", tmp_path, None)
    add_version(store, 0)
    cache = tmp_path / "cache"
    first = nbprod.load_model("penguins:1", store=store, cache=cache)
    first.files["model"].write_bytes(b"not a model")
    again = nbprod.load_model("penguins:1", store=store, cache=cache)
    assert again.files["model"].read_bytes() == model_bytes(1.0)
