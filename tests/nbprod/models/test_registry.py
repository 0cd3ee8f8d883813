"""nbprod.models.registry: versions, aliases, promotion guards, rollback, `at`, on a folder and on S3."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from registrykit import KINDS, add_version, manifest, open_store, report

from nbprod.errors import ConfigError, GateRefusedError, ModelNotFoundError, PromotionConflictError
from nbprod.models import log as events
from nbprod.models import registry


@pytest.mark.parametrize("kind", KINDS)
def test_registration_is_idempotent_same_bytes_same_version(kind, tmp_path, request):
    store = open_store(kind, tmp_path, request)
    first = manifest(store, seed=0, run_id="20261201T000000Z-000001")
    again = manifest(store, seed=0, run_id="20261201T010000Z-000002")  # another run, the same bytes
    other = manifest(store, seed=1)
    assert registry.register(store, "penguins", first) == (1, True)
    assert registry.register(store, "penguins", again) == (1, False)
    assert registry.register(store, "penguins", other) == (2, True)
    found = registry.open_registry(store, "penguins")
    assert sorted(found.versions) == [1, 2]
    assert found.versions[1]["run_id"] == "20261201T000000Z-000001"  # the manifest is never rewritten
    assert [e["type"] for e in found.log.events] == ["registered", "registered"]
    # the manifest is also kept at versions/<v>.json, equal to its event's
    assert store.read_key("models/penguins/versions/1.json") == events.dumps(found.versions[1])


@pytest.mark.parametrize("kind", KINDS)
def test_promote_rollback_and_at(kind, tmp_path, request):
    store = open_store(kind, tmp_path, request)
    one = add_version(store, 0)
    moments = {"before": datetime.now(timezone.utc)}
    registry.promote(store, "penguins", one, reason="first")
    moments["v1"] = datetime.now(timezone.utc)
    two = add_version(store, 1, baseline=one)
    event = registry.promote(store, "penguins", two, reason="better f1")
    assert (event["type"], event["from"], event["to"], event["baseline"]) == ("promoted", 1, 2, 1)
    moments["v2"] = datetime.now(timezone.utc)
    back = registry.rollback(store, "penguins", reason="complaints")
    assert (back["type"], back["from"], back["to"]) == ("rolled_back", 2, 1)
    moments["after"] = datetime.now(timezone.utc)

    found = registry.open_registry(store, "penguins")
    assert found.aliases == {"production": 1}
    assert found.at(moments["before"]) is None  # before any promotion
    assert found.at(moments["v1"]) == 1  # between
    assert found.at(moments["v2"]) == 2
    assert found.at(moments["after"]) == 1  # after the rollback
    assert found.at(moments["after"] + timedelta(days=1)) == 1
    # the same version again: nothing to do, no event
    assert registry.promote(store, "penguins", one, reason="again") is None
    assert registry.rollback(store, "penguins", to=2, reason="fixed")["to"] == 2


@pytest.mark.parametrize("kind", KINDS)
def test_stale_baseline_is_refused(kind, tmp_path, request):
    """v3's gate compared against v1; production moved to v2 since: promoting v3 is refused."""
    store = open_store(kind, tmp_path, request)
    one = add_version(store, 0)
    registry.promote(store, "penguins", one, reason="first")
    two = add_version(store, 1, baseline=one)
    three = add_version(store, 2, baseline=one)
    registry.promote(store, "penguins", two, reason="second")
    with pytest.raises(PromotionConflictError) as refused:
        registry.promote(store, "penguins", three, reason="third")
    assert "compared against v1, but production is v2 now" in str(refused.value)
    assert refused.value.exit_code == 4
    assert registry.open_registry(store, "penguins").aliases["production"] == 2
    # evaluated again against v2: now it may go
    registry.evaluate(store, "penguins", three, {**registry.open_registry(store, "penguins").gate(three),
                                                "baseline": {"alias": "production", "version": 2}},
                      run_id=None, evidence="again-vs-2")
    assert registry.promote(store, "penguins", three, reason="third, re-gated")["to"] == three


