"""What changed between two runs: ``nbprod runs diff`` and the report's compare page.

Why a pure function: the terminal (``render_text``), pull requests and CI summaries
(``render_markdown``), ``--json`` and the HTML compare page must tell the same
story, so all of them render one plain dict. :func:`diff_records` reads no store and prints nothing; the only thing it
looks at outside the two records is the local git repository (optional), to
list the files changed between the two runs' commits.

Interface (JSON-able; lists are in a fixed order so the same two runs always
give byte-identical ``json.dumps(..., sort_keys=True)``)::

    diff_records(old: RunRecord, new: RunRecord, *, repo=None) -> {
      "old": run_id, "new": run_id,
      "status":     {"old": str, "new": str},
      "started_at": {"old": str, "new": str},
      "commit": {"old": sha|None, "new": sha|None, "changed": bool,
                 "files": [path, ...]|None,    # `git diff --name-only OLD NEW` in `repo`
                 "files_note": str|None},      # why files is None (or a remark)
      "dirty":  {"old": bool|None, "new": bool|None},
      "params":   [{"task", "name", "old", "new"}],    # changed only; a task added or
                  #  removed: name None, old/new its whole params dict or None
      "packages": [{"name", "old", "new"}],            # changed versions, None when absent
      "inputs":   [{"name", "old", "new"}],            # sha256 changed/added/removed
      "products": [{"task", "name", "old", "new"}],    # sha256 changed/added/removed
      "code":     [{"task", "source", "old", "new"}],  # sha256 of the task's source changed
                  #  (tasks both runs recorded a source hash for: tasks added or removed are
                  #  in "params", and records older than source hashes say nothing)
      "metrics":  [{"name", "old", "new", "delta", "goal", "headline", "verdict"}],
      "summary":  {"improved", "regressed", "unchanged", "changed", "added",
                   "removed", "n/a": counts of metric verdicts,
                   "params", "packages", "inputs", "products", "code": counts of entries},
    }

Metric verdicts: ``improved`` / ``regressed`` / ``unchanged`` for metrics
declared in ``nbprod.yaml`` (goal and tolerance, see :mod:`nbprod.project`),
judged by the NEWER run's ``metrics_spec`` (the declaration in force when it
ran), or the older run's when the newer one has none (recorded before
declarations existed); ``changed`` / ``unchanged`` for undeclared metrics;
``added`` / ``removed`` for a metric only one run has; ``n/a`` when a value is
not a finite number. Headline metrics come first, in declaration order, then
the rest by name.

Ordering elsewhere: tasks in the newer run's pipeline order, then tasks only
the older run had; names sorted within a task; packages and inputs by name.

Code changes come from the records alone (each task's ``source_sha256``), so they are
seen outside git too: an edited notebook in a folder that is no repository, or
uncommitted edits between two runs of one commit.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..schema import RunRecord
from ..vcs import git as _git
from . import metrics as metricspec

VERDICTS = ("improved", "regressed", "unchanged", "changed", "added", "removed", "n/a")
SECTIONS = ("params", "packages", "inputs", "products", "code")
METRIC_HEADERS = ["metric", "old", "new", "delta"]  # then goal (terminal only) and verdict


def diff_records(old: RunRecord, new: RunRecord, *, repo: str | os.PathLike | None = None) -> dict[str, Any]:
    """Everything that differs between ``old`` and ``new`` (see the module docstring)."""
    metrics = _metrics(old, new)
    result: dict[str, Any] = {
        "old": old.run_id,
        "new": new.run_id,
        "status": {"old": old.status, "new": new.status},
        "started_at": {"old": old.started_at, "new": new.started_at},
        "commit": _commit(old, new, repo),
        "dirty": {"old": (old.git or {}).get("dirty"), "new": (new.git or {}).get("dirty")},
        "params": _params(old, new),
        "packages": _keyed(old.packages or {}, new.packages or {}),
        "inputs": _keyed(_inputs(old), _inputs(new)),
        "products": _products(old, new),
        "code": _code(old, new),
        "metrics": metrics,
    }
    summary = {verdict: 0 for verdict in VERDICTS}
    for metric in metrics:
        summary[metric["verdict"]] += 1
    for section in SECTIONS:
        summary[section] = len(result[section])
    result["summary"] = summary
    return result


# -- sections -----------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Equal as recorded: records round-trip through JSON, so compare canonical JSON
    (1 and 1.0, or True and 1, are different parameter values)."""
    return _canon(a) == _canon(b)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _task_order(old: RunRecord, new: RunRecord) -> list[str]:
    names = [t.name for t in new.tasks]
    return names + [t.name for t in old.tasks if t.name not in names]


