"""Products shared across machines through the store (S3 server), end to end.

Machine 1 builds the reference project with ``pipeline.shared.yaml`` (pipeline.yaml
plus ``clients: File: nbprod.products.client``); machine 2, a fresh copy with empty
outputs and the same NBPROD_STORE, runs ``ploomber task evaluate`` and fetches
what is up to date in the store instead of running it; machine 3 runs a whole
``ploomber build`` and its run records the fetched tasks as ``fetched``.

Executed notebooks carry papermill's start/end times, so a notebook product that is
byte-identical to machine 1's was fetched, not executed again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from nbprod.store import Store

pytestmark = pytest.mark.e2e

SHARED = ("-e", "pipeline.shared.yaml")
PRODUCTS = {
    "ingest": ["outputs/notebooks/ingest.ipynb", "outputs/data/penguins.parquet"],
    "validate": ["outputs/notebooks/validate.ipynb", "outputs/data/validation.json"],
    "train": [
        "outputs/notebooks/train.ipynb",
        "outputs/model/model.joblib",
        "outputs/model/model_card.json",
        "outputs/data/holdout.parquet",
    ],
    "evaluate": [
        "outputs/notebooks/evaluate.ipynb",
        "outputs/metrics/metrics.json",
        "outputs/metrics/confusion_matrix.png",
    ],
}


def files(root: Path, task: str) -> dict[str, bytes]:
    """A task's products and ploomber's metadata beside each."""
    found = {}
    for rel in PRODUCTS[task]:
        path = root / rel
        found[rel] = path.read_bytes()
        meta = path.with_name(f".{path.name}.metadata")
        found[str(Path(rel).with_name(meta.name))] = meta.read_bytes()
    return found


def absent(root: Path, task: str) -> bool:
    return not any((root / rel).exists() for rel in PRODUCTS[task])


def test_second_machine_fetches_upstream_products_instead_of_running(s3, reference_project, shell_factory, tmp_path):
    url = "s3://nbprod-test/team"
    shutil.copy2(REPO / "pipeline.shared.yaml", reference_project / "pipeline.shared.yaml")
    machine2, machine3 = tmp_path / "machine2", tmp_path / "machine3"
    shutil.copytree(reference_project, machine2)  # before machine 1 builds: no outputs/
    shutil.copytree(reference_project, machine3)
    one, two, three = (shell_factory(p) for p in (reference_project, machine2, machine3))
    for sh in (one, two, three):
        sh.env.update(s3.env(), NBPROD_STORE=url)  # both machines: the same S3 store

    one("ploomber", "build", *SHARED)
    built = {task: files(reference_project, task) for task in PRODUCTS}
    store = Store(url)
    keys = {row["key"] for row in store.list_keys("products")}
    for task, found in built.items():
        assert {f"products/{rel}" for rel in found} <= keys, task
    assert not any(".tmp-" in key for key in keys)
    first_run = one.latest()["run_id"]

    # 1. evaluate is up to date in the store: fetched, nothing executed, upstream untouched
    done = two("ploomber", "task", "evaluate", *SHARED)
    assert "'evaluate' task executed successfully" in done.stdout
    assert files(machine2, "evaluate") == built["evaluate"]
    assert all(absent(machine2, task) for task in ("ingest", "validate", "train"))

    # 2. evaluate changed on machine 2: its upstream (train) is up to date in the store,
    #    so it is fetched, not re-run; ingest and validate are not needed at all
    nb_path = machine2 / "notebooks" / "evaluate.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('print("evaluated on machine 2")'))
    nbformat.write(nb, str(nb_path))
    two("ploomber", "task", "evaluate", *SHARED)
    assert files(machine2, "train") == built["train"], "train ran again instead of being fetched"
    assert absent(machine2, "ingest") and absent(machine2, "validate")
    executed = (machine2 / "outputs/notebooks/evaluate.ipynb").read_bytes()
    assert executed != built["evaluate"]["outputs/notebooks/evaluate.ipynb"]
    assert b"evaluated on machine 2" in executed
    # same model, same holdout: the same metrics
    metrics = json.loads((machine2 / "outputs/metrics/metrics.json").read_text())
    assert metrics == json.loads(built["evaluate"]["outputs/metrics/metrics.json"])
    assert metrics["accuracy"] > 0.9
    # the new evaluate is what the store holds now (ploomber uploads after a run)
    pointer = json.loads(store.read_key("products/outputs/notebooks/evaluate.ipynb"))
    assert store.get_bytes(pointer["sha256"]) == executed  # stored by content, behind a pointer
    meta = "products/outputs/notebooks/.evaluate.ipynb.metadata"
    assert store.read_key(meta) == (machine2 / "outputs/notebooks/.evaluate.ipynb.metadata").read_bytes()

    # `ploomber task` records no run (only a DAG build calls on_finish)
    assert one.latest()["run_id"] == first_run

    # 3. a full build on a third fresh machine: what is up to date in the store is fetched
    #    and recorded as such; evaluate's code differs from the store's (machine 2's), so it runs
    three("ploomber", "build", *SHARED)
    run = three.latest()
    assert run["run_id"] != first_run and run["status"] == "succeeded"
    statuses = {t["name"]: t["status"] for t in run["tasks"]}
    assert statuses == {"ingest": "fetched", "validate": "fetched", "train": "fetched", "evaluate": "succeeded"}
    for task in ("ingest", "validate", "train"):
        assert files(machine3, task) == built[task], f"{task} was not fetched byte for byte"
