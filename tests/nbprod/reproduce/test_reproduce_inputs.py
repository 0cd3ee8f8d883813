"""nbprod.reproduce.inputs: each input back in place by its hash, or a refusal naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbprod.errors import NotReproducibleError
from nbprod.files import sha256_bytes
from nbprod.reproduce.inputs import restore_inputs
from nbprod.schema import RunRecord
from nbprod.store import Store

OLD = b"species\nAdelie\n"


@pytest.fixture
def where(tmp_path):
    """(store, worktree project, the user's project, scratch)."""
    dirs = [tmp_path / name for name in ("tree", "user", "scratch")]
    for folder in dirs:
        folder.mkdir()
    return (Store(str(tmp_path / "store")), *dirs)


def run(*inputs: dict) -> RunRecord:
    return RunRecord(run_id="20261201T100000Z-abcdef", status="succeeded", started_at="t", inputs=list(inputs))


def item(path: str, *, stored: bool, declared_by: str = "param ingest.source", data: bytes = OLD) -> dict:
    return {"name": Path(path).name, "path": path, "sha256": sha256_bytes(data), "size": len(data),
            "declared_by": declared_by, "stored": stored, **({} if stored else {"why": "nbprod.yaml: inputs.store is false"})}


def test_a_stored_input_missing_from_the_worktree_is_restored_by_hash(where):
    store, tree, user, scratch = where
    store.put_bytes(OLD)
    (user / "data").mkdir()
    (user / "data" / "raw.csv").write_bytes(b"changed since\n")  # the user's copy is not used, nor touched
    said = []
    assert restore_inputs(run(item("data/raw.csv", stored=True)), tree, user, store, scratch, said.append) == []
    assert (tree / "data" / "raw.csv").read_bytes() == OLD
    assert (user / "data" / "raw.csv").read_bytes() == b"changed since\n"
    assert said == [f"nbprod: input data/raw.csv restored from the store (sha256 {sha256_bytes(OLD)[:12]}...)"]


def test_an_input_the_worktree_has_unchanged_or_the_user_still_has_is_used(where):
    store, tree, user, scratch = where
    (tree / "tracked.csv").write_bytes(OLD)
    (user / "ignored.csv").write_bytes(OLD)
    record = run(item("tracked.csv", stored=False), item("ignored.csv", stored=False))
    assert restore_inputs(record, tree, user, store, scratch) == []
    assert (tree / "ignored.csv").read_bytes() == OLD  # copied from the user's (git-ignored) file


def test_a_changed_input_whose_bytes_were_not_stored_is_refused_naming_it(where):
    store, tree, user, scratch = where
    (user / "data").mkdir()
    (user / "data" / "raw.csv").write_bytes(b"changed\n")
    with pytest.raises(NotReproducibleError) as err:
        restore_inputs(run(item("data/raw.csv", stored=False)), tree, user, store, scratch)
    text = str(err.value)
    assert text.startswith(f"input raw.csv (data/raw.csv) changed since run 20261201T100000Z-abcdef (its sha256 is "
                           f"{sha256_bytes(b'changed' + bytes([10]))[:12]}... now, recorded {sha256_bytes(OLD)[:12]}...) "
                           "and its bytes were not stored (nbprod.yaml: inputs.store is false)")
    assert err.value.input == "data/raw.csv" and err.value.exit_code == 2 and "\n" not in text
    assert not (tree / "data").exists()


def test_a_missing_input_not_stored_is_refused(where):
    store, tree, user, scratch = where
    with pytest.raises(NotReproducibleError, match=r"changed since run .* \(it is missing now"):
        restore_inputs(run(item("data/raw.csv", stored=False)), tree, user, store, scratch)


def test_an_outside_input_is_read_in_place_or_restored_aside_for_the_parameter_naming_it(where, tmp_path):
    store, tree, user, scratch = where
    outside = tmp_path / "shared" / "lookup.csv"
    outside.parent.mkdir()
    outside.write_bytes(OLD)
    assert restore_inputs(run(item(str(outside), stored=True)), tree, user, store, scratch) == []
    outside.write_bytes(b"refreshed\n")
    store.put_bytes(OLD)
    moved = restore_inputs(run(item(str(outside), stored=True)), tree, user, store, scratch)
    assert moved == [(str(outside), str(scratch / "inputs" / sha256_bytes(OLD)[:16] / "lookup.csv"))]
    assert Path(moved[0][1]).read_bytes() == OLD and outside.read_bytes() == b"refreshed\n"  # never overwritten
    with pytest.raises(NotReproducibleError, match="lives outside the project and no parameter names it"):
        restore_inputs(run(item(str(outside), stored=True, declared_by="scrap ingest.nbprod_inputs")),
                       tree, user, store, scratch)


def test_inputs_that_are_not_local_files_are_not_checked(where):
    store, tree, user, scratch = where
    record = run({"name": "s3", "path": "s3://bucket/raw.csv", "sha256": "ab" * 32}, {"name": "x", "path": None})
    assert restore_inputs(record, tree, user, store, scratch) == []
