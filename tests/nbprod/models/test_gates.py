"""Gates decided on real predictions files: absolute rules, paired tests against production, ties.

Every file is written with ``write_predictions`` and read back, as nbprod reads the stored
product. The penguins cases fit the reference project's real models (``penguins.model``) on
palmerpenguins' survey years and score them on all 2009 rows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbprod.models import gates
from nbprod.models.gates import METRICS, describe, evaluate, failure_line
from nbprod.models.predictions import read_predictions, write_predictions
from nbprod.project import GateRule, ModelSpec

LABELS = ["adelie", "chinstrap", "gentoo"]


def spec(*rules: GateRule, **options) -> ModelSpec:
    return ModelSpec(name="penguins", task="train", model="model", evaluation="evaluate.predictions",
                     gates=tuple(rules), **options)


def at_least(metric, value, op=">="):
    return GateRule(metric, op=op, value=value)


def not_worse(metric, margin=0.01):
    return GateRule(metric, vs="production", margin=margin)


def better(metric):
    return GateRule(metric, vs="production", test="superiority")


def scored(truth: np.ndarray, wrong) -> dict:
    """A model right on every row but ``wrong`` (there it says the next class), 0.8 sure of its answer."""
    codes = truth.copy()
    codes[list(wrong)] = (codes[list(wrong)] + 1) % 3
    proba = np.full((len(truth), 3), 0.1)
    proba[np.arange(len(truth)), codes] = 0.8
    return {"pred": np.array(LABELS)[codes], "proba": proba}


def predictions(tmp_path, rows: int, candidate_wrong, production_wrong=None, *, version=2):
    """A real predictions file of ``rows`` rows (classes in turn), read back."""
    truth = np.arange(rows) % 3
    production = None
    if production_wrong is not None:
        production = {"version": version, **scored(truth, production_wrong)}
    path = write_predictions(tmp_path / "predictions.json", y_true=np.array(LABELS)[truth], labels=LABELS,
                             candidate=scored(truth, candidate_wrong), production=production)
    return read_predictions(path.read_bytes(), source="evaluate.predictions")


def by_rule(report) -> dict:
    return {rule["rule"]: rule for rule in report["rules"]}


# --- absolute rules -------------------------------------------------------------------------

def test_absolute_rules_pass_and_fail_with_the_operator_as_written(tmp_path):
    found = predictions(tmp_path, 4, candidate_wrong=[3])  # accuracy exactly 0.75
    report = evaluate(spec(at_least("accuracy", 0.75), at_least("accuracy", 0.75, ">"),
                           at_least("accuracy", 0.75, "<="), at_least("accuracy", 0.75, "<")), found, {})
    assert [r["verdict"] for r in report["rules"]] == ["pass", "fail", "pass", "fail"]
    assert report["rules"][0]["candidate"] == 0.75 and report["rules"][0]["kind"] == "absolute"
    assert report["rules"][1]["why"] == "accuracy 0.75 is not > 0.75 on the 4 rows of the predictions file"
    assert report["verdict"] == "failed" and not report["promotable"]


def test_absolute_rules_read_the_runs_scraps_when_the_file_cannot_score_them(tmp_path):
    found = predictions(tmp_path, 30, candidate_wrong=range(5))
    scraps = {"accuracy": 0.1, "coverage": 0.97, "auc": float("nan"), "label": "x"}
    report = evaluate(spec(at_least("accuracy", 0.8), at_least("coverage", 0.95), at_least("auc", 0.5),
                           at_least("recall_at_10", 0.5), at_least("label", 1)), found, scraps)
    rules = by_rule(report)
    assert rules["accuracy >= 0.8"]["verdict"] == "pass"  # the file's 25/30, not the scrap's 0.1
    assert rules["accuracy >= 0.8"]["candidate"] == pytest.approx(25 / 30)
    assert rules["coverage >= 0.95"]["verdict"] == "pass" and "(the run's scrap)" in rules["coverage >= 0.95"]["why"]
    assert rules["auc >= 0.5"]["verdict"] == "fail" and rules["auc >= 0.5"]["why"] == "auc is NaN (the run's scrap)"
    assert rules["recall_at_10 >= 0.5"]["verdict"] == "fail"
    assert "recall_at_10 was not measured" in rules["recall_at_10 >= 0.5"]["why"]
    assert rules["label >= 1"]["verdict"] == "fail" and "not a number" in rules["label >= 1"]["why"]


def test_a_metric_measured_nowhere_fails_even_without_a_predictions_file():
    report = evaluate(spec(at_least("accuracy", 0.9)), None, {})
    assert report["verdict"] == "failed" and report["rows"] is None and report["baseline"] is None
    assert report["rules"][0]["why"] == "accuracy was not measured: the run has no scalar scrap 'accuracy'"
    assert evaluate(spec(at_least("accuracy", 0.9)), None, {"accuracy": 0.93})["verdict"] == "passed"


# --- against production ---------------------------------------------------------------------

RULES = (not_worse("accuracy"), not_worse("f1_macro"), not_worse("log_loss"), better("accuracy"), better("f1_macro"),
         better("log_loss"), not_worse("balanced_accuracy"), not_worse("precision_macro"), not_worse("recall_macro"))


def test_a_clearly_better_candidate_passes_every_rule(tmp_path):
    found = predictions(tmp_path, 300, candidate_wrong=range(0, 15), production_wrong=range(100, 175))
    report = evaluate(spec(*RULES), found, {})
    assert report["verdict"] == "passed" and report["promotable"] and report["note"] is None
    assert report["baseline"] == {"alias": "production", "version": 2} and report["rows"] == 300
    for rule in report["rules"]:
        assert rule["verdict"] == "pass", rule
        assert rule["difference"] > 0 and rule["interval"][0] > 0, rule  # > 0: the candidate is better
    accuracy = by_rule(report)["accuracy better than production"]
    assert accuracy["difference"] == pytest.approx(0.2) and accuracy["p_value"] < 1e-9
    log_loss = by_rule(report)["log_loss at most 0.01 worse than production"]
    assert log_loss["candidate"] < log_loss["production"]  # lower is better, and the difference says better


def test_a_clearly_worse_candidate_fails_beyond_the_margin(tmp_path):
    found = predictions(tmp_path, 300, candidate_wrong=range(100, 175), production_wrong=range(0, 15))
    report = evaluate(spec(*RULES), found, {})
    assert report["verdict"] == "failed" and not report["promotable"]
    for rule in report["rules"]:
        assert rule["verdict"] == "fail", rule
        assert rule["interval"][1] < -0.01, rule
    accuracy = by_rule(report)["accuracy better than production"]
    assert accuracy["p_value"] == pytest.approx(1.0)
    assert "less accurate than production" in accuracy["why"]


def test_a_candidate_within_chance_of_production_ties(tmp_path):
    """Each model is right on 5 rows the other gets wrong: 0 apart, and the data cannot tell."""
    found = predictions(tmp_path, 120, candidate_wrong=range(0, 10), production_wrong=range(5, 15))
    report = evaluate(spec(not_worse("accuracy"), not_worse("log_loss"), better("accuracy"), better("f1_macro")),
                      found, {})
    assert report["verdict"] == "tie" and not report["promotable"]
    for rule in report["rules"]:
        lo, hi = rule["interval"]
        assert rule["verdict"] == "tie" and rule["difference"] == pytest.approx(0, abs=1e-12), rule
        assert lo < -0.01 < hi if rule["kind"] == "non_inferiority" else lo < 0 < hi, rule
    accuracy = by_rule(report)["accuracy better than production"]
    assert accuracy["p_value"] == pytest.approx(0.623046875)  # P(X >= 5), X ~ Binomial(10, 1/2)
    assert "alone is right on 5 rows, production alone on 5" in accuracy["why"]


def test_a_small_margin_against_a_slightly_worse_candidate_is_decided_by_the_interval(tmp_path):
    """2 rows worse out of 600: inside a 0.05 margin (pass), outside none (tie), never by chance."""
    found = predictions(tmp_path, 600, candidate_wrong=range(0, 12), production_wrong=range(2, 12))
    wide, none = evaluate(spec(not_worse("accuracy", 0.05), not_worse("accuracy", 0.0)), found, {})["rules"]
    assert wide["verdict"] == "pass" and wide["interval"][0] > -0.05
    assert none["verdict"] == "tie" and none["interval"][1] == 0.0  # never better, sometimes equal


def test_identical_predictions_pass_non_inferiority_and_tie_superiority(tmp_path):
    found = predictions(tmp_path, 60, candidate_wrong=range(7), production_wrong=range(7))
    report = evaluate(spec(not_worse("f1_macro", 0.0), not_worse("log_loss"), better("accuracy"), better("f1_macro")),
                      found, {})
    verdicts = [rule["verdict"] for rule in report["rules"]]
    assert verdicts == ["pass", "pass", "tie", "tie"]
    assert all(rule["interval"] == [0.0, 0.0] for rule in report["rules"])
    assert by_rule(report)["accuracy better than production"]["p_value"] == 1.0


def test_without_a_production_model_the_absolute_gates_alone_decide(tmp_path):
    found = predictions(tmp_path, 30, candidate_wrong=range(2))
    report = evaluate(spec(at_least("accuracy", 0.9), not_worse("f1_macro"), better("accuracy")), found, {})
    assert report["verdict"] == "passed" and report["promotable"] and report["baseline"] is None
    assert report["note"] == "no production model yet: the absolute gates alone decide"
    assert [r["verdict"] for r in report["rules"]] == ["pass", "skipped", "skipped"]
    failing = evaluate(spec(at_least("accuracy", 0.99), not_worse("f1_macro")), found, {})
    assert failing["verdict"] == "failed" and failing["note"] == gates.NO_PRODUCTION


def test_a_comparison_nothing_can_decide_fails(tmp_path):
    found = predictions(tmp_path, 30, candidate_wrong=range(2), production_wrong=range(3))
    no_file = evaluate(spec(not_worse("f1_macro")), None, {"f1_macro": 0.99})["rules"][0]
    assert no_file["verdict"] == "fail" and "needs the paired predictions file" in no_file["why"]
    unknown, other_alias = evaluate(spec(not_worse("auc"), GateRule("f1_macro", vs="staging")), found, {})["rules"]
    assert unknown["verdict"] == "fail" and unknown["why"].endswith("use one of " + ", ".join(METRICS))
    assert other_alias["verdict"] == "fail" and "use `vs: production`" in other_alias["why"]
    truth = np.arange(30) % 3
    path = write_predictions(tmp_path / "no-proba.json", y_true=truth, candidate={"pred": truth},
                             production={"version": 1, "pred": truth})
    no_proba = evaluate(spec(not_worse("log_loss")), read_predictions(path), {})["rules"][0]
    assert no_proba["verdict"] == "fail"
    assert no_proba["why"] == "log_loss needs proba for both models in the predictions file"


def test_on_tie_promote_makes_a_tie_promotable_and_keep_does_not(tmp_path):
    found = predictions(tmp_path, 120, candidate_wrong=range(0, 10), production_wrong=range(5, 15))
    rules = (at_least("accuracy", 0.8), not_worse("accuracy"))
    keep = evaluate(spec(*rules, on_tie="keep"), found, {})
    promote = evaluate(spec(*rules, on_tie="promote"), found, {})
    assert keep["verdict"] == promote["verdict"] == "tie"
    assert (keep["promotable"], promote["promotable"]) == (False, True)
    assert (keep["on_tie"], promote["on_tie"]) == ("keep", "promote")
    assert failure_line(promote, model="penguins", version=3) is None
    assert failure_line(keep, model="penguins", version=3).startswith(
        'model penguins v3: gate "accuracy at most 0.01 worse than production" tied (on_tie: keep): difference 0, ')


def test_a_spec_without_gates_passes_and_says_so(tmp_path):
    report = evaluate(spec(), predictions(tmp_path, 9, candidate_wrong=[0]), {})
    assert report["verdict"] == "passed" and report["promotable"] and report["rules"] == []
    assert report["note"] == "no gates declared: nothing to refuse"


def test_the_same_seed_gives_the_same_report_and_another_seed_other_intervals(tmp_path):
    found = predictions(tmp_path, 120, candidate_wrong=range(0, 10), production_wrong=range(5, 17))
    rules = (not_worse("f1_macro"), not_worse("log_loss"), better("accuracy"))

    def without_time(report):
        return {k: v for k, v in report.items() if k != "seconds"}

    first, again = evaluate(spec(*rules, seed=7), found, {}), evaluate(spec(*rules, seed=7), found, {})
    assert json.dumps(without_time(first)) == json.dumps(without_time(again))
    other = evaluate(spec(*rules, seed=8), found, {})
    assert [r["interval"] for r in other["rules"]] != [r["interval"] for r in first["rules"]]
    assert first["seed"] == 7 and other["seed"] == 8
    wider = evaluate(spec(*rules, seed=7, confidence=0.99, resamples=500), found, {})
    assert wider["confidence"] == 0.99 and wider["resamples"] == 500
    for narrow, wide in zip(first["rules"], wider["rules"]):
        assert wide["interval"][0] <= narrow["interval"][0] and wide["interval"][1] >= narrow["interval"][1]


def test_the_report_is_plain_json(tmp_path):
    found = predictions(tmp_path, 50, candidate_wrong=range(3), production_wrong=range(3, 9))
    report = evaluate(spec(at_least("accuracy", 0.9), *RULES, at_least("nothing", 1)), found, {"nothing": float("inf")})
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert set(report) == {"verdict", "promotable", "on_tie", "baseline", "note", "rows", "confidence", "resamples",
                           "seed", "seconds", "rules"}
    assert set(report["rules"][0]) == {"rule", "metric", "kind", "candidate", "production", "difference", "interval",
                                       "p_value", "verdict", "why"}


def test_importing_the_gates_imports_no_numeric_library():
    import subprocess
    import sys

    code = ("import sys, nbprod.models.gates, nbprod.models.predictions; "
            "print(sorted(m for m in ('numpy', 'scipy', 'sklearn', 'tabulate', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- the resampled metrics are sklearn's ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(METRICS))
def test_the_resampled_metric_equals_sklearns_on_every_row(name, tmp_path):
    """The bootstrap's numpy statistic, on the original rows and on one resample, is sklearn's value."""
    rng = np.random.default_rng(5)
    rows = 90
    if name in ("mae", "rmse", "r2"):
        truth = rng.normal(size=rows)
        candidate, production = truth + rng.normal(scale=0.3, size=rows), truth + rng.normal(scale=0.5, size=rows)
        path = write_predictions(tmp_path / "r.json", y_true=truth, candidate={"pred": candidate},
                                 production={"version": 1, "pred": production})
    else:  # unsorted labels; one class never predicted by production; one class absent from y_true
        labels = ["c", "a", "b", "d"]
        truth = rng.choice(["a", "b", "c"], size=rows)
        proba = [rng.dirichlet(np.ones(4), size=rows) for _ in range(2)]
        candidate = np.where(rng.random(rows) < 0.7, truth, rng.choice(labels, size=rows))
        production = np.where(rng.random(rows) < 0.6, truth, "a")
        path = write_predictions(tmp_path / "c.json", y_true=truth, labels=labels,
                                 candidate={"pred": candidate, "proba": proba[0]},
                                 production={"version": 1, "pred": production, "proba": proba[1]})
    found = read_predictions(path)
    report = evaluate(spec(not_worse(name)), found, {})
    rule = report["rules"][0]
    statistic = gates._paired(name, found, gates._Scores(found).classes())
    assert statistic(np.arange(rows)) == pytest.approx(rule["difference"], abs=1e-12)
    resample = rng.integers(0, rows, size=rows)
    subset = read_predictions(_subset(path, resample, tmp_path))
    expected = evaluate(spec(not_worse(name)), subset, {})["rules"][0]["difference"]
    assert statistic(resample[None, :])[0] == pytest.approx(expected, abs=1e-12)


def _subset(path, rows, tmp_path):
    document = json.loads(path.read_text())
    for part in ("candidate", "production"):
        document[part]["pred"] = [document[part]["pred"][i] for i in rows]
        if document[part]["proba"] is not None:
            document[part]["proba"] = [document[part]["proba"][i] for i in rows]
    document["y_true"] = [document["y_true"][i] for i in rows]
    out = tmp_path / "subset.json"
    out.write_text(json.dumps(document))
    return out


def test_log_loss_follows_the_files_label_order(tmp_path):
    truth = np.array(["b", "a", "c", "b"])
    proba = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.3, 0.5, 0.2]])
    labels = ["c", "b", "a"]  # the columns of proba, deliberately not sorted
    path = write_predictions(tmp_path / "p.json", y_true=truth, labels=labels,
                             candidate={"pred": truth, "proba": proba})
    report = evaluate(spec(at_least("log_loss", 10, "<=")), read_predictions(path), {})
    column = [labels.index(v) for v in truth]
    assert report["rules"][0]["candidate"] == pytest.approx(-np.mean(np.log(proba[np.arange(4), column])))


# --- what the CLI prints ------------------------------------------------------------------------

def test_failure_line_names_the_first_failing_rule_with_its_numbers(tmp_path):
    found = predictions(tmp_path, 300, candidate_wrong=range(100, 175), production_wrong=range(0, 15))
    report = evaluate(spec(at_least("accuracy", 0.5), not_worse("f1_macro"), at_least("accuracy", 0.99)), found, {})
    rule = report["rules"][1]
    lo, hi = rule["interval"]
    assert failure_line(report, model="penguins", version=3) == (
        f'model penguins v3: gate "f1_macro at most 0.01 worse than production" failed: difference '
        f'{rule["difference"]:+.4g}, 95% interval [{lo:+.4g}, {hi:+.4g}] (production v2)')
    absolute = evaluate(spec(at_least("accuracy", 0.99)), found, {})
    assert failure_line(absolute, model="penguins", version=None) == (
        'model penguins: gate "accuracy >= 0.99" failed: accuracy 0.75 is not >= 0.99 on the 300 rows of the '
        'predictions file')
    mcnemar = evaluate(spec(better("accuracy")), found, {})
    assert ", McNemar p 1 (production v2)" in failure_line(mcnemar, model="penguins", version=3)
    assert failure_line(evaluate(spec(not_worse("accuracy", 0.5)), found, {}), model="penguins", version=3) is None


def test_describe_lines_up_every_rule_and_says_why_the_others_did_not_pass(tmp_path):
    found = predictions(tmp_path, 120, candidate_wrong=range(0, 10), production_wrong=range(5, 15))
    report = evaluate(spec(at_least("accuracy", 0.9), not_worse("log_loss"), better("accuracy")), found, {})
    lines = describe(report)
    assert lines[0].startswith("tie: on_tie keep, production stays; against production v2 on 120 rows "
                               "(95% paired intervals, 2000 resamples, seed 0); ")
    table = lines[1:6]
    assert table[0].split() == ["rule", "verdict", "candidate", "production", "difference", "interval", "p"]
    column = table[0].index("verdict")
    assert [row[column:].split()[0] for row in table[2:]] == ["pass", "tie", "tie"]
    assert lines[6:] == [f"{r['rule']}: {r['why']}" for r in report["rules"][1:]]
    alone = describe(evaluate(spec(at_least("accuracy", 0.9), better("accuracy")),
                              predictions(tmp_path, 30, candidate_wrong=[0]), {}))
    assert alone[0].startswith("passed: promotable; ") and alone[1] == f"note: {gates.NO_PRODUCTION}"


# --- the reference project's models: the penguins case ----------------------------------

@pytest.fixture(scope="module")
def penguins_2009():
    from penguins import data, features, model

    holdout = data.load_batch("palmerpenguins", 2009)

    def fit(years, *, notebook_split: bool):
        batch = data.load_batch("palmerpenguins", years)
        if notebook_split:  # as notebooks/train.ipynb fits: the stratified, seeded 75% of the batch
            X, _, y, _ = model.split(batch, 0.25, 42)
        else:
            X, y = batch[features.FEATURES], batch[features.TARGET]
        return model.make_pipeline(random_state=42).fit(X, y)

    def write(path, candidate, production, version=1):
        X = holdout[features.FEATURES]
        score = lambda m: {"pred": m.predict(X), "proba": m.predict_proba(X)}  # noqa: E731
        return read_predictions(write_predictions(path, y_true=holdout[features.TARGET], labels=candidate.classes_,
                                                  candidate=score(candidate),
                                                  production={"version": version, **score(production)}))

    return fit, write


REFERENCE_GATES = (at_least("accuracy", 0.9), at_least("log_loss", 0.3, "<="), not_worse("f1_macro"),
                   not_worse("log_loss"))  # the reference nbprod.yaml's


def test_penguins_2007_production_against_a_2007_2008_candidate(penguins_2009, tmp_path):
    """The issue's pair: both models reach 119/120 = 0.9917 on 2009 (fitted on whole surveys). On
    this sklearn the 2007+2008 model's log loss is lower on nearly every 2009 row, so its paired
    interval lies well above -0.01: the rule passes (the issue expected [-0.0075, +0.0246] and a tie;
    those figures do not come out of these models). Accuracy, identical on every row, ties."""
    fit, write = penguins_2009
    found = write(tmp_path / "p.json", candidate=fit([2007, 2008], notebook_split=False),
                  production=fit([2007], notebook_split=False))
    assert found.rows == 120
    report = evaluate(spec(*REFERENCE_GATES, better("accuracy")), found, {})
    rules = by_rule(report)
    accuracy = rules["accuracy better than production"]
    assert accuracy["candidate"] == accuracy["production"] == pytest.approx(119 / 120)
    assert accuracy["verdict"] == "tie" and accuracy["p_value"] == 1.0
    log_loss = rules["log_loss at most 0.01 worse than production"]
    assert log_loss["verdict"] == "pass"
    assert (log_loss["candidate"], log_loss["production"]) == (pytest.approx(0.0498, abs=5e-4),
                                                               pytest.approx(0.0681, abs=5e-4))
    assert log_loss["difference"] == pytest.approx(0.0183, abs=5e-4)  # production - candidate: > 0, better
    assert log_loss["interval"] == [pytest.approx(0.0138, abs=2e-3), pytest.approx(0.0231, abs=2e-3)]
    assert rules["f1_macro at most 0.01 worse than production"]["interval"] == [0.0, 0.0]  # same predictions
    assert report["verdict"] == "tie" and not report["promotable"]
    reference = evaluate(spec(*REFERENCE_GATES), found, {})
    assert reference["verdict"] == "passed" and reference["seconds"] < 1.0


def test_penguins_2007_candidate_against_a_2007_2008_production_as_train_ipynb_fits(penguins_2009, tmp_path):
    """The issue's pair fitted as train.ipynb fits (the seeded 75% of each survey), the 2007 model
    as the candidate: 0.9833 against 0.9917 accuracy, a log loss 0.017 higher, and an interval
    whose upper end, -0.0092, is just above -0.01: a tie, 0.0008 from being a failure."""
    fit, write = penguins_2009
    found = write(tmp_path / "p.json", candidate=fit([2007], notebook_split=True),
                  production=fit([2007, 2008], notebook_split=True), version=2)
    rules = by_rule(evaluate(spec(*REFERENCE_GATES, better("accuracy")), found, {}))
    accuracy = rules["accuracy better than production"]
    assert (accuracy["candidate"], accuracy["production"]) == (pytest.approx(118 / 120), pytest.approx(119 / 120))
    assert accuracy["verdict"] == "tie" and "alone is right on 0 rows, production alone on 1" in accuracy["why"]
    log_loss = rules["log_loss at most 0.01 worse than production"]
    assert log_loss["verdict"] == "tie" and log_loss["difference"] == pytest.approx(-0.0169, abs=5e-4)
    assert log_loss["interval"] == [pytest.approx(-0.0253, abs=5e-4), pytest.approx(-0.0092, abs=5e-4)]
    f1 = rules["f1_macro at most 0.01 worse than production"]
    assert f1["verdict"] == "tie" and f1["interval"] == [pytest.approx(-0.0347, abs=1e-3), 0.0]


def test_penguins_candidate_within_chance_of_production_is_a_tie(penguins_2009, tmp_path):
    """Fitted as train.ipynb fits, a 2008-only candidate against a 2007+2008 production: the paired
    log-loss interval straddles -0.01 (the issue's case: [-0.0246, +0.0075] there, [-0.0232, +0.0071]
    here), so the gate says tie, not pass or fail by chance; f1 can't tell either."""
    fit, write = penguins_2009
    found = write(tmp_path / "p.json", candidate=fit([2008], notebook_split=True),
                  production=fit([2007, 2008], notebook_split=True), version=2)
    report = evaluate(spec(*REFERENCE_GATES), found, {})
    rules = by_rule(report)
    log_loss = rules["log_loss at most 0.01 worse than production"]
    assert log_loss["verdict"] == "tie"
    assert log_loss["difference"] == pytest.approx(-0.0120, abs=5e-4)
    assert log_loss["interval"] == [pytest.approx(-0.0232, abs=2e-3), pytest.approx(0.0071, abs=2e-3)]
    assert report["verdict"] == "tie" and not report["promotable"] and report["baseline"]["version"] == 2
    assert report["seconds"] < 1.0
    line = failure_line(report, model="penguins", version=3)
    assert line.startswith('model penguins v3: gate "') and "tied (on_tie: keep)" in line and line.endswith(
        "(production v2)")
