"""Runs with real stored objects, written the way the recorder writes them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nbprod.files import sha256_bytes
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)


def store_run(store: Store, workdir: Path, *, minute: int = 0, model: bytes = b"model-v1", metrics: bytes | None = None,
              status: str = "succeeded") -> RunRecord:
    """Store two products, a large scrap and an executed notebook, then the record."""
    moment = BASE + timedelta(minutes=minute)
    run_id = new_run_id(moment)
    workdir.mkdir(parents=True, exist_ok=True)
    files = {
        "outputs/model/model.joblib": model,
        "outputs/metrics/metrics.json": metrics if metrics is not None else b'{"accuracy": 0.97}',
    }
    products = []
    for rel, data in files.items():
        path = workdir / f"{run_id}-{Path(rel).name}"
        path.write_bytes(data)
        stored = store.put_file(path)
        products.append({"name": Path(rel).stem, "path": rel, "sha256": stored["sha256"], "size": stored["size"],
                         "partial": status != "succeeded"})
    table = store.put_bytes(json.dumps({"rows": list(range(50))}).encode())
    notebook = json.dumps({"cells": [], "metadata": {"run": run_id}, "nbformat": 4, "nbformat_minor": 5}).encode()
    nb_key = store.run_key(run_id, "notebooks", "train.ipynb")
    store.write_key(nb_key, notebook)
    record = RunRecord(
        run_id=run_id,
        status=status,
        started_at=moment.isoformat(),
        duration_s=3.0,
        tasks=[
            TaskRecord(
                name="train",
                kind="notebook",
                status="succeeded" if status == "succeeded" else "failed",
                products=products,
                notebook={"key": nb_key, "sha256": sha256_bytes(notebook), "size": len(notebook)},
                scraps={
                    "accuracy": {"value": 0.97},
                    "table": {"artifact": {"sha256": table["sha256"], "size": table["size"]}},
                },
            )
        ],
    )
    store.write_record(record)
    return record


@pytest.fixture(params=["local", "s3"])
def local_and_s3_store(request, tmp_path):
    """The store a test runs against twice: a temp folder and the S3 server on 127.0.0.1.
    Import it as ``store`` (``from runfactory import local_and_s3_store as store``)."""
    if request.param == "s3":
        request.getfixturevalue("s3")
        return Store(f"s3://nbprod-test/t-{uuid.uuid4().hex[:8]}")
    return Store(str(tmp_path / "store"))
