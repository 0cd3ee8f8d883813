"""From a recorded run to model versions: what a succeeded build registers, evaluates, promotes.

Why here and not in the recorder: a version points at objects the run already stored
(its products, by sha256), so registration needs nothing but the record and the store,
and runs after the record is written. A smoke run registers nothing (its parameters are
not production's); a failed run registers nothing. The same products are the same
version; a new evaluation of it (another baseline, other predictions) is a new
``evaluated`` event, never a changed manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import schema
from ..errors import ConfigError, GateRefusedError, NbprodError
from ..files import sha256_bytes
from . import registry

USABLE = (schema.TASK_SUCCEEDED, schema.TASK_SKIPPED, schema.TASK_FETCHED)


@dataclass
class Registered:
    """What a run did to one model."""

    model: str
    version: int | None = None
    created: bool = False
    report: dict[str, Any] | None = None
    promoted: dict[str, Any] | None = None
    problem: str | None = None  # why nothing was registered, or why the promotion was refused
    refused: NbprodError | None = field(default=None, repr=False)


def manifest_of(spec, record: schema.RunRecord) -> dict[str, Any]:
    """The manifest of the version ``record`` produced for model ``spec`` (without its number).

    Raises ``LookupError`` naming what the run lacks (the task, a product, its hash)."""
    try:
        task = record.task(spec.task)
    except KeyError:
        raise LookupError(f"the run has no task {spec.task!r}") from None
    if task.status not in USABLE:
        raise LookupError(f"task {spec.task} {task.status}")
    entries = {p.get("name"): p for p in task.products}
    products = {}
    for role, key in spec.products().items():
        entry = entries.get(key)
        if entry is None:
            raise LookupError(f"task {spec.task} has no product {key!r} (models.{spec.name}.{role}); "
                              f"its products: {', '.join(sorted(map(str, entries)))}")
        if not entry.get("sha256"):
            raise LookupError(f"product {spec.task}.{key} was not stored (no sha256)")
        products[role] = {k: entry.get(k) for k in ("name", "path", "sha256", "size")}
    identity = sha256_bytes(json.dumps({r: p["sha256"] for r, p in products.items()}, sort_keys=True).encode())
    upstream = [{"task": t.name, "product": p.get("name"), "sha256": p.get("sha256")}
                for t in record.tasks if t.name in set(task.upstream) for p in t.products
                if p.get("sha256") and p.get("name") != "nb"]
    return {
        "model": spec.name, "identity": identity, "run_id": record.run_id, "task": spec.task,
        "created_at": record.ended_at or record.started_at, "commit": (record.git or {}).get("commit"),
        "dirty": (record.git or {}).get("dirty"), "products": products, "metrics": record.metrics(),
        "approval": spec.approval,  # nbprod.yaml's `approval: true` when registered: promotion needs one
        "params": dict(task.params),
        "data": {"inputs": [{"name": i.get("name"), "sha256": i.get("sha256")} for i in record.inputs],
                 "upstream": upstream},
    }


def gate_report(store, spec, record: schema.RunRecord) -> tuple[dict[str, Any], str]:
    """The gate report of this run's candidate, and its evidence key (what it was decided on)."""
    from .gates import evaluate
    from .predictions import read_predictions

    predictions, digest = None, None
    where = spec.evaluation_product()
    if where:
        task_name, key = where
        try:
            task = record.task(task_name)
        except KeyError:
            raise LookupError(f"the run has no task {task_name!r} (models.{spec.name}.evaluation)") from None
        entry = next((p for p in task.products if p.get("name") == key), None)
        if task.status not in USABLE or entry is None or not entry.get("sha256"):
            raise LookupError(f"the run has no stored product {spec.evaluation} (task {task_name} {task.status})")
        digest = entry["sha256"]
        predictions = read_predictions(store.get_bytes(digest), source=f"{spec.evaluation} of run {record.run_id}")
    try:
        report = evaluate(spec, predictions, record.metrics())
    except ImportError as err:  # nbprod without its [models] extra
        raise ConfigError(f"model {spec.name}: its gates need scipy and scikit-learn ({err})",
                          hint="pip install 'nbprod[models]'") from None
    rules = [r.to_dict() for r in spec.gates]
    evidence = sha256_bytes(json.dumps({"predictions": digest, "metrics": record.metrics(),
                                        "rules": rules, "on_tie": spec.on_tie, "confidence": spec.confidence,
                                        "resamples": spec.resamples, "seed": spec.seed},
                                       sort_keys=True, default=str).encode())
    return report, evidence


def register_run(store, project, record: schema.RunRecord, *, promote: bool = False,
                 say: Callable[[str], None] = print) -> list[Registered]:
    """Register (and evaluate, and with ``promote`` promote) every declared model ``record`` produced."""
    if not project.models or record.status != schema.SUCCEEDED:
        return []
    if record.smoke:
        say("nbprod: smoke run: no model version registered (smoke parameters are not production's)")
        return []
    done = []
    for spec in project.models:
        outcome = Registered(spec.name)
        done.append(outcome)
        try:
            manifest = manifest_of(spec, record)
            report, evidence = gate_report(store, spec, record)
        except LookupError as err:
            outcome.problem = f"model {spec.name}: not registered: {err}"
            say(f"nbprod: warning: {outcome.problem}")
            continue
        outcome.report = report
        outcome.version, outcome.created = registry.register(store, spec.name, {**manifest, "gates": report})
        registry.evaluate(store, spec.name, outcome.version, report, run_id=record.run_id, evidence=evidence)
        state = "registered" if outcome.created else "already registered"
        say(f"nbprod: model {spec.name} v{outcome.version} {state}; gates {report['verdict']}"
            f"{' (' + report['note'] + ')' if report.get('note') else ''}; see `nbprod models show {spec.name}:{outcome.version}`")
        if promote:
            _promote(store, spec, record, outcome, say)
    return done


def _promote(store, spec, record, outcome: Registered, say) -> None:
    try:
        outcome.promoted = registry.promote(store, spec.name, outcome.version, report=outcome.report,
                                            reason=f"nbprod build --promote: gates {outcome.report['verdict']} "
                                                   f"in run {record.run_id}")
    except GateRefusedError as err:  # the build's last line says why (exit 4)
        outcome.problem, outcome.refused = str(err), err
        return
    if outcome.promoted is None:
        say(f"nbprod: model {spec.name}: production is v{outcome.version} already")
    else:
        say(f"nbprod: model {spec.name}: production moved from "
            f"{registry.label(outcome.promoted['from'])} to v{outcome.version}")