def _params(old: RunRecord, new: RunRecord) -> list[dict[str, Any]]:
    before = {t.name: t.params or {} for t in old.tasks}
    after = {t.name: t.params or {} for t in new.tasks}
    changes = []
    for task in _task_order(old, new):
        if task not in before or task not in after:
            changes.append({"task": task, "name": None, "old": before.get(task), "new": after.get(task)})
            continue
        for entry in _keyed(before[task], after[task]):
            changes.append({"task": task, **entry})
    return changes


def _keyed(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """``{name, old, new}`` for every key whose value differs (None when absent), by name."""
    return [
        {"name": name, "old": before.get(name), "new": after.get(name)}
        for name in sorted(set(before) | set(after))
        if name not in before or name not in after or not _same(before[name], after[name])
    ]


def _inputs(record: RunRecord) -> dict[str, Any]:
    """Input name -> sha256. The name is the record's; two inputs with one name
    (different folders) are told apart by their path."""
    names = [i.get("name") or i.get("path") for i in record.inputs]
    found = {}
    for item, name in zip(record.inputs, names):
        if names.count(name) > 1 and item.get("path"):
            name = f"{name} ({item['path']})"
        found[str(name)] = item.get("sha256")
    return found


def _products(old: RunRecord, new: RunRecord) -> list[dict[str, Any]]:
    def hashes(record: RunRecord) -> dict[str, dict[str, Any]]:
        return {t.name: {str(p.get("name")): p.get("sha256") for p in t.products} for t in record.tasks}

    before, after = hashes(old), hashes(new)
    changes = []
    for task in _task_order(old, new):
        for entry in _keyed(before.get(task, {}), after.get(task, {})):
            changes.append({"task": task, **entry})
    return changes


def _code(old: RunRecord, new: RunRecord) -> list[dict[str, Any]]:
    before = {t.name: t for t in old.tasks}
    after = {t.name: t for t in new.tasks}
    changes = []
    for task in _task_order(old, new):
        a, b = before.get(task), after.get(task)
        if a is None or b is None or not a.source_sha256 or not b.source_sha256:
            continue
        if a.source_sha256 != b.source_sha256:
            changes.append({"task": task, "source": b.source or a.source, "old": a.source_sha256, "new": b.source_sha256})
    return changes


def _metrics(old: RunRecord, new: RunRecord) -> list[dict[str, Any]]:
    specs = metricspec.from_dicts(new.metrics_spec or old.metrics_spec)
    declared = metricspec.by_name(specs)
    headlines = metricspec.headline(specs)
    before, after = _with_nonfinite(old), _with_nonfinite(new)
    names = set(before) | set(after)
    ordered = [n for n in headlines if n in names] + sorted(names - set(headlines))
    rows = []
    for name in ordered:
        spec = declared.get(name)
        a, b = before.get(name), after.get(name)
        delta = None
        if name not in before:
            verdict = "added"
        elif name not in after:
            verdict = "removed"
        elif not (_finite(a) and _finite(b)):
            verdict = "n/a"
        else:
            delta = b - a
            if spec is not None:
                verdict = spec.verdict(a, b)
            else:
                verdict = "unchanged" if a == b else "changed"
        rows.append({
            "name": name, "old": a, "new": b, "delta": delta,
            "goal": spec.goal if spec else None,
            "headline": bool(spec and spec.headline),
            "verdict": verdict,
        })
    return rows


def _with_nonfinite(record: RunRecord) -> dict[str, Any]:
    """The record's metrics plus the NaN/inf ones (stored as ``{"nonfinite": "nan"}``,
    which ``RunRecord.metrics`` leaves out): a loss that became NaN is ``n/a``, not removed."""
    found = record.metrics()
    for task in record.tasks:
        for name, scrap in task.scraps.items():
            if isinstance(scrap, dict) and scrap.get("nonfinite") and name not in found:
                found[name] = scrap["nonfinite"]
    return found


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- commit and files changed ---------------------------------------------------------


def _commit(old: RunRecord, new: RunRecord, repo: str | os.PathLike | None) -> dict[str, Any]:
    a, b = (old.git or {}).get("commit"), (new.git or {}).get("commit")
    files, note = _changed_files(old.run_id, a, new.run_id, b, repo)
    return {"old": a, "new": b, "changed": a != b, "files": files, "files_note": note}


def _changed_files(old_id, a, new_id, b, repo) -> tuple[list[str] | None, str | None]:
    """Files changed between the commits, or None and the reason they are unknown."""
    missing = [run for run, sha in ((old_id, a), (new_id, b)) if not sha]
    if missing:
        return None, f"no git commit recorded for run {', '.join(missing)}"
    if a == b:
        return [], None
    if repo is None:
        return None, "no local git repository given to compare the commits in"
    if not Path(repo).is_dir() or _git(repo, "rev-parse", "--git-dir") is None:
        return None, f"{repo} is not a git repository: run the diff inside the project's clone"
    absent = [sha[:12] for sha in (a, b) if _git(repo, "cat-file", "-e", f"{sha}^{{commit}}") is None]
    if absent:
        return None, f"commit {', '.join(absent)} is not in the local repository: `git fetch` it to list changed files"
    out = _git(repo, "diff", "--name-only", "--no-renames", a, b, "--", raw_paths=True)
    if out is None:
        return None, "`git diff --name-only` failed in the local repository"
    return sorted(filter(None, out.splitlines())), None


# -- text ---------------------------------------------------------------------------


def to_json(diff: dict[str, Any]) -> str:
    """Stable JSON: sorted keys, fixed list order, nothing about when it was made."""
    return json.dumps(diff, indent=2, sort_keys=True, default=str)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _hash(value: str | None) -> str:
    return value[:12] if value else "-"


def _arrow(old: Any, new: Any) -> str:
    return f"{_fmt(old)} (both)" if _same(old, new) else f"{_fmt(old)} -> {_fmt(new)}"


def render_text(diff: dict[str, Any]) -> str:
    """The terminal view: what changed only, except the metrics table, always shown."""
    from tabulate import tabulate

    commit = diff["commit"]
    lines = [
        f"old       {diff['old']}   started {diff['started_at']['old']}",
        f"new       {diff['new']}   started {diff['started_at']['new']}",
        f"status    {_arrow(diff['status']['old'], diff['status']['new'])}",
    ]
    dirty = diff["dirty"]
    flags = {True: "*", False: "", None: ""}
    before, after = _short(commit["old"]) + flags[dirty["old"]], _short(commit["new"]) + flags[dirty["new"]]
    same = commit["old"] == commit["new"] and dirty["old"] == dirty["new"]
    line = f"commit    {before} (both)" if same else f"commit    {before} -> {after}"
    if dirty["old"] or dirty["new"]:
        line += "   (* uncommitted changes)"
    lines.append(line)
    if commit["files"]:
        lines.append(f"          {len(commit['files'])} file(s) changed between the commits:")
        lines += [f"            {path}" for path in commit["files"]]
    elif commit["changed"] and commit["files_note"]:
        lines.append(f"          files changed: unknown ({commit['files_note']})")

    for title, headers, rows in _sections(diff):
        lines.extend(["", title, tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)])
    lines += ["", "metrics" + ("   (* headline)" if any(m["headline"] for m in diff["metrics"]) else "")]
    if diff["metrics"]:
        lines.append(tabulate(_metric_rows(diff["metrics"], goal=True), headers=[*METRIC_HEADERS, "goal", "verdict"],
                              tablefmt="simple", disable_numparse=True))
    else:
        lines.append("  neither run recorded a numeric scrap")
    lines += ["", "summary   " + _summary_line(diff)]
    return "\n".join(lines)


