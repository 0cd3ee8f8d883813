"""nbprod.models.log: the hash chain; `verify` finds an edited, a deleted, a truncated log."""

from __future__ import annotations

import json

import pytest
from registrykit import KINDS, add_version, open_store

from nbprod.models import log as events
from nbprod.models import registry, views


def _three_events(store):
    one = add_version(store, 0)
    registry.promote(store, "penguins", one, reason="first")
    return registry.open_registry(store, "penguins").log


@pytest.mark.parametrize("kind", KINDS)
def test_a_clean_log_verifies_and_chains(kind, tmp_path, request):
    store = open_store(kind, tmp_path, request)
    log = _three_events(store)
    assert [e["n"] for e in log.events] == [1, 2, 3]
    assert log.events[0]["prev"] is None
    assert [e["prev"] for e in log.events[1:]] == log.hashes[:-1]
    assert all("@" in e["actor"] and e["time"].endswith("Z") for e in log.events)
    assert events.verify(store, "penguins") == []
    assert views.verify(store) == {"penguins": []}


@pytest.mark.parametrize("kind", KINDS)
def test_an_edited_event_is_detected(kind, tmp_path, request):
    store = open_store(kind, tmp_path, request)
    _three_events(store)
    key = events.event_key("penguins", 2)
    event = json.loads(store.read_key(key))
    event["gates"]["verdict"] = "passed!"  # a quiet edit of the gate report
    store.write_key(key, events.dumps(event))
    problems = events.verify(store, "penguins")
    assert any("event 2 was changed after event 3 was written" in p for p in problems), problems


