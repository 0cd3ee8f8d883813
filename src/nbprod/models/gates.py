"""Deciding a model version's gates: absolute thresholds, and paired tests against production.

Why paired: the evaluate notebook scores the candidate and production on the same holdout
rows in the same run (:mod:`nbprod.models.predictions`), so "is the candidate worse?" is asked
of one difference per resample of those rows, not of two scores each with its own noise. Two
models a few rows apart on 120 rows are within chance of each other, and the gate says so
("tie") rather than passing or failing by luck; ``on_tie`` (keep or promote) decides then.

- Absolute (``accuracy >= 0.9``): the candidate's value on the predictions file when the metric
  is in :data:`METRICS` and the file has what it needs, else the run's scalar scrap; the
  operator as written. Nothing measured fails.
- Against production: ``d`` oriented so that ``d > 0`` means the candidate is better
  (candidate - production for a metric to maximize, production - candidate to minimize), and
  its paired bootstrap interval at ``confidence`` (``scipy.stats.bootstrap`` over row indices,
  ``resamples`` of them, seeded with ``seed``: the same file and spec, the same interval).
  Non-inferiority with margin ``m`` passes when the interval lies above ``-m`` (at margin 0:
  none of it below 0), fails when it lies below ``-m``, ties otherwise. Superiority passes
  above 0, fails below 0, ties otherwise (an identical candidate ties: it is not better).
- Superiority on ``accuracy`` is decided by the exact McNemar test instead (``scipy.stats.
  binomtest`` on the rows exactly one model gets right; accuracy moves by whole rows): passed
  when the one-sided test "the candidate is more accurate" has p < 1 - confidence (that p is
  ``p_value``), failed when the mirror test "production is more accurate" has, else a tie.

Percentile intervals, not BCa: these differences are mostly zeros and a few discordant rows,
where BCa's jackknife acceleration is unstable or undefined (scipy gives NaN on a degenerate
sample); percentile intervals stay defined and within the metric's range. Observed values are
sklearn's (``METRICS``); the resamples count confusion matrices and per-row losses with numpy,
all resamples at once, since one sklearn call costs milliseconds and a rule needs thousands
(the tests check the two agree).
"""

from __future__ import annotations

import math
import operator
import time
import warnings
from typing import Any, Callable, NamedTuple

ALIAS = "production"  # the one alias a predictions file scores besides the candidate
NO_PRODUCTION = "no production model yet: the absolute gates alone decide"
NO_GATES = "no gates declared: nothing to refuse"
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_CELLS = 4_000_000  # resampled row indices held in memory at once (bounds the bootstrap's batches)


class Metric(NamedTuple):
    goal: str  # "max" or "min": which way is better
    needs: str  # "pred" or "proba": which part of a model's predictions it reads
    function: Callable[..., float]  # (y_true, pred or proba, labels) -> value, by sklearn.metrics


def _sklearn(name: str, **options) -> Callable[..., float]:
    """``sklearn.metrics.<name>(y_true, values, **options)``, imported when first called; the
    macro averages (``zero_division`` given) are over ``labels``, the same classes for both models."""
    def metric(y_true, values, labels=None):
        import sklearn.metrics
        extra = {"labels": labels} if "zero_division" in options else {}
        return getattr(sklearn.metrics, name)(y_true, values, **options, **extra)

    metric.__name__ = metric.__qualname__ = name
    return metric


def _log_loss(y_true, proba, labels):
    """sklearn's log loss; it takes ``proba``'s columns in sorted label order, so sort them."""
    from sklearn.metrics import log_loss
    order = sorted(range(len(labels)), key=lambda i: _order(labels[i]))
    return log_loss(y_true, proba[:, order], labels=[labels[i] for i in order])