def test_gates_rejection_approval_and_force(tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    bad = add_version(store, 0, verdict="failed")
    with pytest.raises(GateRefusedError) as refused:
        registry.promote(store, "penguins", bad, reason="try")
    assert "v1" in str(refused.value) and refused.value.exit_code == 4
    forced = registry.promote(store, "penguins", bad, reason="hotfix, gates known bad", force=True)
    assert forced["forced"] is True and forced["reason"] == "hotfix, gates known bad"

    good = add_version(store, 1, baseline=bad)
    registry.decide(store, "penguins", good, "rejected", reason="legal review")
    for force in (False, True):  # a rejection is a human decision: --force does not undo it, an approval does
        with pytest.raises(GateRefusedError, match="rejected"):
            registry.promote(store, "penguins", good, reason="try", force=force)
    # approval: true in nbprod.yaml when it was registered: the manifest says so, wherever promote runs
    gated = registry.register(store, "penguins", {**manifest(store, seed=2), "approval": True})[0]
    registry.evaluate(store, "penguins", gated, report(baseline=bad), run_id=None, evidence="gated")
    with pytest.raises(GateRefusedError, match="needs an approval"):
        registry.promote(store, "penguins", gated, reason="try")
    registry.decide(store, "penguins", gated, "approved", reason="ok")
    assert registry.promote(store, "penguins", gated, reason="approved")["to"] == gated


def test_bad_references_and_reasons_are_one_line(tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    with pytest.raises(ModelNotFoundError, match="holds no model 'penguins'"):
        registry.known(store, "penguins")
    add_version(store, 0)
    found = registry.open_registry(store, "penguins")
    with pytest.raises(ModelNotFoundError, match="has no production version yet"):
        found.resolve("penguins@production")
    with pytest.raises(ModelNotFoundError, match="no version 7"):
        found.resolve("penguins:7")
    assert found.resolve("penguins:v1") == found.resolve("penguins:1") == 1
    with pytest.raises(ConfigError, match="not a model reference"):
        registry.parse_ref("Penguins@@prod")
    with pytest.raises(ConfigError, match="needs a reason"):
        registry.promote(store, "penguins", 1, reason=" ")
    with pytest.raises(ConfigError, match="nothing to roll back"):
        registry.rollback(store, "penguins", reason="x")
    registry.promote(store, "penguins", 1, reason="first")
    with pytest.raises(ConfigError, match="from nothing: there is none before it"):
        registry.rollback(store, "penguins", reason="x")


def test_two_rollbacks_go_back_twice_and_never_to_a_version_that_was_not_there(tmp_path):
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    one = add_version(store, 0)
    registry.promote(store, "penguins", one, reason="1")
    two = add_version(store, 1, baseline=one)
    registry.promote(store, "penguins", two, reason="2")
    three = add_version(store, 2, baseline=two)
    registry.promote(store, "penguins", three, reason="3")
    never = add_version(store, 3, verdict="failed")
    assert registry.rollback(store, "penguins", reason="a")["to"] == two  # two operators answering one alert:
    assert registry.rollback(store, "penguins", reason="b")["to"] == one  # back twice, not back and forth
    with pytest.raises(GateRefusedError, match="was never production"):
        registry.rollback(store, "penguins", to=never, reason="a gate-failed version")
    assert registry.open_registry(store, "penguins").aliases == {"production": one}


def test_a_version_evaluated_again_against_an_earlier_baseline_is_promotable(tmp_path):
    """v3 gated against v1, then v2; production rolled back to v1; v3 built again against v1 gives
    the evidence of its first evaluation: recorded again (the latest gate is what counts)."""
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    one = add_version(store, 0)
    registry.promote(store, "penguins", one, reason="1")
    two = add_version(store, 1, baseline=one)
    three = add_version(store, 2, baseline=one)  # evidence "seed-2-1-passed"
    registry.promote(store, "penguins", two, reason="2")
    registry.evaluate(store, "penguins", three, report(baseline=two), run_id=None, evidence="seed-2-2-passed")
    registry.rollback(store, "penguins", reason="back")
    assert registry.evaluate(store, "penguins", three, report(baseline=one), run_id=None, evidence="seed-2-1-passed")
    assert registry.promote(store, "penguins", three, reason="3")["to"] == three


def test_a_decision_that_lands_during_a_promotion_is_seen(tmp_path, monkeypatch):
    """Between the promotion's read and its append, v2 is rejected: the retry refuses it."""
    from nbprod.models import log as events
    from nbprod.store import Store

    store = Store(str(tmp_path / "store"))
    one = add_version(store, 0)
    real = store.create_key
    landed = []

    def reject_first(key, data):
        if "/events/" in key and not landed:
            landed.append(key)
            registry.decide(store, "penguins", one, "rejected", reason="found a bias")
        return real(key, data)

    monkeypatch.setattr(store, "create_key", reject_first)
    with pytest.raises(GateRefusedError, match="was rejected"):
        registry.promote(store, "penguins", one, reason="go")
    monkeypatch.undo()
    assert registry.open_registry(store, "penguins").aliases == {}
    assert events.verify(store, "penguins") == []


def test_reasons_are_redacted_and_times_never_go_back(tmp_path, monkeypatch):
    from nbprod.store import Store

    monkeypatch.setenv("API_TOKEN", "ghp_s3cr3tvalue123456")
    store = Store(str(tmp_path / "store"))
    one = add_version(store, 0)
    registry.decide(store, "penguins", one, "approved", reason="token ghp_s3cr3tvalue123456 checked")
    registry.promote(store, "penguins", one, reason="with ghp_s3cr3tvalue123456")
    found = registry.open_registry(store, "penguins")
    assert not any(b"ghp_s3cr3tvalue123456" in store.read_key(k["key"]) for k in store.list_keys("models"))
    assert "[redacted:API_TOKEN]" in found.moves[0]["reason"]
    times = [e["time"] for e in found.log.events]
    assert times == sorted(times)