def _sections(diff: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of every non-empty section but the metrics, as both renderers show them."""
    def absent(value: Any) -> str:
        return _fmt(value) if value is not None else "(absent)"

    found = [
        ("parameters", ["task", "param", "old", "new"], [[p["task"], "(task)" if p["name"] is None else p["name"],
                                                          absent(p["old"]), absent(p["new"])] for p in diff["params"]]),
        ("packages", ["package", "old", "new"], [[p["name"], _fmt(p["old"]), _fmt(p["new"])] for p in diff["packages"]]),
        ("inputs (sha256)", ["input", "old", "new"], [[i["name"], _hash(i["old"]), _hash(i["new"])] for i in diff["inputs"]]),
        ("products (sha256)", ["task", "product", "old", "new"],
         [[p["task"], p["name"], _hash(p["old"]), _hash(p["new"])] for p in diff["products"]]),
        ("code changed (sha256 of each task's source)", ["task", "source", "old", "new"],
         [[c["task"], c["source"] or "-", _hash(c["old"]), _hash(c["new"])] for c in diff.get("code", [])]),
    ]
    return [section for section in found if section[2]]


def _metric_rows(metrics: list[dict[str, Any]], *, goal: bool) -> list[list[str]]:
    return [[m["name"] + (" *" if m["headline"] else ""), _fmt(m["old"]), _fmt(m["new"]), _delta(m["delta"]),
             *([m["goal"] or "-"] if goal else []), m["verdict"]] for m in metrics]


def _summary_line(diff: dict[str, Any]) -> str:
    counts = diff["summary"]
    said = [f"{counts[v]} {v}" for v in VERDICTS if counts.get(v)]
    labels = dict(zip(SECTIONS, ("parameter(s)", "package(s)", "input(s)", "product(s)", "task source(s)")))
    changed = [f"{counts[s]} {label}" for s, label in labels.items() if counts.get(s)]
    return ("metrics: " + (", ".join(said) or "none")
            + ("; changed: " + ", ".join(changed) if changed else "; no parameter, package, input, product or code changed"))


# -- markdown (pull-request comments, GitHub job summaries) ---------------------------------


def markdown_cell(value: Any) -> str:
    """Text safe in one cell of a GitHub-flavoured table: no pipe, newline or HTML tag."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|").replace("\r", "").replace("\n", " ")


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    from tabulate import tabulate
    return tabulate([[markdown_cell(cell) for cell in row] for row in rows], headers=headers, tablefmt="github",
                    disable_numparse=True)