#: metric name -> (goal, needs, function): what a predictions file can be scored on
METRICS: dict[str, Metric] = {
    "accuracy": Metric("max", "pred", _sklearn("accuracy_score")),
    "balanced_accuracy": Metric("max", "pred", _sklearn("balanced_accuracy_score")),
    "f1_macro": Metric("max", "pred", _sklearn("f1_score", average="macro", zero_division=0)),
    "precision_macro": Metric("max", "pred", _sklearn("precision_score", average="macro", zero_division=0)),
    "recall_macro": Metric("max", "pred", _sklearn("recall_score", average="macro", zero_division=0)),
    "log_loss": Metric("min", "proba", _log_loss),
    "mae": Metric("min", "pred", _sklearn("mean_absolute_error")),
    "rmse": Metric("min", "pred", _sklearn("root_mean_squared_error")),
    "r2": Metric("max", "pred", _sklearn("r2_score")),
}


def evaluate(spec, predictions, metrics: dict[str, Any]) -> dict[str, Any]:
    """The gate report of ``spec``'s candidate (a plain JSON-able dict; the module docstring
    says how each rule is decided). ``predictions``: the paired predictions file, or None;
    ``metrics``: the run's scalar scraps, for absolute rules the file cannot score."""
    started = time.perf_counter()
    scores = _Scores(predictions)
    rules = [_rule(rule, spec, scores, metrics) for rule in spec.gates]
    verdicts = {rule["verdict"] for rule in rules}
    verdict = "failed" if "fail" in verdicts else "tie" if "tie" in verdicts else "passed"
    has_production = predictions is not None and predictions.production is not None
    return {
        "verdict": verdict, "promotable": verdict == "passed" or (verdict == "tie" and spec.on_tie == "promote"),
        "on_tie": spec.on_tie, "note": NO_GATES if not rules else NO_PRODUCTION if "skipped" in verdicts else None,
        "baseline": {"alias": ALIAS, "version": predictions.production_version} if has_production else None,
        "rows": predictions.rows if predictions is not None else None,
        "confidence": spec.confidence, "resamples": spec.resamples, "seed": spec.seed,
        "seconds": round(time.perf_counter() - started, 4), "rules": rules,
    }


def failure_line(report: dict[str, Any], *, model: str, version: int | None) -> str | None:
    """The one line a refused gate exits 4 with: the first failing rule (or, when a tie is not
    promotable, the first tying one) and its numbers. None when the report is promotable."""
    if report.get("promotable"):
        return None
    rules = report.get("rules") or []
    rule = next((r for r in rules if r["verdict"] == "fail"), None) or next(
        (r for r in rules if r["verdict"] == "tie"), None)
    who = f"model {model}" + (f" v{version}" if version is not None else "")
    if rule is None:
        return f"{who}: gates {report.get('verdict')}"
    state = "failed" if rule["verdict"] == "fail" else f"tied (on_tie: {report.get('on_tie')})"
    if not rule.get("interval"):
        return f"{who}: gate \"{rule['rule']}\" {state}: {rule['why']}"
    baseline, (lo, hi) = report.get("baseline") or {}, rule["interval"]
    mcnemar = f", McNemar p {_plain(rule['p_value'])}" if rule.get("p_value") is not None else ""
    against = baseline.get("alias", ALIAS) + (f" v{baseline['version']}" if baseline.get("version") else "")
    return (f"{who}: gate \"{rule['rule']}\" {state}: difference {_signed(rule.get('difference'))}, "
            f"{_level(report.get('confidence'))}interval [{_signed(lo)}, {_signed(hi)}]{mcnemar} ({against})")


def describe(report: dict[str, Any]) -> list[str]:
    """The report as lines for a terminal: what was decided, on what, then one row per rule
    and the reason of every rule that did not simply pass."""
    from tabulate import tabulate

    verdict, promotable = report.get("verdict"), report.get("promotable")
    if verdict == "tie":
        head = [f"tie: on_tie {report.get('on_tie')}, {'promotable' if promotable else 'production stays'}"]
    else:
        head = [f"{verdict}: {'promotable' if promotable else 'not promotable'}"]
    baseline = report.get("baseline")
    if baseline:
        head.append(f"against {baseline.get('alias')} v{baseline.get('version')} on {report.get('rows')} rows "
                    f"({_level(report.get('confidence'))}paired intervals, {report.get('resamples')} resamples, "
                    f"seed {report.get('seed')})")
    if report.get("seconds") is not None:
        head.append(f"{report['seconds']:.2g} s")
    lines = ["; ".join(head)]
    if report.get("note"):
        lines.append(f"note: {report['note']}")
    rules = report.get("rules") or []
    if rules:
        table = [[r["rule"], r["verdict"], _plain(r.get("candidate")), _plain(r.get("production")),
                  _signed(r.get("difference")), "-" if not r.get("interval") else
                  f"[{_signed(r['interval'][0])}, {_signed(r['interval'][1])}]", _plain(r.get("p_value"))]
                 for r in rules]
        lines += tabulate(table, headers=["rule", "verdict", "candidate", "production", "difference", "interval", "p"],
                          tablefmt="simple", disable_numparse=True).splitlines()
        lines += [f"{r['rule']}: {r.get('why')}" for r in rules if r["verdict"] != "pass"]
    return lines


