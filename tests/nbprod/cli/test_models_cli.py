"""`nbprod models ...` in a real process: what each command prints, its JSON, its exit code."""

from __future__ import annotations

import json
import subprocess
import sys

from registrykit import add_version

from nbprod.models import log as events
from nbprod.models import registry
from nbprod.store import Store


def nbprod(*args, store: Store, tmp_path, code=0):
    env = {"NBPROD_STORE": store.url, "NBPROD_SPOOL": str(tmp_path / "spool"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "USER": "alice"}
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "models", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == code, (done.stdout, done.stderr)
    return done


def test_ls_show_history_at_and_their_json(tmp_path):
    store = Store(str(tmp_path / "store"))
    assert "no models in this store yet" in nbprod("ls", store=store, tmp_path=tmp_path).stdout
    one = add_version(store, 0)
    registry.promote(store, "penguins", one, reason="first")
    add_version(store, 1, baseline=one)

    listed = json.loads(nbprod("ls", "--json", store=store, tmp_path=tmp_path).stdout)
    assert [(r["model"], r["versions"], r["aliases"]) for r in listed] == [("penguins", 2, {"production": 1})]
    text = nbprod("show", "penguins", store=store, tmp_path=tmp_path).stdout
    assert text.splitlines()[0] == "model penguins: production=v1"
    version = json.loads(nbprod("show", "penguins@production", "--json", store=store, tmp_path=tmp_path).stdout)
    assert (version["version"], version["aliases"], version["gates"]["verdict"]) == (1, ["production"], "passed")
    shown = nbprod("show", "penguins:2", store=store, tmp_path=tmp_path).stdout
    assert "model penguins v2" in shown and "accuracy >= 0.9" in shown  # the gate report, rule by rule

    history = json.loads(nbprod("history", "penguins", "--json", store=store, tmp_path=tmp_path).stdout)
    assert [h["type"] for h in history] == ["registered", "evaluated", "promoted", "registered", "evaluated"]
    assert history[2]["what"] == "production: nothing -> v1" and history[2]["reason"] == "first"
    moment = registry.open_registry(store, "penguins").moves[0]["time"]
    at = json.loads(nbprod("at", "penguins", moment, "--json", store=store, tmp_path=tmp_path).stdout)
    assert at["version"] == 1
    before = nbprod("at", "penguins", "2020-01-01", store=store, tmp_path=tmp_path).stdout
    assert before.strip() == "penguins@production at 2020-01-01T00:00:00.000Z: no version yet"


def test_promote_rollback_approve_and_their_refusals(tmp_path):
    store = Store(str(tmp_path / "store"))
    one = add_version(store, 0)
    failed = add_version(store, 1, verdict="failed")
    done = nbprod("promote", "penguins", str(one), "--reason", "first", store=store, tmp_path=tmp_path)
    assert done.stdout.strip() == "nbprod: penguins@production: nothing -> v1 (event 5)"

    refused = nbprod("promote", "penguins", str(failed), "--reason", "try", store=store, tmp_path=tmp_path, code=4)
    assert refused.stderr.count("\n") == 1 and "model penguins v2" in refused.stderr
    forced = nbprod("promote", "penguins", str(failed), "--reason", "known bad", "--force", "--json",
                    store=store, tmp_path=tmp_path)
    assert json.loads(forced.stdout)["forced"] is True
    back = nbprod("rollback", "penguins", "--reason", "bad", store=store, tmp_path=tmp_path)
    assert back.stdout.strip().startswith("nbprod: penguins@production: v2 -> v1 (rolled back")
    assert "needs a reason" in nbprod("rollback", "penguins", "--reason", " ", store=store, tmp_path=tmp_path,
                                      code=2).stderr
    nbprod("reject", "penguins", str(failed), "--reason", "bias found", store=store, tmp_path=tmp_path)
    assert "was rejected" in nbprod("rollback", "penguins", "--to", str(failed), "--reason", "x", store=store,
                                    tmp_path=tmp_path, code=4).stderr
    assert registry.open_registry(store, "penguins").aliases == {"production": 1}
    actors = {e["actor"] for e in registry.open_registry(store, "penguins").log.events[4:]}
    assert actors and all(a.startswith("alice@") for a in actors)
    assert "holds no model 'other'" in nbprod("show", "other", store=store, tmp_path=tmp_path, code=2).stderr


def test_verify_exits_4_on_an_edited_event(tmp_path):
    store = Store(str(tmp_path / "store"))
    add_version(store, 0)
    registry.promote(store, "penguins", 1, reason="first")
    assert "1 model log(s) verified" in nbprod("verify", store=store, tmp_path=tmp_path).stdout
    key = events.event_key("penguins", 1)
    store.write_key(key, store.read_key(key).replace(b'"seed": 0', b'"seed": 1'))
    bad = nbprod("verify", store=store, tmp_path=tmp_path, code=4)
    assert bad.stdout.startswith("model penguins: event 1 was changed after event 2 was written")
    assert json.loads(nbprod("verify", "--json", store=store, tmp_path=tmp_path, code=4).stdout)["penguins"]