@pytest.mark.parametrize("what", ["middle", "last", "manifest"])
def test_deleted_events_and_changed_manifests_are_detected(what, tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    _three_events(store)
    if what == "middle":
        store.delete_key(events.event_key("penguins", 2))
        expected = "event 2 is missing"
    elif what == "last":  # no later event holds its hash: head.json does
        store.delete_key(events.event_key("penguins", 3))
        expected = "head.json names event 3 but the log ends at 2"
    else:
        key = "models/penguins/versions/1.json"
        store.write_key(key, store.read_key(key).replace(b'"seed": 0', b'"seed": 9'))
        expected = "versions/1.json differs"
    found = views.verify(store)["penguins"]
    assert any(expected in p for p in found), found


def test_the_last_event_edited_is_caught_by_head(tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    _three_events(store)
    key = events.event_key("penguins", 3)
    store.write_key(key, store.read_key(key).replace(b'"reason": "first"', b'"reason": "other"'))
    assert any("event 3 was changed" in p for p in events.verify(store, "penguins"))


def test_a_lost_race_decides_again_on_the_new_log(tmp_path):
    """Between reading the log and creating n + 1, another writer appends: the append
    is decided again on the log that includes the other event."""
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    add_version(store, 0)
    seen = []

    def decide(log):
        seen.append(log.n)
        if len(seen) == 1:  # another writer takes n + 1 now
            assert store.create_key(events.event_key("penguins", log.n + 1),
                                    events.dumps({"n": log.n + 1, "type": "approved", "version": 1, "model": "penguins",
                                                  "prev": log.head}))
        return {"type": "approved", "version": 1, "reason": "mine"}

    log, event = events.append(store, "penguins", decide, actor="me@here")
    assert seen == [2, 3] and event["n"] == 4
    assert events.verify(store, "penguins") == []


def test_an_object_store_fetches_each_event_once_and_verify_reads_the_store(s3, tmp_path, monkeypatch):
    """Events never change once created: on S3 they are kept locally after the first read;
    `verify` still reads the store itself, so an edit made there after caching is found."""
    from nbprod.store import Store

    monkeypatch.setenv("NBPROD_CACHE", str(tmp_path / "cache" / "objects"))
    store = Store("s3://nbprod-test/cached")
    _three_events(store)
    asked = []
    real = store.read_keys
    monkeypatch.setattr(store, "read_keys", lambda keys: asked.append(list(keys)) or real(keys))
    first = events.read(store, "penguins")
    again = events.read(store, "penguins")
    # cached when written or first read; the newest is always asked for (what a new event chains to)
    assert again.hashes == first.hashes and [len(k) for k in asked] == [1, 1]
    assert len(list((tmp_path / "cache" / "models").rglob("*.json"))) == 3

    key = events.event_key("penguins", 1)
    store.write_key(key, store.read_key(key).replace(b'"seed": 0', b'"seed": 5'))
    assert any("event 1 was changed" in p for p in events.verify(store, "penguins"))


def test_a_cached_event_that_does_not_chain_is_fetched_again(s3, tmp_path, monkeypatch):
    from nbprod.store import Store

    monkeypatch.setenv("NBPROD_CACHE", str(tmp_path / "cache" / "objects"))
    store = Store("s3://nbprod-test/stale")
    truth = _three_events(store)
    cached = next((tmp_path / "cache" / "models").rglob("00000002.json"))
    cached.write_bytes(cached.read_bytes().replace(b'"reason"', b'"reasons"'))  # not what the store holds
    found = events.read(store, "penguins")
    assert found.hashes == truth.hashes
    assert events.read(store, "penguins").hashes == truth.hashes


def test_a_create_the_store_made_but_the_client_saw_fail_is_ours(tmp_path, monkeypatch):
    """A PUT that timed out after the server stored it, retried and answered 412: the event
    there holds this writer's bytes (its random id), so the append succeeded, once."""
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    add_version(store, 0)
    real = store.create_key
    monkeypatch.setattr(store, "create_key", lambda key, data: real(key, data) and False)
    event = registry.promote(store, "penguins", 1, reason="first")
    monkeypatch.undo()
    found = registry.open_registry(store, "penguins")
    assert event["n"] == 3 and [e["type"] for e in found.log.events] == ["registered", "evaluated", "promoted"]
    assert len({e["id"] for e in found.log.events}) == 3


@pytest.mark.parametrize("what", ["head", "events", "manifest file"])
def test_verify_names_a_missing_head_events_folder_or_manifest(what, tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    _three_events(store)
    if what == "head":
        store.delete_key(events.head_key("penguins"))
        expected = "head.json is missing (the log has 3 events)"
    elif what == "events":
        for n in (1, 2, 3):
            store.delete_key(events.event_key("penguins", n))
        expected = "the model has files but no events"
    else:
        store.delete_key("models/penguins/versions/1.json")
        expected = "versions/1.json is missing"
    found = views.verify(store)
    assert any(expected in p for p in found["penguins"]), found


def test_an_event_that_is_not_json_is_a_verify_problem_not_a_crash(tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    _three_events(store)
    store.write_key(events.event_key("penguins", 2), b"{not json")
    assert any("is not JSON" in p for p in views.verify(store)["penguins"])


def test_a_store_restored_under_the_cache_is_read_as_it_is_now(s3, tmp_path, monkeypatch):
    """This machine cached events 1..3; the store was restored from a backup and took other
    events 2..3 since (same numbers, same store.json): the log read is the store's."""
    from nbprod.store import Store

    monkeypatch.setenv("NBPROD_CACHE", str(tmp_path / "cache" / "objects"))
    store = Store("s3://nbprod-test/restored")
    cached = _three_events(store)
    first = json.loads(store.read_key(events.event_key("penguins", 1)))
    prev = events.sha256(store.read_key(events.event_key("penguins", 1)))
    for n, kind in ((2, "rejected"), (3, "approved")):
        data = events.dumps({"n": n, "type": kind, "version": 1, "model": "penguins", "prev": prev,
                             "reason": "other history", "actor": "x@y", "time": first["time"]})
        store.write_key(events.event_key("penguins", n), data)
        prev = events.sha256(data)
    found = events.read(store, "penguins")
    assert found.hashes != cached.hashes and [e["type"] for e in found.events] == ["registered", "rejected", "approved"]
    assert registry.fold(found).aliases == {}
