"""``nbprod check``: which files, which checks, in which order; one :class:`CheckResult`.

Why the pipeline is always rendered (when there is one): what a notebook must
declare, and of which type, is what its task passes, so even a check of one
notebook (a pre-commit hook passes only the changed files) asks the pipeline;
a problem that keeps the pipeline from rendering is reported whichever files
were named, since a changed notebook can be its cause. Nothing here starts a
kernel or writes a file, except ``fix``, which strips notebooks in place
(:func:`nbprod.check.outputs.strip`) before they are checked.

Which files, without paths: every notebook and script task of the pipeline,
the pipeline's spec, its ``env*.yaml`` and ``nbprod.yaml``. A folder means the
notebooks under it (products such as executed notebooks, hidden folders and
``.ipynb_checkpoints`` left out), its spec and env files, and the pipeline's
script tasks in it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..engine.inspect import PipelineInfo, TaskInfo
from ..errors import ConfigError
from . import documents, lint, outputs, params, pipeline as spec, secrets
from .problems import CheckResult, Fixed, Problem

DOCUMENTS = (".ipynb", ".py")
YAML = (".yaml", ".yml")
ENV_FILES = ("env.yaml", "env.*.yaml", "env.yml", "env.*.yml")  # ploomber's names (not environment.yml)


def check(paths: Iterable[str | os.PathLike] = (), *, entry_point: str | os.PathLike | None = None,
          fix: bool = False) -> CheckResult:
    """Check ``paths`` (default: the whole project of ``entry_point``, or of the pipeline.yaml a
    build here would load). Raises ConfigError (exit 2) for a path that does not exist or cannot
    be checked, and when there is neither a path nor a pipeline."""
    paths = [Path(p) for p in paths]
    info = _pipeline(entry_point, required=not paths)
    files = _targets(paths, info)
    problems, fixed = _check_files(files, info, fix)
    shown = [documents.shown(p) for p in files]
    order = {name: i for i, name in enumerate(shown)}
    problems.sort(key=lambda p: (order.get(p.path, len(order)), p.cell if p.cell is not None else -1,
                                 p.line or 0))
    return CheckResult(files=tuple(shown), problems=tuple(problems), fixed=tuple(fixed))


def _check_files(files: list[Path], info: PipelineInfo | None, fix: bool) -> tuple[list[Problem], list[Fixed]]:
    """The pipeline's problems, then each file's (notebooks stripped first with ``fix``)."""
    tasks: dict[Path, list[TaskInfo]] = {}
    for task in info.tasks if info else ():
        tasks.setdefault(task.source, []).append(task)
    problems: list[Problem] = spec.spec_problems(info) if info else []
    fixed: list[Fixed] = []
    for path in files:
        if path.suffix in YAML:
            problems += spec.yaml_problems(path, spec=info is not None and path == info.entry_point)
            continue
        found, stripped = _document(path, tasks.get(path, []), fix)
        problems += found
        fixed += [stripped] if stripped is not None else []
    return problems, fixed


def _pipeline(given: str | os.PathLike | None, *, required: bool) -> PipelineInfo | None:
    """The rendered pipeline: the one kept by the last check when nothing that shapes it has
    changed (:mod:`nbprod.engine.recall`: no ploomber import), else rendered now and kept."""
    from ..engine.recall import recalled

    _lighter_imports()
    info = recalled(given)
    if info is not None:
        return info
    entry = _entry_point(given, required=required)
    if entry is None:
        return None
    from ..engine.inspect import inspect_pipeline
    from ..engine.recall import remember

    info = inspect_pipeline(entry)
    remember(given, info)
    return info


def _lighter_imports() -> None:
    """Keep jsonschema (which nbformat, and so papermill and ploomber, import) from loading
    ``rfc3987_syntax``: JupyterLab's jupyter-events installs it, and it builds a Lark grammar at
    import time, a second or more of the check's two, for the ``iri`` format no notebook schema
    uses. Only in a process that has not imported jsonschema yet (the ``nbprod check`` command):
    jsonschema then skips that one format checker, as it does when the package is absent."""
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _document(path: Path, tasks: list[TaskInfo], fix: bool) -> tuple[list[Problem], Fixed | None]:
    """Every check of one notebook or script (stripped first with ``fix``)."""
    doc = documents.read(path)
    if isinstance(doc, Problem):
        return [doc], None
    stripped = None
    if fix:
        removed = outputs.strip(doc)
        if removed:
            documents.write(doc)
            stripped = Fixed(doc.shown, removed)
    defined = tuple(sorted({name for task in tasks for name in task.injected}))
    found = [*outputs.committed(doc), *params.check(doc, tasks), *lint.check(doc, defined),
             *secrets.check_document(doc)]
    return found, stripped


def _entry_point(given: str | os.PathLike | None, *, required: bool) -> Path | None:
    from ..engine.inspect import find_entry_point

    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise ConfigError(f"--entry-point {given}: no such file", hint="pass the pipeline's spec, e.g. pipeline.yaml")
        return path.resolve()
    found = find_entry_point()
    if found is None and required:
        wanted = os.environ.get("ENTRY_POINT") or "pipeline.yaml"
        raise ConfigError(f"no {wanted} in {os.getcwd()} or a folder above it",
                          hint="run nbprod check in the project, pass --entry-point PATH, or name the files to check")
    return found


def _targets(paths: list[Path], info: PipelineInfo | None) -> list[Path]:
    """The files to check, each once, in order."""
    found: list[Path] = []
    if not paths:
        found += _project_files(info) if info else []
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder", hint="name notebooks, scripts, YAML files or folders")
        if path.is_dir():
            found += _folder(path.resolve(), info)
        elif path.suffix in DOCUMENTS + YAML:
            found.append(path.resolve())
        else:
            raise ConfigError(f"{path}: not a file nbprod check reads",
                              hint="it checks notebooks (.ipynb), scripts (.py) and YAML files")
    return list(dict.fromkeys(found))


def _project_files(info: PipelineInfo) -> list[Path]:
    """The spec, the tasks' sources (those pipeline.yaml names, when it does not load), env files,
    nbprod.yaml."""
    sources = [t.source for t in info.tasks] or _named_sources(info.entry_point)
    return [info.entry_point, *sources, *_settings(info.root, info)]


def _settings(folder: Path, info: PipelineInfo | None) -> list[Path]:
    envs = sorted(p for pattern in ENV_FILES for p in folder.glob(pattern))
    extra = [info.env_file] if info and info.env_file and info.env_file.parent == folder else []
    nbprod = [folder / "nbprod.yaml"] if (folder / "nbprod.yaml").is_file() else []
    return [*envs, *extra, *nbprod]


def _named_sources(entry: Path) -> list[Path]:
    """The task sources a spec that does not load names literally (no templates, no globs)."""
    import yaml

    try:
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    tasks = data.get("tasks") if isinstance(data, dict) else None
    found = []
    for task in tasks if isinstance(tasks, list) else []:
        source = task.get("source") if isinstance(task, dict) else None
        if isinstance(source, str) and not any(c in source for c in "{*?["):
            path = (entry.parent / source).resolve()
            if path.suffix in DOCUMENTS and path.is_file():
                found.append(path)
    return found


def _folder(folder: Path, info: PipelineInfo | None) -> list[Path]:
    """Notebooks under a folder (not products, not hidden, not checkpoints), its spec and settings
    files, and the pipeline's script tasks in it."""
    products = {p.resolve() for t in info.tasks for p in t.products} if info else set()
    notebooks = sorted(p.resolve() for p in folder.rglob("*.ipynb")
                       if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    scripts = [t.source for t in info.tasks if t.kind == "script" and t.source.is_relative_to(folder)] if info else []
    specs = sorted(p.resolve() for pattern in ("pipeline*.yaml", "pipeline*.yml") for p in folder.glob(pattern))
    return [*specs, *(p for p in notebooks if p not in products), *scripts, *_settings(folder, info)]
