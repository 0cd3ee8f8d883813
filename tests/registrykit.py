"""Helpers of the registry tests: a store on a folder or on moto's S3 server, versions made from
real objects (a fitted scikit-learn model dumped with joblib), gate reports as gates.evaluate
writes them."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from nbprod.files import sha256_bytes
from nbprod.store import Store


def open_store(kind: str, tmp_path, request) -> Store:
    if kind == "s3":
        request.getfixturevalue("s3")
        return Store(f"s3://nbprod-test/reg-{uuid.uuid4().hex[:8]}")
    return Store(str(tmp_path / "store"))


KINDS = [pytest.param("local", id="folder"), pytest.param("s3", id="s3")]


def model_bytes(c: float = 1.0) -> bytes:
    import joblib
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=c).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    return buffer.getvalue()


def manifest(store: Store, *, seed: int = 0, run_id: str = "20261201T000000Z-000001", model: bytes | None = None,
             gates: dict | None = None) -> dict:
    """A manifest whose products are real objects in ``store``."""
    data = model if model is not None else model_bytes(1.0 + seed)
    card = json.dumps({"seed": seed}).encode()
    products = {}
    for role, name, blob in (("model", "model.joblib", data), ("card", "model_card.json", card)):
        stored = store.put_bytes(blob)
        products[role] = {"name": role, "path": f"outputs/model/{name}", "sha256": stored["sha256"], "size": len(blob)}
    identity = sha256_bytes(json.dumps({r: p["sha256"] for r, p in products.items()}, sort_keys=True).encode())
    return {"model": "penguins", "identity": identity, "run_id": run_id, "task": "train", "products": products,
            "metrics": {"accuracy": 0.95}, "params": {"seed": seed}, "gates": gates}


def report(verdict: str = "passed", *, baseline: int | None = None, differential: bool = True) -> dict:
    rules = [{"rule": "accuracy >= 0.9", "metric": "accuracy", "kind": "absolute", "candidate": 0.95,
              "verdict": "pass" if verdict == "passed" else "fail", "why": "0.95 >= 0.9"}]
    if differential:
        rules.append({"rule": "f1_macro at most 0.01 worse than production", "metric": "f1_macro",
                      "kind": "non_inferiority", "candidate": 0.95, "production": 0.94, "difference": 0.01,
                      "interval": [-0.002, 0.03], "verdict": "pass" if verdict == "passed" else "fail",
                      "why": "interval above -0.01"})
    return {"verdict": verdict, "promotable": verdict == "passed", "on_tie": "keep",
            "baseline": {"alias": "production", "version": baseline} if baseline else None, "rules": rules}


def add_version(store: Store, seed: int, *, verdict: str = "passed", baseline: int | None = None) -> int:
    """Register a version and its evaluation; its number."""
    from nbprod.models import registry

    number, _ = registry.register(store, "penguins", manifest(store, seed=seed))
    registry.evaluate(store, "penguins", number, report(verdict, baseline=baseline), run_id=None,
                      evidence=f"seed-{seed}-{baseline}-{verdict}")
    return number
