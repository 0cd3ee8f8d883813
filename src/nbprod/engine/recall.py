"""The last rendered pipeline, kept with what it was rendered from, so ``nbprod check`` can
skip ploomber when nothing that shapes the render has changed.

Why: importing ploomber (pandas, networkx, papermill, nbconvert, IPython's debugger,
sqlalchemy, matplotlib through ploomber-engine) is ~4 s of a check that is otherwise well
under one; a pre-commit hook pays it on every commit, yet what the pipeline passes each
notebook changes only when the spec, an env file or a notebook's parameters cell does.

What shapes the render, and so the key (:func:`_key`): nbprod's and ploomber's versions and
the interpreter; the working directory, the user, ``ENTRY_POINT`` and every ``PLOOMBER_*``
variable; every file ploomber's entry-point search looks at (``setup.cfg``, ``setup.py``,
the spec's name and ``src/*/<name>``, from the working directory up: the levels it climbs);
the bytes of every YAML file beside the spec; and, of each task's source, the parameters
cells and kernelspec of a notebook (its other cells do not change the render) or the whole
text of a script. Only a render that succeeded is kept, and only of a pipeline whose render
runs no code of the user's (:attr:`PipelineInfo.runs_no_code`: every task a notebook or a
script, no clients, serializers or task hooks, the pipeline hooks nbprod's own, no
``import_tasks_from``/``source_loader``) and that uses no placeholder but ``{{here}}``,
``{{cwd}}``, ``{{root}}``, ``{{user}}`` and the env file's own keys, as Jinja itself finds them (``{{now}}``, ``{{git}}`` or ``{{env.X}}`` differ from
one check to the next).
Anything else renders each time: a stale answer would be a wrong check.

The kept render is ``.nbprod/render.json`` beside the spec (git-ignored by
:func:`~nbprod.engine.buildlock.state_dir`), written whole or not at all.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .inspect import PipelineInfo, TaskInfo

FILE = "render.json"
_LEVELS = 7  # ploomber climbs 6 levels above the start: the start and 6 parents
_SAFE_PLACEHOLDERS = {"here", "cwd", "root", "user"}


def recalled(given: str | os.PathLike | None) -> PipelineInfo | None:
    """The pipeline a check with this ``--entry-point`` (None: ploomber's search from the
    working directory) would render, when the kept one is still exact; else None."""
    folder = Path(given).resolve().parent if given is not None else Path.cwd()
    try:
        kept = json.loads((folder / ".nbprod" / FILE).read_text(encoding="utf-8"))
        info = _info(kept["info"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if kept.get("key") != _key(given, info):
        return None
    return info


def remember(given: str | os.PathLike | None, info: PipelineInfo) -> bool:
    """Keep ``info`` (rendered for this ``--entry-point``, None when searched) for
    :func:`recalled`, when its render can be judged from files alone; whether it was kept."""
    from ..files import atomic_write
    from .buildlock import state_dir

    if given is None and info.root != Path.cwd():
        return False  # found in a parent folder: the next search may not start there
    if info.problems or not info.runs_no_code or not _placeholders_known(info):
        return False
    data = _plain(info)
    if _info(json.loads(json.dumps(data))) != info:
        return False  # a value JSON does not give back as it was (a tuple, a date)
    payload = {"key": _key(given, info), "info": data}
    try:
        atomic_write(state_dir(info.root) / FILE, json.dumps(payload, indent=1).encode("utf-8"))
    except OSError:
        return False  # a read-only project: the check still works, only slower
    return True


def _placeholders_known(info: PipelineInfo) -> bool:
    """Whether the spec and env file use no placeholder but the safe ones and the env's keys."""
    from jinja2 import Environment, TemplateSyntaxError, meta

    names: set[str] = set()
    for path in (info.entry_point, info.env_file):
        if path is not None:
            try:  # every variable a template reads: {{ now }}, {{ (git) }}, {% if env.X %}...
                names |= meta.find_undeclared_variables(Environment().parse(path.read_text(encoding="utf-8")))
            except TemplateSyntaxError:
                return False
    return all(name in _SAFE_PLACEHOLDERS or name in info.env for name in names)


def _key(given: str | os.PathLike | None, info: PipelineInfo) -> dict[str, Any]:
    from importlib import metadata

    from .. import __version__

    try:
        ploomber = metadata.version("ploomber")
    except metadata.PackageNotFoundError:
        ploomber = None
    cwd = Path.cwd()
    return {
        "nbprod": __version__, "ploomber": ploomber, "prefix": sys.prefix, "python": sys.version,
        "cwd": str(cwd), "user": _user(), "given": None if given is None else str(Path(given).resolve()),
        "environ": {k: v for k, v in sorted(os.environ.items()) if k == "ENTRY_POINT" or k.startswith("PLOOMBER_")},
        "search": _search(cwd) if given is None else {},
        "yaml": {p.name: _digest(p) for p in sorted(info.root.glob("*.y*ml"))},
        # ploomber prefers an env file in the working directory to the spec's (`-e` from elsewhere)
        "cwd_env": {p.name: _digest(p) for p in sorted(cwd.glob("env*.y*ml"))} if cwd != info.root else {},
        "sources": {str(t.source): _source(t.source) for t in info.tasks},
    }


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no name for this uid (a container)
        return None


def _search(start: Path) -> dict[str, Any]:
    """What ploomber's entry-point search reads, from ``start`` up the levels it climbs."""
    name = os.environ.get("ENTRY_POINT") or "pipeline.yaml"
    seen: dict[str, Any] = {}
    for folder in [start, *start.parents][:_LEVELS]:
        for path in (folder / "setup.cfg", folder / "setup.py", folder / name, *sorted(folder.glob(f"src/*/{name}"))):
            seen[str(path)] = _digest(path)
    return seen


def _source(path: Path) -> str | None:
    """What of a task's source shapes the render: a notebook's parameters cells and kernelspec,
    a script's whole text (None when it does not exist or is not valid JSON)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if path.suffix != ".ipynb":
        return hashlib.sha256(raw).hexdigest()
    try:
        nb = json.loads(raw)
        cells = [c.get("source") for c in nb.get("cells", [])
                 if "parameters" in ((c.get("metadata") or {}).get("tags") or [])]
        shaped = {"parameters": cells, "kernelspec": (nb.get("metadata") or {}).get("kernelspec")}
    except (ValueError, AttributeError):
        return None
    return hashlib.sha256(json.dumps(shaped, sort_keys=True).encode("utf-8")).hexdigest()


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _plain(info: PipelineInfo) -> dict[str, Any]:
    data = asdict(info)
    data["entry_point"] = str(info.entry_point)
    data["env_file"] = None if info.env_file is None else str(info.env_file)
    data["tasks"] = [{**asdict(t), "source": str(t.source), "products": [str(p) for p in t.products],
                      "injected": list(t.injected)} for t in info.tasks]
    data["problems"] = []
    data["graph"] = {name: list(up) for name, up in info.graph.items()}
    return data


def _info(data: dict[str, Any]) -> PipelineInfo:
    tasks = tuple(TaskInfo(name=t["name"], kind=t["kind"], source=Path(t["source"]), params=dict(t["params"]),
                           injected=tuple(t["injected"]), products=tuple(Path(p) for p in t["products"]),
                           kernelspec=t["kernelspec"]) for t in data["tasks"])
    return PipelineInfo(entry_point=Path(data["entry_point"]),
                        env_file=None if data["env_file"] is None else Path(data["env_file"]),
                        env=dict(data["env"]), tasks=tasks, runs_no_code=data["runs_no_code"],
                        graph={name: tuple(up) for name, up in data["graph"].items()})
