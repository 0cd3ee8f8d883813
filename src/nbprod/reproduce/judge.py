"""A reproduction against its original run: the differences and the verdict.

The comparison reuses :func:`nbprod.compare.diff.diff_records` (metric verdicts by the
declared goal and tolerance, parameters, packages, inputs, products, code) and adds
what a reproduction must also match: the run's status and error, the spec files it
read (pipeline.yaml, env.yaml: by name and hash), every scrap that is
not a metric (exactly), each notebook product and executed notebook after
normalization (:mod:`.notebooks`), the Python version and each notebook's kernel
environment (its name, Python, and packages: the builder's with the kernel's own
differences applied).

Each difference has a ``level``:

- ``equivalent``: a declared metric that moved within its tolerance; a notebook whose
  normal forms differ but whose loose forms (stderr dropped, addresses masked) agree;
- ``different``: anything else.

Verdict: ``different`` when any difference is, else ``equivalent`` when there is any,
else ``identical`` (notebooks that agree after normalization are identical: their
bytes always differ in timings). ``compared`` counts what was compared, for the table.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..compare.diff import diff_records
from ..schema import RunRecord
from .notebooks import folders_of, loose_form, normal_form

IDENTICAL, EQUIVALENT, DIFFERENT = "identical", "equivalent", "different"
VERDICTS = (IDENTICAL, EQUIVALENT, DIFFERENT)

Fetch = Callable[[str], bytes]


def judge(old: RunRecord, new: RunRecord, *, fetch_old: Fetch, fetch_new: Fetch) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """(verdict, differences, compared) of ``new`` (the reproduction) against ``old``;
    ``fetch_*``: an object's bytes by sha256 from the store holding each run's objects."""
    diff = diff_records(old, new)
    found: list[dict[str, Any]] = []

    def differ(what: str, name: Any, before: Any, after: Any, level: str = DIFFERENT, task: str | None = None,
               note: str | None = None) -> None:
        found.append({"what": what, "task": task, "name": name, "original": before, "reproduction": after,
                      "level": level, "note": note})

    if old.status != new.status:
        differ("status", None, old.status, new.status)
    before, after = (r.error.sentence() if r.error else None for r in (old, new))
    if before != after:
        differ("error", None, before, after)
    for metric in diff["metrics"]:
        _metric(metric, differ)
    for entry in diff["params"]:
        differ("parameter", entry["name"], entry["old"], entry["new"], task=entry["task"])
    for entry in diff["inputs"]:
        differ("input", entry["name"], entry["old"], entry["new"])
    for entry in diff["code"]:
        differ("code", entry["source"], entry["old"], entry["new"], task=entry["task"])
    for entry in diff["packages"]:
        differ("package", entry["name"], entry["old"], entry["new"])
    specs = [((r.project or {}).get("files") or {}) for r in (old, new)]
    for name in sorted(set(specs[0]) | set(specs[1])):
        a, b = ((s.get(name) or {}).get("sha256") for s in specs)
        if a != b:
            differ("spec file", name, a, b)
    if (old.python or {}).get("version") != (new.python or {}).get("version"):
        differ("python", "version", (old.python or {}).get("version"), (new.python or {}).get("version"))
    metric_names = {m["name"] for m in diff["metrics"]}
    scraps = _scraps(old, new, metric_names, differ)
    notebooks = _products(old, new, diff["products"], fetch_old, fetch_new, differ)
    kernels = _kernels(old, new, differ)
    levels = {d["level"] for d in found}
    verdict = DIFFERENT if DIFFERENT in levels else EQUIVALENT if found else IDENTICAL
    compared = {"metrics": len(diff["metrics"]), "scraps": scraps,
                "products": sum(len(t.products) for t in old.tasks), "notebooks": notebooks,
                "packages": len(set(old.packages or {}) | set(new.packages or {})), "kernels": kernels}
    return verdict, found, compared


def _metric(metric: dict[str, Any], differ) -> None:
    a, b = metric["old"], metric["new"]
    if metric["verdict"] == "unchanged" and a == b:
        return
    if metric["verdict"] == "n/a" and a == b:  # the same NaN / inf on both sides
        return
    if metric["verdict"] == "unchanged":
        differ("metric", metric["name"], a, b, EQUIVALENT, note="within the declared tolerance")
    else:
        differ("metric", metric["name"], a, b, note=metric["verdict"])


def _scraps(old: RunRecord, new: RunRecord, metric_names: set[str], differ) -> int:
    """Every scrap that is not a metric, exactly (inline JSON, or an artifact's hash)."""
    count = 0
    after = {t.name: t.scraps for t in new.tasks}
    for task in old.tasks:
        theirs = after.get(task.name, {})
        for name in sorted(set(task.scraps) | set(theirs)):
            a, b = task.scraps.get(name), theirs.get(name)
            if name in metric_names and all(_is_number((s or {}).get("value")) for s in (a, b)):
                continue
            count += 1
            if _canon(_scrap_value(a)) != _canon(_scrap_value(b)):
                differ("scrap", name, _short(_scrap_value(a)), _short(_scrap_value(b)), task=task.name)
    return count


def _scrap_value(scrap: dict[str, Any] | None) -> Any:
    if not isinstance(scrap, dict):
        return None
    if "artifact" in scrap:
        return {"sha256": (scrap["artifact"] or {}).get("sha256")}
    return {k: v for k, v in scrap.items() if k in ("value", "nonfinite", "encoder")}


def _products(old, new, changed, fetch_old: Fetch, fetch_new: Fetch, differ) -> int:
    """Products whose hash changed, notebooks compared normalized; then executed notebooks
    that are no product. Returns how many notebooks were compared normalized."""
    paths = {(t.name, str(p.get("name"))): str(p.get("path") or "") for r in (old, new) for t in r.tasks for p in t.products}
    pairs = [(e["task"], e["name"], e["old"], e["new"], paths.get((e["task"], e["name"]), "")) for e in changed]
    products = {p.get("sha256") for r in (old, new) for t in r.tasks for p in t.products}
    theirs = {t.name: t.notebook for t in new.tasks}
    for task in old.tasks:
        mine, other = (task.notebook or {}).get("sha256"), (theirs.get(task.name) or {}).get("sha256")
        if mine != other and not ({mine, other} & products):
            pairs.append((task.name, "executed notebook", mine, other, ".ipynb"))
    notebooks = 0
    for task, name, a, b, path in pairs:
        if a and b and path.endswith(".ipynb"):
            notebooks += 1
            level = _notebook_level(fetch_old(a), fetch_new(b), folders_of(old), folders_of(new))
            if level is not None:
                differ("notebook", name, a, b, level, task=task,
                       note="the same after normalization, but for stderr and object addresses"
                       if level == EQUIVALENT else "differs after normalization")
            continue
        differ("product", name, a, b, task=task)
    return notebooks


def _notebook_level(a: bytes, b: bytes, folders_a, folders_b) -> str | None:
    """None: the same notebook; EQUIVALENT or DIFFERENT otherwise."""
    try:
        if normal_form(a, folders_a) == normal_form(b, folders_b):
            return None
        return EQUIVALENT if loose_form(a, folders_a) == loose_form(b, folders_b) else DIFFERENT
    except (ValueError, UnicodeDecodeError, KeyError, AttributeError):  # not a readable notebook
        return DIFFERENT


def _kernels(old: RunRecord, new: RunRecord, differ) -> int:
    theirs = {t.name: t.kernel for t in new.tasks}
    count = 0
    for task in old.tasks:
        a, b = task.kernel, theirs.get(task.name)
        if a is None and b is None:
            continue
        count += 1
        ka, kb = _environment(a, old.packages), _environment(b, new.packages)
        for key in ("name", "python"):
            if ka.get(key) != kb.get(key):
                differ("kernel", key, ka.get(key), kb.get(key), task=task.name)
        packages = ka.get("packages") or {}, kb.get("packages") or {}
        changed = sorted(n for n in set(packages[0]) | set(packages[1]) if packages[0].get(n) != packages[1].get(n))
        if changed and (a or {}).get("packages") != (b or {}).get("packages"):
            for name in changed:
                differ("kernel package", name, packages[0].get(name), packages[1].get(name), task=task.name)
    return count


def _environment(kernel: dict[str, Any] | None, builder: dict[str, str] | None) -> dict[str, Any]:
    """A kernel's name, Python and packages: the builder's with the kernel's differences applied."""
    if not kernel:
        return {}
    packages = dict(builder or {})
    for name, version in (kernel.get("packages") or {}).items():
        if version is None:
            packages.pop(name, None)
        else:
            packages[name] = version
    return {"name": kernel.get("name"), "python": kernel.get("python"), "packages": packages}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any, limit: int = 200) -> Any:
    text = _canon(value)
    return value if len(text) <= limit else text[: limit - 3] + "..."
