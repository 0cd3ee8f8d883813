"""Comparing two real builds of the reference project: `nbprod runs diff` and `runs ls` filters."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import resources

import pytest
from conftest import git_init

pytestmark = pytest.mark.e2e


def git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_diff_of_two_builds_with_other_data_and_parameters(reference_project, shell_factory):
    # the data as a project file, so a commit can change it
    csv = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_text().splitlines()
    data = reference_project / "data" / "penguins.csv"
    data.parent.mkdir()
    data.write_text("\n".join(csv) + "\n")
    first_commit = git_init(reference_project)
    sh = shell_factory(reference_project)

    sh("nbprod", "build", "--env--source", "data/penguins.csv")
    old_sha = hashlib.sha256(data.read_bytes()).hexdigest()

    data.write_text("\n".join(csv[:1] + csv[1::2]) + "\n")  # every other row: a smaller batch
    git(reference_project, "commit", "-q", "-am", "half the rows")
    second_commit = git(reference_project, "rev-parse", "HEAD")
    # --force: ploomber does not see a changed input file, only changed code and parameters
    sh("nbprod", "build", "--force", "--env--source", "data/penguins.csv", "--env--C", "0.01")
    new_sha = hashlib.sha256(data.read_bytes()).hexdigest()

    out = sh("nbprod", "runs", "diff", "latest~1", "latest", "--json").stdout
    assert out == sh("nbprod", "runs", "diff", "latest~1", "latest", "--json").stdout  # byte-identical
    diff = json.loads(out)
    runs = sh.runs()
    assert (diff["old"], diff["new"]) == (runs[1]["run_id"], runs[0]["run_id"])
    assert diff["status"] == {"old": "succeeded", "new": "succeeded"}

    assert diff["commit"]["old"] == first_commit and diff["commit"]["new"] == second_commit
    assert diff["commit"]["changed"] is True and diff["commit"]["files"] == ["data/penguins.csv"]
    assert diff["params"] == [{"task": "train", "name": "C", "old": 1.0, "new": 0.01}]
    assert diff["packages"] == []
    assert diff["inputs"] == [{"name": "penguins.csv", "old": old_sha, "new": new_sha}]
    changed_products = {(p["task"], p["name"]) for p in diff["products"]}
    assert {("ingest", "data"), ("train", "model"), ("evaluate", "metrics")} <= changed_products

    metrics = diff["metrics"]
    assert [m["name"] for m in metrics[:2]] == ["accuracy", "f1_macro"]  # headline first (nbprod.yaml)
    for m in metrics[:2]:
        assert m["headline"] is True and m["goal"] == "max"
        expected = "unchanged" if m["delta"] == 0 else ("improved" if m["delta"] > 0 else "regressed")
        assert m["verdict"] == expected, m
    n_test = next(m for m in metrics if m["name"] == "n_test")
    assert n_test["verdict"] == "changed" and n_test["new"] < n_test["old"] and n_test["goal"] is None
    assert sum(diff["summary"][v] for v in ("improved", "regressed", "unchanged", "changed")) == len(metrics)

    text = sh("nbprod", "runs", "diff").stdout  # the same two runs, for humans
    assert "1 file(s) changed between the commits" in text and "data/penguins.csv" in text
    assert "accuracy *" in text and "inputs (sha256)" in text

    assert [r["run_id"] for r in sh.nbprod_json("runs", "ls", "--param", "C=0.01")] == [diff["new"]]
    assert [r["run_id"] for r in sh.nbprod_json("runs", "ls", "--task", "ingest", "--status", "succeeded")] == \
        [diff["new"], diff["old"]]
    table = sh("nbprod", "runs", "ls").stdout
    assert table.splitlines()[0].split()[7:10] == ["accuracy", "f1_macro", "other"]