class _Scores:
    """The predictions file's metric values, each computed once (a rule may repeat a metric)."""

    def __init__(self, predictions):
        self.predictions, self._values = predictions, {}

    def classes(self) -> list:
        """The file's labels, else every class seen in y_true or either model's predictions:
        one class list for both models, so their macro averages are over the same classes."""
        found = self.predictions
        if found.labels is not None:
            return list(found.labels)
        seen = [found.y_true, found.candidate.pred] + ([found.production.pred] if found.production else [])
        return sorted(set().union(*(column.tolist() for column in seen)), key=_order)

    def part(self, name: str, which: str):
        """``which`` model's pred or proba for metric ``name``, or None when the file lacks it."""
        found = self.predictions
        scored = None if found is None else found.candidate if which == "candidate" else found.production
        return None if scored is None else getattr(scored, METRICS[name].needs)

    def value(self, name: str, which: str) -> float:
        if (name, which) not in self._values:
            with warnings.catch_warnings():  # zero_division is explicit; the rest is noise in a gate
                warnings.simplefilter("ignore")
                self._values[name, which] = float(METRICS[name].function(
                    self.predictions.y_true, self.part(name, which), self.classes()))
        return self._values[name, which]


def _rule(rule, spec, scores: _Scores, metrics: dict[str, Any]) -> dict[str, Any]:
    entry = {"rule": rule.text(), "metric": rule.metric, "kind": "absolute" if not rule.differential else rule.test,
             "candidate": None, "production": None, "difference": None, "interval": None, "p_value": None}
    verdict, why = (_differential if rule.differential else _absolute)(rule, spec, scores, metrics, entry)
    return {**entry, "verdict": verdict, "why": why}


