"""Benchmark: what deciding the gates costs on the reference holdout, beside the plain scores.

The issue's penguins case: the reference project's classifier (``penguins.model``) fitted on
the 2007 survey and on 2007+2008, both scored on every 2009 row (120 rows, 3 classes) and
written with ``write_predictions``; once fitted on whole surveys (the issue's pair: the same
predicted classes, so the f1 interval is [0, 0] without resampling), once as train.ipynb fits
(one predicted class differs: every interval is resampled). Prints for each, as the median of
``--repeat`` runs in this process (imports done):

1. ``gates.evaluate`` with the reference nbprod.yaml's 4 rules (``accuracy >= 0.9``,
   ``log_loss <= 0.3``, f1_macro and log_loss at most 0.01 worse than production: two paired
   bootstrap intervals of 2000 resamples), and with accuracy superiority (McNemar) added;
2. what a user would otherwise compute: sklearn's accuracy, macro F1 and log loss of both
   models, no intervals;
3. ``read_predictions`` of the file;

then the first ``evaluate`` in a fresh process (scipy.stats and sklearn.metrics imported by
it), which is what a build that registers a model pays once.

Usage: python benchmarks/bench_gates.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "src" / "penguins")]

FRESH = """
import sys, time
from nbprod.models.gates import evaluate
from nbprod.models.predictions import read_predictions
from nbprod.project import GateRule, ModelSpec
found = read_predictions(sys.argv[1])
spec = ModelSpec(name="penguins", task="train", model="model", gates=(
    GateRule("accuracy", op=">=", value=0.9), GateRule("log_loss", op="<=", value=0.3),
    GateRule("f1_macro", vs="production", margin=0.01), GateRule("log_loss", vs="production", margin=0.01)))
started = time.perf_counter()
import scipy.stats, sklearn.metrics  # noqa: E401,F401  (what evaluate imports when first called)
imported = time.perf_counter()
evaluate(spec, found, {})
print(imported - started, time.perf_counter() - imported)
"""


def write_case(path: Path, candidate_years, production_years, *, notebook_split: bool) -> Path:
    """Both models scored on every 2009 row; fitted on whole surveys, or as notebooks/train.ipynb fits
    (the stratified, seeded 75% of the batch)."""
    from penguins import data, features, model
    from nbprod.models.predictions import write_predictions

    holdout = data.load_batch("palmerpenguins", 2009)
    X = holdout[features.FEATURES]

    def fitted(years):
        batch = data.load_batch("palmerpenguins", years)
        if notebook_split:
            X_train, _, y_train, _ = model.split(batch, 0.25, 42)
        else:
            X_train, y_train = batch[features.FEATURES], batch[features.TARGET]
        return model.make_pipeline(random_state=42).fit(X_train, y_train)

    candidate, production = fitted(candidate_years), fitted(production_years)
    return write_predictions(path, y_true=holdout[features.TARGET], labels=candidate.classes_,
                             candidate={"pred": candidate.predict(X), "proba": candidate.predict_proba(X)},
                             production={"version": 1, "pred": production.predict(X),
                                         "proba": production.predict_proba(X)})


def plain_scores(found) -> dict:
    """What a user computes without nbprod: each model's scores, no intervals."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    return {which: (accuracy_score(found.y_true, scored.pred),
                    f1_score(found.y_true, scored.pred, average="macro"),
                    log_loss(found.y_true, scored.proba, labels=found.labels))
            for which, scored in (("candidate", found.candidate), ("production", found.production))}


def timed(call, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from nbprod.models.gates import describe, evaluate
    from nbprod.models.predictions import read_predictions
    from nbprod.project import GateRule, ModelSpec

    reference = (GateRule("accuracy", op=">=", value=0.9), GateRule("log_loss", op="<=", value=0.3),
                 GateRule("f1_macro", vs="production", margin=0.01), GateRule("log_loss", vs="production", margin=0.01))
    four = ModelSpec(name="penguins", task="train", model="model", gates=reference)
    five = ModelSpec(name="penguins", task="train", model="model",
                     gates=(*reference, GateRule("accuracy", vs="production", test="superiority")))
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-gates-") as tmp:
        cases = {"the issue's pair: candidate 2007+2008, production 2007 (whole surveys; same predicted classes)":
                 write_case(Path(tmp) / "issue.json", [2007, 2008], [2007], notebook_split=False),
                 "candidate 2007, production 2007+2008 (as train.ipynb fits; one predicted class differs)":
                 write_case(Path(tmp) / "differs.json", [2007], [2007, 2008], notebook_split=True)}
        for title, path in cases.items():
            found = read_predictions(path)
            evaluate(five, found, {})  # imports, once
            rows = [
                ("`gates.evaluate`, the reference 4 rules (2 paired intervals)",
                 timed(lambda: evaluate(four, found, {}), args.repeat)),
                ("`gates.evaluate`, + accuracy superiority (McNemar)", timed(lambda: evaluate(five, found, {}),
                                                                            args.repeat)),
                ("sklearn accuracy, f1 macro, log loss of both models, no intervals",
                 timed(lambda: plain_scores(found), args.repeat)),
                ("`read_predictions` of the file", timed(lambda: read_predictions(path), args.repeat)),
            ]
            print(f"{title}; {found.rows} rows of 2009\n")
            print(f"| what | median of {args.repeat} | max |\n|---|---|---|")
            for what, (median, most) in rows:
                print(f"| {what} | {median * 1000:.1f} ms | {most * 1000:.1f} ms |")
            print("\n" + "\n".join(describe(evaluate(five, found, {}))) + "\n")
        fresh = subprocess.run([sys.executable, "-c", FRESH, str(path)], capture_output=True, text=True,
                               check=True, env={"PYTHONPATH": f"{REPO / 'src'}:{REPO / 'src' / 'penguins'}"})
    imports, first = (float(word) for word in fresh.stdout.split())
    print(f"In a fresh process: importing scipy.stats and sklearn.metrics {imports:.2f} s, then the first "
          f"`gates.evaluate` (4 rules) {first * 1000:.0f} ms")

if __name__ == "__main__":
    main()
