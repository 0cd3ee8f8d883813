"""nbprod.models.runs: a recorded run registers, evaluates and (asked) promotes its model versions."""

from __future__ import annotations

import numpy as np
import pytest
from registrykit import model_bytes

from nbprod import project, schema
from nbprod.models import registry
from nbprod.models.predictions import write_predictions
from nbprod.models.runs import register_run
from nbprod.store import Store

NBPROD_YAML = """
models:
  - name: penguins
    task: train
    model: model
    card: card
    evaluation: evaluate.predictions
    gates:
      - accuracy >= 0.9
      - accuracy: {vs: production, margin: 0.05}
"""
LABELS = ["a", "b"]


def _run(store: Store, tmp_path, *, c: float = 1.0, right: int = 95, production: dict | None = None,
         status: str = schema.SUCCEEDED, smoke: bool = False) -> schema.RunRecord:
    """A run whose train task stored a real model and card, and whose evaluate task stored
    predictions: the candidate right on ``right`` rows of 100."""
    truth = np.array(["a", "b"] * 50)
    pred = truth.copy()
    pred[right:] = np.where(truth[right:] == "a", "b", "a")
    path = write_predictions(tmp_path / f"pred-{c}-{right}.json", y_true=truth, labels=LABELS,
                             candidate={"pred": pred, "proba": None}, production=production)
    model = store.put_bytes(model_bytes(c))
    card = store.put_bytes(f'{{"C": {c}}}'.encode())
    predictions = store.put_file(path)

    def product(name, stored, rel):
        return {"name": name, "path": rel, "sha256": stored["sha256"], "size": stored["size"]}

    run_id = schema.new_run_id()
    return schema.RunRecord(
        run_id=run_id, status=status, started_at=schema.isoformat(schema.utcnow()), smoke=smoke,
        git={"commit": "a" * 40, "dirty": False},
        tasks=[schema.TaskRecord(name="train", kind="notebook", status=schema.TASK_SUCCEEDED, params={"C": c},
                                 upstream=[], products=[product("model", model, "outputs/model/model.joblib"),
                                                        product("card", card, "outputs/model/model_card.json")]),
               schema.TaskRecord(name="evaluate", kind="notebook", status=schema.TASK_SUCCEEDED, upstream=["train"],
                                 products=[product("predictions", predictions, "outputs/metrics/predictions.json")],
                                 scraps={"accuracy": {"value": right / 100}})])


@pytest.fixture
def spec():
    return project.parse(NBPROD_YAML)


def test_a_run_registers_once_and_is_evaluated_on_its_predictions(spec, tmp_path):
    store = Store(str(tmp_path / "store"))
    said = []
    record = _run(store, tmp_path)
    [done] = register_run(store, spec, record, say=said.append)
    assert (done.version, done.created, done.report["verdict"]) == (1, True, "passed")
    assert "no production model yet" in done.report["note"]
    found = registry.open_registry(store, "penguins")
    manifest = found.versions[1]
    assert manifest["run_id"] == record.run_id and manifest["commit"] == "a" * 40 and manifest["params"] == {"C": 1.0}
    assert set(manifest["products"]) == {"model", "card"}
    assert said == [f"nbprod: model penguins v1 registered; gates passed (no production model yet: the absolute "
                    "gates alone decide); see `nbprod models show penguins:1`"]
    # the same run again (a build with nothing to do): the same version, no new event
    again = register_run(store, spec, record, say=said.append)
    assert (again[0].version, again[0].created) == (1, False)
    assert len(registry.open_registry(store, "penguins").log.events) == 2


def test_promote_passes_and_a_failed_gate_is_refused(spec, tmp_path):
    store = Store(str(tmp_path / "store"))
    first = register_run(store, spec, _run(store, tmp_path), promote=True, say=lambda line: None)
    assert first[0].promoted["to"] == 1
    # v2 scored against production v1 on the same rows, and clearly worse: refused, production stays
    worse = _run(store, tmp_path, c=2.0, right=80,
                 production={"version": 1, "pred": np.array(["a", "b"] * 50), "proba": None})
    said = []
    [done] = register_run(store, spec, worse, promote=True, say=said.append)
    assert done.version == 2 and done.report["verdict"] == "failed" and done.refused is not None
    assert done.refused.exit_code == 4 and "accuracy >= 0.9" in str(done.refused)
    assert registry.open_registry(store, "penguins").aliases == {"production": 1}
    assert said[-1] == "nbprod: model penguins v2 registered; gates failed; see `nbprod models show penguins:2`"


def test_build_promote_decides_on_this_runs_gates(spec, tmp_path):
    """The same model bytes (v1) passed in an earlier run; this run's evaluation fails: not promoted."""
    store = Store(str(tmp_path / "store"))
    register_run(store, spec, _run(store, tmp_path), say=lambda line: None)
    [done] = register_run(store, spec, _run(store, tmp_path, right=50), promote=True, say=lambda line: None)
    assert (done.version, done.created, done.report["verdict"]) == (1, False, "failed")
    assert done.refused is not None and registry.open_registry(store, "penguins").aliases == {}


@pytest.mark.parametrize("what", ["smoke", "failed", "no product"])
def test_what_registers_nothing(what, spec, tmp_path):
    store = Store(str(tmp_path / "store"))
    record = _run(store, tmp_path, smoke=what == "smoke", status=schema.FAILED if what == "failed" else schema.SUCCEEDED)
    if what == "no product":
        record.task("train").products = record.task("train").products[:1]  # no card
    said = []
    done = register_run(store, spec, record, say=said.append)
    assert registry.open_registry(store, "penguins").versions == {}
    if what == "smoke":
        assert said == ["nbprod: smoke run: no model version registered (smoke parameters are not production's)"]
    elif what == "failed":
        assert done == [] and said == []
    else:
        assert "task train has no product 'card' (models.penguins.card)" in said[0] and said[0].startswith("nbprod: warning")
