"""nbprod.reproduce.judge: the verdict rules, on fabricated records (no store, no kernel)."""

from __future__ import annotations

import copy
import hashlib

import pytest

from nbprod.reproduce.judge import judge
from nbprod.schema import RunRecord, TaskRecord

from test_reproduce_notebooks import A, B, executed


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


NB_OLD = executed(A, started="2026-12-01T10:00:00")
BLOBS = {sha(NB_OLD): NB_OLD}


def record(run_id: str, root: str = A, nb: bytes = NB_OLD, **changes) -> RunRecord:
    BLOBS[sha(nb)] = nb
    task = TaskRecord(
        name="job", kind="notebook", status="succeeded", params={"n": 2},
        products=[{"name": "nb", "path": "out/job.ipynb", "sha256": sha(nb), "size": len(nb)},
                  {"name": "data", "path": "out/job.txt", "sha256": "d" * 64, "size": 4}],
        notebook={"key": f"objects/sha256/{sha(nb)[:2]}/{sha(nb)[2:]}", "sha256": sha(nb), "size": len(nb)},
        scraps={"score": {"value": 0.9}, "loss": {"value": 0.25}, "labels": {"value": ["a", "b"]}},
        source_sha256="c" * 64,
        kernel={"name": "python3", "python": "3.11.9", "packages": {}, "same_env": True},
    )
    base = RunRecord(run_id=run_id, status="succeeded", started_at="t", project={"root": root, "files": {}},
                     git={"commit": "f" * 40, "root": root}, python={"version": "3.11.9"},
                     packages={"numpy": "2.1.0", "pandas": "2.2.3"}, tasks=[task],
                     metrics_spec=[{"name": "score", "goal": "max", "headline": True, "tolerance": 0.01}])
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def verdict(old: RunRecord, new: RunRecord):
    return judge(old, new, fetch_old=BLOBS.__getitem__, fetch_new=BLOBS.__getitem__)


def reproduction(**changes) -> RunRecord:
    """The original re-run elsewhere: another folder, other notebook timings."""
    return record("new", root=B, nb=executed(B, started="2026-12-02T11:00:00"), **changes)


def test_the_same_results_elsewhere_and_later_are_identical():
    found, differences, compared = verdict(record("old"), reproduction())
    assert (found, differences) == ("identical", [])
    assert compared["notebooks"] == 1 and compared["metrics"] == 2 and compared["kernels"] == 1


def test_a_declared_metric_within_its_tolerance_is_equivalent_beyond_it_different():
    new = reproduction()
    new.tasks[0].scraps["score"] = {"value": 0.905}
    found, differences, _ = verdict(record("old"), new)
    assert found == "equivalent"
    assert differences == [{"what": "metric", "task": None, "name": "score", "original": 0.9, "reproduction": 0.905,
                            "level": "equivalent", "note": "within the declared tolerance"}]
    new.tasks[0].scraps["score"] = {"value": 0.95}
    assert verdict(record("old"), new)[0] == "different"


def test_an_undeclared_metric_must_be_exact():
    new = reproduction()
    new.tasks[0].scraps["loss"] = {"value": 0.2500001}
    found, differences, _ = verdict(record("old"), new)
    assert found == "different" and differences[0]["name"] == "loss" and differences[0]["note"] == "changed"


@pytest.mark.parametrize("change, what", [
    (lambda r: r.tasks[0].products[1].update(sha256="e" * 64), "product"),
    (lambda r: r.tasks[0].scraps.update(labels={"value": ["a", "c"]}), "scrap"),
    (lambda r: r.packages.update(numpy="2.1.1"), "package"),
    (lambda r: r.python.update(version="3.12.1"), "python"),
    (lambda r: r.tasks[0].kernel.update(python="3.12.1"), "kernel"),
    (lambda r: r.tasks[0].kernel.update(packages={"numpy": "1.26.4"}), "kernel package"),
    (lambda r: r.tasks[0].params.update(n=3), "parameter"),
    (lambda r: setattr(r.tasks[0], "source_sha256", "0" * 64), "code"),
    (lambda r: setattr(r, "status", "failed"), "status"),
    (lambda r: r.project["files"].update({"env.yaml": {"sha256": "1" * 64}}), "spec file"),
])
def test_anything_else_that_differs_is_different(change, what):
    new = reproduction()
    change(new)
    found, differences, _ = verdict(record("old"), new)
    assert found == "different"
    assert [d["what"] for d in differences] == [what]
    assert all(d["level"] == "different" for d in differences)


def test_a_notebook_that_computed_something_else_is_different_and_one_differing_in_stderr_equivalent():
    changed = record("new", root=B, nb=executed(B, started="t", stdout="rows 343\n"))
    found, differences, _ = verdict(record("old"), changed)
    assert found == "different"
    assert {(d["what"], d["name"]) for d in differences} == {("notebook", "nb")}
    noisy = record("new", root=B, nb=executed(B, started="t", stderr="FutureWarning: soon\n"))
    found, differences, _ = verdict(record("old"), noisy)
    assert found == "equivalent" and differences[0]["level"] == "equivalent"


def test_a_product_that_is_no_notebook_is_compared_by_hash_only():
    old, new = record("old"), reproduction()
    for r, digest in ((old, "a" * 64), (new, "b" * 64)):
        r.tasks[0].products[1].update(path="out/job.txt", sha256=digest)
    found, differences, _ = verdict(old, new)
    assert found == "different" and differences[0]["what"] == "product" and differences[0]["name"] == "data"


def test_judging_reads_no_record_it_is_given_and_changes_none():
    old, new = record("old"), reproduction()
    before = copy.deepcopy((old.to_dict(), new.to_dict()))
    verdict(old, new)
    assert (old.to_dict(), new.to_dict()) == before
