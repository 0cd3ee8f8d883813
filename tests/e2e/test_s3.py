"""The reference pipeline into S3 (moto's server on 127.0.0.1, real HTTP).

One run, a second identical run (what it adds), pull, verify after corruption,
two runs at once, and the server dying mid-upload (spool, then push).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import s3fs
from conftest import git_init
from faultproxy import FaultProxy

from nbprod.store import Store

pytestmark = pytest.mark.e2e


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def keys(store: Store) -> dict[str, int]:
    return {row["key"]: row["size"] for row in store.list_keys("")}


def products(record: dict) -> dict[str, str]:
    return {p["path"]: p["sha256"] for t in record["tasks"] for p in t["products"]}


def test_reference_pipeline_into_s3(s3, reference_project, shell_factory, tmp_path):
    url = f"s3://nbprod-test/team-{uuid.uuid4().hex[:6]}"
    store = Store(url)
    git_init(reference_project)
    sh = shell_factory(reference_project)
    sh.env["NBPROD_STORE"] = url

    first = sh("nbprod", "build")
    assert f"recorded in {url}" in first.stdout
    record = sh.latest()
    assert record["status"] == "succeeded"
    for path, digest in products(record).items():
        assert digest == sha256(reference_project / path)
        assert store.get_bytes(digest) == (reference_project / path).read_bytes()
    after_first = keys(store)
    assert not [k for k in after_first if ".tmp-" in k]

    # a second identical run uploads only what changed: record, summary,
    # executed notebooks; unchanged artifacts cost 0 bytes
    sh("nbprod", "build", "--force")
    second = sh.latest()
    assert second["run_id"] != record["run_id"]
    added = {k: v for k, v in keys(store).items() if k not in after_first}
    added_objects = {k for k in added if k.startswith("objects/")}
    changed = {p: d for p, d in products(second).items() if products(record)[p] != d}
    assert added_objects == {Store.object_key(d) for d in changed.values()}
    unchanged = set(products(second)) - set(changed)
    assert {"outputs/data/penguins.parquet", "outputs/metrics/metrics.json", "outputs/data/holdout.parquet"} <= unchanged
    assert all(p.endswith(".ipynb") or p.endswith(".joblib") for p in changed), changed
    print(f"second identical run added {sum(added.values())} bytes: "
          f"{sum(added[k] for k in added_objects)} in {len(added_objects)} objects ({sorted(changed)})")

    listed = sh.runs()
    assert [r["run_id"] for r in listed] == [second["run_id"], record["run_id"]]

    # pull: the run's products, byte for byte, verified
    dest = tmp_path / "pulled"
    sh("nbprod", "pull", record["run_id"], "--to", str(dest))
    for path, digest in products(record).items():
        assert sha256(dest / path) == digest
    assert (dest / "run" / "notebooks" / "train.ipynb").is_file()

    # verify: sound, then a corrupted object is named with every run using it
    assert "all present with the recorded hash" in sh("nbprod", "store", "verify").stdout
    data_key = Store.object_key(products(record)["outputs/data/penguins.parquet"])
    original = store.read_key(data_key)
    store.fs.pipe_file(store._path(data_key), original[:-1] + bytes([original[-1] ^ 1]))
    bad = sh("nbprod", "store", "verify", check=False)
    assert bad.returncode == 3
    for run_id in (record["run_id"], second["run_id"]):
        assert f"run {run_id}: task 'ingest' product data: {data_key}: corrupt" in bad.stdout
    assert "1 of" in bad.stderr.splitlines()[-1]


def test_two_runs_into_one_store_at_once(s3, reference_project, shell_factory, tmp_path):
    url = f"s3://nbprod-test/both-{uuid.uuid4().hex[:6]}"
    other = tmp_path / "other"
    shutil.copytree(reference_project, other)
    for project in (reference_project, other):
        git_init(project)
    shells = [shell_factory(p) for p in (reference_project, other)]
    procs = []
    for sh in shells:
        env = {**sh.env, "NBPROD_STORE": url}
        procs.append(subprocess.Popen(["nbprod", "build"], cwd=sh.cwd, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [(out[-1500:], err[-3000:]) for out, err in outs]
    sh = shells[0]
    sh.env["NBPROD_STORE"] = url
    runs = sh.runs()
    assert len(runs) == 2 and all(r["status"] == "succeeded" for r in runs)
    assert "all present with the recorded hash" in sh("nbprod", "store", "verify").stdout


def test_server_dying_mid_upload_spools_the_run_and_push_completes_it(s3, reference_project, shell_factory, tmp_path, monkeypatch):
    url = f"s3://nbprod-test/cut-{uuid.uuid4().hex[:6]}"
    proxy = FaultProxy(urlsplit(s3.endpoint).port)
    try:
        git_init(reference_project)
        sh = shell_factory(reference_project)
        sh.env.update(NBPROD_STORE=url, AWS_ENDPOINT_URL=proxy.endpoint, NBPROD_STORE_TIMEOUT="2")
        proxy.cut_on_put(3, b"/objects/")  # the server dies while receiving the 3rd object
        built = sh("nbprod", "build")
        assert proxy.cut_done.is_set()
        assert "cannot reach the store" in built.stderr and proxy.endpoint in built.stderr
        assert "kept in the local spool" in built.stderr and "nbprod push" in built.stderr

        direct = Store(url)  # the server itself, not through the proxy
        assert direct.run_ids() == []  # no listed run
        for row in direct.list_keys("objects"):  # no corrupt object under a final name
            digest = row["key"].replace("objects/sha256/", "").replace("/", "")
            assert hashlib.sha256(direct.read_key(row["key"])).hexdigest() == digest

        proxy.restore()
        pushed = sh("nbprod", "push")
        assert f"pushed 1 run(s) to {url}" in pushed.stdout
        runs = sh.runs()
        assert len(runs) == 1 and runs[0]["status"] == "succeeded"
        assert "all present with the recorded hash" in sh("nbprod", "store", "verify").stdout
        assert not any(Path(sh.env["NBPROD_SPOOL"]).glob("*/runs"))
    finally:
        proxy.close()
        s3fs.S3FileSystem.clear_instance_cache()
