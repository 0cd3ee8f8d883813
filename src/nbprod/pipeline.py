"""Everything nbprod knows about ploomber, in one module.

ploomber (last release 2024) is kept behind this module so it can be replaced:
it loads a DAG the way ``ploomber build`` does, attaches nbprod's recording
hooks to any DAG (so ``nbprod build`` records projects that never heard of
nbprod), describes a built DAG's tasks as plain data for the recorder, and
repairs what ploomber leaves behind after a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .exceptions import PipelineError

# ploomber's telemetry and update check phone home; nbprod runs offline.
QUIET_ENV = {"PLOOMBER_STATS_ENABLED": "false", "PLOOMBER_VERSION_CHECK_DISABLED": "true"}


def quiet_ploomber() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@dataclass
class TaskView:
    """A task of a built DAG, as plain data."""

    name: str
    kind: str  # notebook | script | function | other
    status: str  # ploomber's TaskStatus value
    source: str | None
    params: dict[str, Any]
    upstream: list[str]
    products: dict[str, str] = field(default_factory=dict)  # key -> local path
    notebook: str | None = None  # the executed .ipynb, when there is one

    def product_files(self) -> Iterator[tuple[str, Path]]:
        """(product key, file) for every existing file, directories expanded."""
        for key, path in self.products.items():
            p = Path(path)
            if p.is_file():
                yield key, p
            elif p.is_dir():
                for child in sorted(p.rglob("*")):
                    if child.is_file():
                        yield f"{key}/{child.relative_to(p).as_posix()}", child


def describe(dag) -> list[TaskView]:
    """The DAG's tasks in execution order."""
    from ploomber.tasks import NotebookRunner, PythonCallable, ScriptRunner

    views = []
    for name in dag._iter():  # topological order
        task = dag[name]
        if isinstance(task, NotebookRunner):
            kind = "notebook"
        elif isinstance(task, ScriptRunner):
            kind = "script"
        elif isinstance(task, PythonCallable):
            kind = "function"
        else:
            kind = "other"
        products = _product_paths(task.product)
        views.append(
            TaskView(
                name=name,
                kind=kind,
                status=task.exec_status.value,
                source=_source_location(task),
                params=_plain_params(task.params),
                upstream=list(task.upstream),
                products=products,
                notebook=_notebook_path(task) if kind == "notebook" else None,
            )
        )
    return views


def _product_paths(product) -> dict[str, str]:
    try:
        serial = product.to_json_serializable()
    except Exception:  # a product that is not a file (SQL table, ...)
        return {"product": str(product)}
    if isinstance(serial, dict):
        return {str(k): str(v) for k, v in serial.items()}
    if isinstance(serial, list):
        return {str(i): str(v) for i, v in enumerate(serial)}
    return {"product": str(serial)}


def _source_location(task) -> str | None:
    loc = getattr(task.source, "loc", None)
    return str(loc) if loc else None


def _notebook_path(task) -> str | None:
    """Path of the executed .ipynb of a NotebookRunner task.

    ploomber executes into ``<nb product>.ipynb`` and, for an HTML/PDF product,
    converts and removes it on success; after a failure the partial .ipynb is
    left there. So: the product itself when it is a notebook, else the .ipynb
    beside it if one exists.
    """
    key = task.nb_product_key
    if isinstance(key, list):
        key = key[-1]
    product = task.product[key] if hasattr(task.product, "products") else task.product
    path = Path(str(product))
    ipynb = path.with_suffix(".ipynb")
    return str(ipynb) if path.suffix == ".ipynb" or ipynb.exists() else None


def _plain_params(params) -> dict[str, Any]:
    """A task's parameters without ploomber's injected product/upstream, JSON-safe."""
    plain = {}
    for key, value in params.items():
        if key in ("product", "upstream"):
            continue
        try:
            json.dumps(value)
            plain[key] = value
        except TypeError:
            plain[key] = repr(value)
    return plain


def reset_failed(dag, names: list[str]) -> list[tuple[Path, Path]]:
    """Make ploomber re-run these tasks next time, and hide their products.

    ploomber 0.23 keeps a failed task's previous success metadata, so the next
    build can skip it as up to date while its products are the failed run's.
    Deleting the metadata forces the re-run; renaming each product file to
    ``<stem>.failed<suffix>`` means nothing of a failed task is left looking
    complete under its final name (the partial notebook stays readable).
    Returns the (old, new) renames.
    """
    moved = []
    for name in names:
        task = dag[name]
        with contextlib.suppress(Exception):
            task.product.metadata.delete()
        for path in _product_paths(task.product).values():
            candidates = [Path(path)]
            if Path(path).suffix != ".ipynb":
                candidates.append(Path(path).with_suffix(".ipynb"))  # partial of an HTML nb
            for p in candidates:
                if p.exists():
                    target = failed_name(p)
                    if target.is_dir():
                        import shutil

                        shutil.rmtree(target)
                    os.replace(p, target)
                    moved.append((p, target))
    return moved