def _absolute(rule, spec, scores: _Scores, metrics, entry) -> tuple[str, str]:
    name = rule.metric
    if name in METRICS and scores.part(name, "candidate") is not None:
        where = f"on the {scores.predictions.rows} rows of the predictions file"
        try:
            value = scores.value(name, "candidate")
            if scores.part(name, "production") is not None:
                entry["production"] = _finite(scores.value(name, "production"))
        except (TypeError, ValueError) as err:
            return "fail", f"{name} could not be computed {where}: {err}"
    elif name in metrics:
        where, value = "(the run's scrap)", metrics[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "fail", f"{name} is {value!r} {where}, not a number"
    else:
        return "fail", (f"{name} was not measured: the run has no scalar scrap {name!r}"
                        + (" and the predictions file cannot score it" if scores.predictions is not None else ""))
    value = float(value)
    entry["candidate"] = _finite(value)
    if math.isnan(value):
        return "fail", f"{name} is NaN {where}"
    if _OPS[rule.op](value, rule.value):
        return "pass", f"{name} {_plain(value)} {rule.op} {rule.value:g} {where}"
    return "fail", f"{name} {_plain(value)} is not {rule.op} {rule.value:g} {where}"


def _differential(rule, spec, scores: _Scores, metrics, entry) -> tuple[str, str]:
    import numpy as np

    name, found = rule.metric, scores.predictions
    if rule.vs != ALIAS:
        return "fail", f"only {ALIAS} is scored in the predictions file, not {rule.vs}: use `vs: {ALIAS}`"
    if found is None:
        return "fail", (f"comparing {name} with {ALIAS} needs the paired predictions file: set "
                        f"models.{spec.name}.evaluation to the product the evaluate notebook writes with "
                        "nbprod.write_predictions")
    if found.production is None:
        return "skipped", f"no {ALIAS} model was scored in the predictions file: {NO_PRODUCTION}"
    if name not in METRICS:
        return "fail", f"{name} cannot be compared on predictions: use one of {', '.join(METRICS)}"
    metric = METRICS[name]
    if scores.part(name, "candidate") is None or scores.part(name, "production") is None:
        return "fail", f"{name} needs {metric.needs} for both models in the predictions file"
    if found.rows < 2:
        return "fail", f"{name} cannot be compared on {found.rows} row: a paired interval needs 2 rows or more"
    try:
        candidate, production = scores.value(name, "candidate"), scores.value(name, "production")
        statistic = _paired(name, found, scores.classes())
    except (TypeError, ValueError, KeyError) as err:
        return "fail", f"{name} could not be computed on the predictions file: {err}"
    difference = candidate - production if metric.goal == "max" else production - candidate
    entry.update(candidate=_finite(candidate), production=_finite(production), difference=_finite(difference))
    if np.array_equal(scores.part(name, "candidate"), scores.part(name, "production")):
        lo = hi = 0.0  # identical on every row: every resample's difference is 0
    else:
        lo, hi = _interval(statistic, found.rows, spec)
    entry["interval"] = [_finite(lo), _finite(hi)]
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(difference)):
        return "fail", f"{name}: no paired interval could be computed (difference {_signed(difference)})"
    said = (f"difference {_signed(difference)} (candidate {_plain(candidate)}, {ALIAS} {_plain(production)}), "
            f"{_level(spec.confidence)}interval [{_signed(lo)}, {_signed(hi)}]")
    if rule.test == "superiority" and name == "accuracy":
        return _mcnemar(found, spec, entry, said)
    if rule.test == "superiority":
        if lo > 0:
            return "pass", f"{said} lies above 0: better than {ALIAS}"
        if hi < 0:
            return "fail", f"{said} lies below 0: worse than {ALIAS}"
        return "tie", f"{said} includes 0: the data cannot tell which is better"
    margin = rule.margin
    if lo > -margin or lo >= 0:
        return "pass", f"{said} lies above {-margin:g}: at most {margin:g} worse than {ALIAS}"
    if hi < -margin:
        return "fail", f"{said} lies below {-margin:g}: worse than {ALIAS} by more than the margin {margin:g}"
    return "tie", f"{said} includes {-margin:g}: the data cannot tell whether it is within the margin {margin:g}"


def _mcnemar(found, spec, entry, said: str) -> tuple[str, str]:
    """Accuracy superiority by the exact McNemar test on the discordant rows (module docstring)."""
    import numpy as np
    from scipy.stats import binomtest

    right, production_right = found.candidate.pred == found.y_true, found.production.pred == found.y_true
    wins, losses = int(np.sum(right & ~production_right)), int(np.sum(~right & production_right))
    discordant = wins + losses
    better, worse = (binomtest(k, discordant, 0.5, alternative="greater").pvalue if discordant else 1.0
                     for k in (wins, losses))
    entry["p_value"] = float(better)
    alpha = 1 - spec.confidence
    said = (f"{said}; the candidate alone is right on {wins} rows, {ALIAS} alone on {losses}: exact McNemar p "
            f"{_plain(better)} (one-sided, candidate more accurate)")
    if better < alpha:
        return "pass", f"{said} is below {alpha:.2g}: more accurate than {ALIAS}"
    if worse < alpha:
        return "fail", f"{said}; the reverse test's p {_plain(worse)} is below {alpha:.2g}: less accurate than {ALIAS}"
    return "tie", f"{said} is not below {alpha:.2g}: the data cannot tell which is more accurate"