def markdown_metrics(diff: dict[str, Any], *, headline_only: bool = False) -> str:
    """The metrics as a GitHub-flavoured table (metric, old, new, delta, verdict); headline
    only when asked and any is declared (``*`` marks them)."""
    metrics = diff["metrics"]
    if headline_only and any(m["headline"] for m in metrics):
        metrics = [m for m in metrics if m["headline"]]
    if not metrics:
        return "_neither run recorded a numeric scrap_"
    return markdown_table([*METRIC_HEADERS, "verdict"], _metric_rows(metrics, goal=False))


def render_markdown(diff: dict[str, Any]) -> str:
    """The diff for a pull-request comment: a headline, the metrics table, the rest folded."""
    status, commit = diff["status"], diff["commit"]
    lines = [f"**Run `{diff['old']}` → `{diff['new']}`**: status {markdown_cell(_arrow(status['old'], status['new']))}, "
             f"commit `{_short(commit['old'])}` → `{_short(commit['new'])}`", "", markdown_metrics(diff), "",
             markdown_cell(_summary_line(diff))]
    sections = _sections(diff)
    if sections:
        lines += ["", "<details><summary>what else changed</summary>"]
        for title, headers, rows in sections:
            lines += ["", f"**{title}**", "", markdown_table(headers, rows)]
        lines += ["", "</details>"]
    return "\n".join(lines)


def _short(sha: str | None) -> str:
    return sha[:8] if sha else "(no commit)"


def _delta(delta: float | None) -> str:
    if delta is None:
        return "-"
    return f"{delta:+.4g}"


def diff_runs(store, old: str = "latest~1", new: str = "latest", *, repo: str | os.PathLike | None = None) -> dict[str, Any]:
    """:func:`diff_records` of two run references (ids, prefixes, ``latest``, ``latest~N``) in ``store``."""
    old_id, new_id = store.resolve(old), store.resolve(new)
    return diff_records(store.read_record(old_id), store.read_record(new_id), repo=repo)