def failed_name(path: Path) -> Path:
    suffix = "".join(path.suffixes)
    stem = path.name[: -len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.failed{suffix}")


def project_root(entry_point: str | None = None) -> Path:
    """The folder of the pipeline's spec, where products and git are relative to."""
    if entry_point and Path(entry_point).is_file():
        return Path(entry_point).resolve().parent
    try:
        from ploomber.util import default

        return Path(default.entry_point()).resolve().parent
    except Exception:
        return Path.cwd()


def spec_files(root: Path) -> dict[str, Path]:
    """pipeline.yaml and env.yaml (as ploomber finds them) under root."""
    found = {}
    for name in ("pipeline.yaml", "env.yaml"):
        if (root / name).is_file():
            found[name] = root / name
    return found


# -- building -----------------------------------------------------------------


def build(argv: list[str]) -> Any:
    """Run ``ploomber build`` with ``argv``, with nbprod's hooks attached.

    Reuses ploomber's own argument parser (every ``ploomber build`` option and
    ``--env--NAME`` works), intercepting the loaded DAG to attach the hooks.
    ploomber errors propagate; :func:`explain` turns them into one line.
    """
    quiet_ploomber()
    from ploomber.cli import build as ploomber_build
    from ploomber.cli.parsers import CustomParser

    from . import hooks

    class RecordingParser(CustomParser):
        def load_from_entry_point_arg(self):
            dag, args = super().load_from_entry_point_arg()
            attach(dag, entry_point=self.parse_entry_point_value(), argv=["nbprod", "build", *argv])
            return dag, args

    saved_argv, saved_parser = sys.argv, ploomber_build.CustomParser
    sys.argv = ["nbprod build", *argv]
    ploomber_build.CustomParser = RecordingParser
    try:
        return ploomber_build.main(catch_exception=False)
    finally:
        sys.argv, ploomber_build.CustomParser = saved_argv, saved_parser


def explain(err: BaseException, limit: int = 400) -> str:
    """One line for an error ploomber raised while loading or building.

    ploomber wraps the real cause (a YAML error, a missing file) in layers of
    banners; the deepest exception in the chain says what is wrong, so its
    meaningful lines are joined into one.
    """
    chain = []
    current: BaseException | None = err
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for exc in reversed(chain):
        lines = _meaningful_lines(str(exc))
        if lines:
            text = " ".join(" ".join(lines).split())
            return text if len(text) <= limit else text[: limit - 3] + "..."
    return type(err).__name__


def _meaningful_lines(text: str) -> list[str]:
    skip = ("====", "----", "Need help", "Traceback", "Summary")
    return [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith(skip)]


def as_pipeline_error(err: BaseException) -> "NbprodError":
    """nbprod's own error if one caused ``err`` (ploomber wraps hook errors), else a PipelineError."""
    from .exceptions import NbprodError

    current: BaseException | None = err
    while current is not None:
        if isinstance(current, NbprodError):
            return current
        current = current.__cause__ or current.__context__
    return PipelineError(explain(err), hint="fix pipeline.yaml / the notebook and run again")


def attach(dag, *, entry_point: str | None = None, argv: list[str] | None = None) -> None:
    """Attach nbprod's recording hooks to a DAG, keeping the user's own hooks.

    A DAG whose pipeline.yaml already names nbprod's hooks is left as it is,
    so a build is never recorded twice.
    """
    from . import hooks

    dag._nbprod_entry_point = entry_point
    dag._nbprod_argv = list(argv or sys.argv)

    def chain(ours, theirs, extra: tuple[str, ...]):
        if theirs is None or getattr(theirs, "__module__", None) == hooks.__name__:
            return ours
        if getattr(getattr(theirs, "callable", None), "__module__", None) == hooks.__name__:
            return theirs  # a DottedPath to nbprod's own hook
        return ChainedHook(ours, theirs, ("dag", *extra))

    dag.on_render = chain(hooks.on_render, dag.on_render, ())
    dag.on_finish = chain(hooks.on_finish, dag.on_finish, ("report",))
    dag.on_failure = chain(hooks.on_failure, dag.on_failure, ("traceback",))


class ChainedHook:
    """The project's own DAG hook, then nbprod's.

    A class, not a closure: ploomber pickles the DAG (hooks included) to build
    function tasks in a subprocess.
    """

    def __init__(self, ours, theirs, names: tuple[str, ...]):
        self.ours, self.theirs, self.names = ours, theirs, names

    @property
    def __signature__(self):
        return _signature(self.names)

    def __call__(self, dag, **kwargs):
        from ploomber.util.util import callback_check

        available = {**dag._available_callback_kwargs, "dag": dag, **kwargs}
        try:
            self.theirs(**callback_check(self.theirs, available))
        finally:
            self.ours(dag, **kwargs)


def _signature(names: tuple[str, ...]):
    import inspect

    return inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )


def check_params(dag) -> None:
    """Fail a notebook task given a parameter its parameters cell does not declare.

    ploomber 0.23 only warns (or says nothing) and papermill injects the
    unknown name anyway, so a typo in pipeline.yaml or ``--env--`` silently
    runs the notebook on its default. Declared names are the assignments in
    the cell tagged ``parameters``.
    """
    import ast

    from ploomber.sources.nb_utils import find_cell_with_tag
    from ploomber.tasks import NotebookRunner, ScriptRunner

    problems = []
    for name in dag._iter():
        task = dag[name]
        if not isinstance(task, (NotebookRunner, ScriptRunner)):
            continue
        nb = getattr(task.source, "_nb_obj_unrendered", None)
        if nb is None:
            continue
        cell, _ = find_cell_with_tag(nb, "parameters")
        if cell is None:
            continue  # ploomber itself rejects parameters without a parameters cell
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # the kernel will report it, with the cell
        declared = {
            target.id
            for node in ast.walk(tree)
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        unknown = sorted(set(task.params) - declared - {"product", "upstream"})
        if unknown:
            problems.append(
                f"task '{name}' ({task.source.loc}) got parameter(s) {', '.join(unknown)} "
                f"that its parameters cell does not declare (it declares: "
                f"{', '.join(sorted(declared)) or 'nothing'})"
            )
    if problems:
        raise PipelineError(
            "; ".join(problems), hint="fix the parameter name in pipeline.yaml/env.yaml or declare it in the notebook"
        )
