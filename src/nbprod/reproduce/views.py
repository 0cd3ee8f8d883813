"""What ``nbprod reproduce`` prints: a table, or ``--json`` (stable: sorted keys).

JSON::

    {"run": original id, "reproduction": new id, "verdict": "identical|equivalent|different",
     "differences": [{"what", "task", "name", "original", "reproduction", "level", "note"}],
     "compared": {"metrics", "scraps", "products", "notebooks", "packages", "kernels": counts},
     "store": url, "seconds": float, "worktree": path | null}
"""

from __future__ import annotations

import json
from typing import Any

from .run import Reproduction


def to_dict(result: Reproduction) -> dict[str, Any]:
    return {"run": result.run_id, "reproduction": result.new_run_id, "verdict": result.verdict,
            "differences": list(result.differences), "compared": dict(result.compared), "store": result.store,
            "seconds": result.seconds, "worktree": result.worktree}


def to_json(result: Reproduction) -> str:
    return json.dumps(to_dict(result), indent=2, sort_keys=True, default=str)


def to_text(result: Reproduction) -> str:
    from tabulate import tabulate

    c = result.compared
    lines = [
        f"run           {result.run_id}",
        f"reproduction  {result.new_run_id}   (recorded in {result.store}, {result.seconds:.1f} s)",
        f"verdict       {result.verdict}",
        f"compared      {c.get('metrics', 0)} metric(s), {c.get('scraps', 0)} other scrap(s), "
        f"{c.get('products', 0)} product(s) ({c.get('notebooks', 0)} notebook(s) normalized), "
        f"{c.get('packages', 0)} package(s), Python, {c.get('kernels', 0)} kernel(s)",
    ]
    if result.worktree:
        lines.append(f"worktree      {result.worktree}")
    if result.differences:
        rows = [[d["what"], d.get("task") or "-", _cell(d.get("name")), _cell(d.get("original")),
                 _cell(d.get("reproduction")), d["level"] + (f" ({d['note']})" if d.get("note") else "")]
                for d in result.differences]
        lines += ["", tabulate(rows, headers=["what", "task", "name", "original", "reproduction", "level"],
                               tablefmt="simple", disable_numparse=True)]
    else:
        lines += ["", "no differences"]
    return "\n".join(lines)


def _cell(value: Any, limit: int = 48) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value):
        return value[:12]  # a sha256
    return text if len(text) <= limit else text[: limit - 3] + "..."