def _interval(statistic, rows: int, spec) -> tuple[float, float]:
    """The percentile bootstrap interval of ``statistic`` over resampled row indices."""
    import numpy as np
    from scipy.stats import bootstrap

    result = bootstrap((np.arange(rows),), statistic, n_resamples=spec.resamples, vectorized=True,
                       batch=max(1, min(spec.resamples, _CELLS // rows)), confidence_level=spec.confidence,
                       method="percentile", rng=np.random.default_rng(spec.seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _paired(name: str, found, classes: list) -> Callable:
    """The oriented difference (> 0: the candidate is better) of metric ``name`` on resampled
    row indices ``idx`` (shape (..., rows)), for every resample at once."""
    candidate = _resampled(name, found.y_true, found.candidate, classes)
    production = _resampled(name, found.y_true, found.production, classes)
    sign = 1.0 if METRICS[name].goal == "max" else -1.0

    def statistic(idx, axis=-1):
        return sign * (candidate(idx) - production(idx))

    return statistic


def _resampled(name: str, y_true, scored, classes: list) -> Callable:
    """Metric ``name`` of one model as a function of resampled row indices (numpy only)."""
    import numpy as np

    if name in ("mae", "rmse", "r2"):
        y, pred = np.asarray(y_true, dtype=float), np.asarray(scored.pred, dtype=float)
        errors, squares = np.abs(y - pred), (y - pred) ** 2
        if name == "mae":
            return lambda idx: errors[idx].mean(axis=-1)
        if name == "rmse":
            return lambda idx: np.sqrt(squares[idx].mean(axis=-1))

        def r2(idx):  # sklearn's force_finite: a constant y_true scores 1 when predicted exactly, else 0
            sampled = y[idx]
            total = ((sampled - sampled.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
            residual = squares[idx].sum(axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(total > 0, 1 - residual / total, np.where(residual == 0, 1.0, 0.0))
        return r2
    index = {label: code for code, label in enumerate(classes)}
    truth = np.array([index[v] for v in y_true.tolist()])
    if name == "log_loss":
        eps = np.finfo(float).eps  # sklearn clips to [eps, 1 - eps] for float64
        losses = -np.log(np.clip(scored.proba[np.arange(len(truth)), truth], eps, 1 - eps))
        return lambda idx: losses[idx].mean(axis=-1)
    pred = np.array([index[v] for v in scored.pred.tolist()])
    if name == "accuracy":
        right = (pred == truth).astype(float)
        return lambda idx: right[idx].mean(axis=-1)
    k = len(classes)
    cells = truth * k + pred

    def from_counts(idx):
        idx = np.asarray(idx)
        flat = idx.reshape(-1, idx.shape[-1])
        offsets = (np.arange(len(flat)) * k * k)[:, None]
        counts = np.bincount((cells[flat] + offsets).ravel(), minlength=len(flat) * k * k).reshape(-1, k, k)
        return _from_confusion(name, counts).reshape(idx.shape[:-1])

    return from_counts


def _from_confusion(name: str, counts):
    """Macro metrics of confusion matrices ``counts`` (…, true, predicted), as sklearn defines
    them with ``zero_division=0``; balanced accuracy averages over the classes present."""
    import numpy as np

    hits = np.diagonal(counts, axis1=-2, axis2=-1).astype(float)
    actual, predicted = counts.sum(axis=-1), counts.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(actual > 0, hits / actual, 0.0)
        if name == "recall_macro":
            return recall.mean(axis=-1)
        if name == "balanced_accuracy":
            return recall.sum(axis=-1) / (actual > 0).sum(axis=-1)
        if name == "precision_macro":
            return np.where(predicted > 0, hits / predicted, 0.0).mean(axis=-1)
        return np.where(actual + predicted > 0, 2 * hits / (actual + predicted), 0.0).mean(axis=-1)  # f1_macro


def _order(label):
    """Sort key for classes of mixed types (numbers first, then strings)."""
    return (isinstance(label, str), label)


def _finite(value: float | None) -> float | None:
    """A float for the JSON report: NaN and infinities (not JSON) become None."""
    return None if value is None or not math.isfinite(value) else float(value)


def _plain(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _signed(value) -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:+.4g}"


def _level(confidence: float | None) -> str:
    """``"95% "`` (with its space), or nothing for a report that does not say."""
    return "" if confidence is None else f"{confidence * 100:g}% "
