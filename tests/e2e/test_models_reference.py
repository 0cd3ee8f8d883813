"""The reference project's model registry end to end: real builds, real kernels, one store.

Two builds of a copy of the reference project (one survey year, the smallest batch whose
models still pass the gates): the first registers penguins v1, decided by the absolute gates
alone (evaluate finds no production model); v1 is promoted; the second, with another C,
registers v2, whose evaluate scored v1 beside it on the same holdout rows, so the rules
against production are decided on paired predictions. Then `notebooks/score.ipynb` scores a
batch with the production model, and refuses a batch that breaks the model's input schema.

The builds run once for the module (about two minutes of kernels); the tests read what
they left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Shell, copy_reference_project, git_init

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

YEARS = ("--env--years", "2008")  # 114 rows, a 29-row holdout: every gate still passes
FIRST_C, SECOND_C = "0.5", "1.0"  # v2 is the less regularized model: a lower log loss than v1
SCORE = ("nbprod", "run", "notebooks/score.ipynb", "outputs/notebooks/score.ipynb")


@dataclass
class Built:
    sh: Shell
    first: dict  # run records
    second: dict
    first_predictions: dict  # evaluate's predictions.json after each build
    second_predictions: dict
    first_out: str  # the builds' stdout + stderr
    second_out: str
    promoted: str


def last_line(text: str) -> str:
    """nbprod's last line (an orphaned kernel's own goodbye is not nbprod's)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("[IPKernelApp]")]
    return lines[-1] if lines else ""


def scraps(record: dict, task: str) -> dict:
    found = next(t for t in record["tasks"] if t["name"] == task)
    return {name: scrap["value"] for name, scrap in found["scraps"].items() if "value" in scrap}


def model(sh: Shell, ref: str) -> dict:
    return sh.nbprod_json("models", "show", ref)


def rules(version: dict) -> dict[str, dict]:
    return {rule["rule"]: rule for rule in version["gates"]["rules"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("models")
    project = copy_reference_project(root / "project")  # module-scoped: the reference_project fixture is per test
    git_init(project)
    sh = Shell(project, root / "store")
    sh.env["NBPROD_CACHE"] = str(root / "cache")  # load_model's downloads: never the user's ~/.cache
    predictions = project / "outputs/metrics/predictions.json"

    first = sh("nbprod", "build", *YEARS, "--env--C", FIRST_C)
    first_record, first_predictions = sh.latest(), json.loads(predictions.read_text())
    promoted = sh("nbprod", "models", "promote", "penguins", "1", "--reason", "first").stdout
    second = sh("nbprod", "build", *YEARS, "--env--C", SECOND_C)
    return Built(sh=sh, first=first_record, second=sh.latest(), first_predictions=first_predictions,
                 second_predictions=json.loads(predictions.read_text()), first_out=first.stdout + first.stderr,
                 second_out=second.stdout + second.stderr, promoted=promoted)


def test_first_build_registers_v1_decided_by_the_absolute_gates_alone(built):
    record = built.first
    assert record["status"] == "succeeded"
    assert "model penguins v1 registered; gates passed" in built.first_out

    # train's products make the version: the model, its card and its input schema, by hash
    train = next(t for t in record["tasks"] if t["name"] == "train")
    products = {p["name"]: p for p in train["products"]}
    assert products["schema"]["path"] == "outputs/model/input_schema.json"
    schema = json.loads((built.sh.cwd / "outputs/model/input_schema.json").read_text())
    assert schema["schema_type"] == "dataframe" and set(schema["columns"]) == {
        "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "island", "sex"}
    v1 = model(built.sh, "penguins:1")
    assert v1["version"] == 1 and v1["run_id"] == record["run_id"]
    assert {role: p["sha256"] for role, p in v1["products"].items()} == {
        role: products[role]["sha256"] for role in ("model", "card", "schema")}

    # evaluate found no production model: its predictions have no production part ...
    assert built.first_predictions["production"] is None
    assert built.first_predictions["labels"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert built.first_predictions["rows"] == len(built.first_predictions["y_true"]) == 29
    evaluate = scraps(record, "evaluate")
    assert {"accuracy", "f1_macro", "log_loss"} <= set(evaluate) and "production_version" not in evaluate
    assert 0 < evaluate["log_loss"] <= 0.3 and evaluate["accuracy"] >= 0.9

    # ... so the absolute rules decide and the rules against production are skipped
    gates = rules(v1)
    assert v1["gates"]["verdict"] == "passed"
    assert gates["accuracy >= 0.9"]["verdict"] == "pass" and gates["log_loss <= 0.3"]["verdict"] == "pass"
    assert gates["log_loss <= 0.3"]["candidate"] == pytest.approx(evaluate["log_loss"])
    differential = [rule for rule in gates.values() if rule["kind"] != "absolute"]
    assert {rule["metric"] for rule in differential} == {"f1_macro", "log_loss"}
    assert all(rule["verdict"] == "skipped" for rule in differential)

    assert "penguins@production" in built.promoted and "v1" in built.promoted


def test_second_build_scores_candidate_and_production_on_the_same_rows(built):
    record, predictions = built.second, built.second_predictions
    assert record["status"] == "succeeded"
    assert "model penguins v2 registered" in built.second_out
    statuses = {t["name"]: t["status"] for t in record["tasks"]}
    assert statuses == {"ingest": "skipped", "validate": "skipped", "train": "succeeded", "evaluate": "succeeded"}

    # the production part is v1, scored on the same holdout rows v1 was evaluated on
    assert predictions["production"]["version"] == 1
    assert predictions["y_true"] == built.first_predictions["y_true"]
    assert predictions["labels"] == built.first_predictions["labels"]
    assert predictions["production"]["pred"] == built.first_predictions["candidate"]["pred"]
    np.testing.assert_allclose(predictions["production"]["proba"], built.first_predictions["candidate"]["proba"])
    assert not np.allclose(predictions["candidate"]["proba"], predictions["production"]["proba"])  # another C
    assert scraps(record, "evaluate")["production_version"] == 1

    # v2's gate report: the rules against production decided on the paired rows, not skipped
    v1, v2 = model(built.sh, "penguins:1"), model(built.sh, "penguins:2")
    assert v2["version"] == 2 and v2["run_id"] == record["run_id"] and v2["params"]["C"] == float(SECOND_C)
    gates = rules(v2)
    differential = [rule for rule in gates.values() if rule["kind"] != "absolute"]
    assert {rule["metric"] for rule in differential} == {"f1_macro", "log_loss"}
    for rule in differential:
        assert rule["verdict"] in ("pass", "fail"), rule
        low, high = rule["interval"]
        assert low <= rule["difference"] <= high, rule
        # production's side is v1's own evaluation: the same rows, the same model
        assert rule["production"] == pytest.approx(v1["metrics"][rule["metric"]])
        assert rule["candidate"] == pytest.approx(v2["metrics"][rule["metric"]])
    assert v2["metrics"]["log_loss"] < v1["metrics"]["log_loss"]  # the less regularized model is surer
    assert gates["log_loss at most 0.01 worse than production"]["verdict"] == "pass"
    assert v2["gates"]["verdict"] == "passed"


def test_score_notebook_scores_a_batch_with_the_production_model(built):
    sh = built.sh
    done = sh(*SCORE, "-p", "years", "2009")
    assert last_line(done.stderr).startswith("nbprod: run ") and "succeeded" in last_line(done.stderr)

    scores = pd.read_parquet(sh.cwd / "outputs/scores/scores.parquet")
    assert len(scores) == 120  # the 2009 survey
    assert set(scores["model_version"]) == {"penguins:1"}  # production, not the newer v2
    assert set(scores["year"]) == {2009}
    assert set(scores["predicted_species"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    proba = scores[["proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]]
    assert proba.sum(axis=1).round(6).eq(1).all()

    record = sh.latest()
    assert record["status"] == "succeeded" and record["command"][:2] == ["nbprod", "run"]
    (task,) = record["tasks"]
    assert (task["name"], task["kind"], task["params"]) == ("score", "papermill", {"years": 2009})
    glued = scraps(record, "score")
    assert glued["n_scored"] == 120 and glued["model_version"] == "penguins:1"
    assert [i["name"] for i in record["inputs"]] == ["penguins.csv"]
    # not a task of the training pipeline: a build does not run it
    assert "score" not in {t["name"] for t in built.second["tasks"]}


def test_score_notebook_refuses_a_batch_that_breaks_the_model_schema(built):
    sh = built.sh
    csv = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_text().splitlines()
    header = csv[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "sex"]
    rows = [line.split(",") for line in csv if line.endswith(",2009") or line == csv[0]]
    (sh.cwd / "nosex.csv").write_text("\n".join(",".join(row[i] for i in keep) for row in rows) + "\n")
    out = Path("outputs/scores/refused.parquet")

    done = sh(*SCORE, "-p", "years", "2009", "-p", "source", "nosex.csv", "-y", f"product: {{scores: {out}}}",
              check=False)

    assert done.returncode == 1, done.stderr
    line = last_line(done.stderr)
    assert line.startswith("nbprod: run ") and "failed: task 'score'" in line, line
    assert line.endswith("InvalidDataError: batch does not match the input schema of penguins:1: "
                         "sex failed column_in_dataframe"), line
    assert not (sh.cwd / out).exists()  # refused before anything was predicted
    record = sh.latest()
    assert record["status"] == "failed" and "InvalidDataError" in record["error"]["ename"]
