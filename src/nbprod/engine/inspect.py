"""A pipeline rendered without running it, described as plain data for ``nbprod check``.

Why here: what the pipeline passes each notebook (``params`` in pipeline.yaml,
rendered with env.yaml's values, which are also ``--env--``'s defaults), where
each task's source and products are, which kernel it would start, and whether
the spec renders at all are ploomber's answers, and only :mod:`nbprod.engine`
imports ploomber. This module loads the spec the way a build does (the source
notebooks left alone, :func:`~nbprod.engine.params.leave_sources_alone`),
renders the DAG without its hooks (no lock, no record, no kernel) and returns
frozen dataclasses; :mod:`nbprod.check` judges them.

Two of ploomber's checks are taken over so that every problem is named, not
only the first: ploomber stops loading at the first notebook whose kernelspec
is not installed, so kernels are not looked up while loading and each task's
kernel name is returned instead (the check asks jupyter_client about all of
them); a cycle is named task by task (ploomber says only that there is one).
A spec that does not load or render gives one :class:`SpecProblem`, with the
pipeline.yaml line when the message names a key, a source or an upstream task.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

INJECTED = ("product", "upstream")


@dataclass(frozen=True)
class TaskInfo:
    """One notebook or script task as the pipeline renders it."""

    name: str
    kind: str  # "notebook" (.ipynb) or "script" (a .py NotebookRunner or ScriptRunner)
    source: Path  # absolute
    params: dict[str, Any] = field(default_factory=dict)  # rendered, without product/upstream
    injected: tuple[str, ...] = ()  # every name papermill injects (params, product, upstream)
    products: tuple[Path, ...] = ()  # absolute
    kernelspec: str | None = None  # the kernel ploomber would start (None for a ScriptRunner)


@dataclass(frozen=True)
class SpecProblem:
    """Why the spec does not load or render: one line, and the spec's line when known."""

    message: str
    line: int | None = None


@dataclass(frozen=True)
class PipelineInfo:
    """A rendered pipeline: its files, env defaults, notebook/script tasks and problems."""

    entry_point: Path
    env_file: Path | None = None
    env: dict[str, Any] = field(default_factory=dict)  # the env file's values (--env-- defaults)
    tasks: tuple[TaskInfo, ...] = ()
    problems: tuple[SpecProblem, ...] = ()  # empty when the pipeline renders
    runs_no_code: bool = False  # the render imports none of the user's code (:func:`_runs_no_code`)
    # every task (functions and SQL too) -> the names of its upstream tasks, in ploomber's order
    graph: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.entry_point.parent


def find_entry_point(start: str | os.PathLike | None = None) -> Path | None:
    """The spec a build in ``start`` (default: the working directory) would load, as
    ploomber finds it (``ENTRY_POINT`` honoured, parent folders searched); None when none."""
    from .dag import quiet_ploomber

    quiet_ploomber()
    from ploomber.util import default

    try:
        found = default.entry_point(root_path=str(start) if start else None)
    except Exception:  # ploomber's "no pipeline.yaml found"
        return None
    path = Path(found)  # relative to the working directory, ``start`` included
    return path.resolve() if path.is_file() else None


def inspect_pipeline(entry_point: str | os.PathLike) -> PipelineInfo:
    """Load and render the spec at ``entry_point`` (no hooks, no kernel, nothing written)."""
    from .dag import quiet_ploomber

    quiet_ploomber()
    entry = Path(entry_point).resolve()
    env_file = _env_file(entry)
    dag, spec, problem = _rendered(entry)
    found = [_task_info(dag[name], entry.parent) for name in dag._iter()] if dag is not None else []
    tasks = tuple(t for t in found if t is not None)
    info = PipelineInfo(entry_point=entry, env_file=env_file, env=_env_values(env_file), tasks=tasks,
                        problems=(problem,) if problem is not None else (),
                        runs_no_code=_runs_no_code(spec, len(tasks)),
                        graph=_graph(dag))
    return info


def _rendered(entry: Path) -> tuple[Any, Any, SpecProblem | None]:
    """(the DAG, its spec's data, None) when it renders; (the DAG or None, the data or None,
    the problem) when it does not."""
    from ploomber.exceptions import DAGCycle, DAGWithDuplicatedProducts
    from ploomber.spec import DAGSpec

    from .params import leave_sources_alone

    dag = data = None
    with warnings.catch_warnings(), leave_sources_alone(), _kernels_not_looked_up():
        warnings.simplefilter("ignore")  # papermill's "unknown parameter": the check says it better
        try:
            spec = DAGSpec(str(entry))
            data = spec.data
            dag = spec.to_dag()
            dag.on_render = dag.on_finish = dag.on_failure = None  # nbprod's hooks: lock, record
            dag.render(force=True, show_progress=False)
        except DAGCycle:
            return dag, data, SpecProblem(f"the tasks' upstream dependencies form a cycle ({_cycle(dag)})")
        except DAGWithDuplicatedProducts:
            return dag, data, SpecProblem(_duplicates(dag, entry.parent))
        except Exception as err:
            return dag if _loaded(dag) else None, data, _problem(err, entry)
    return dag, data, None


_HOOKS = ("on_render", "on_finish", "on_failure")
_CODE_KEYS = {"clients", "serializer", "unserializer"}  # dotted paths to the user's code
_TASK_CODE_KEYS = {*_HOOKS, "serializer", "unserializer", "client", "product_client", "grid"}


def _runs_no_code(data: Any, notebooks: int) -> bool:
    """Whether rendering the spec ``data`` imports none of the user's code: every task one of
    the ``notebooks`` (notebook or script) tasks, no clients, serializers, task hooks or grids,
    the pipeline's hooks nbprod's own, no ``import_tasks_from`` or ``source_loader``."""
    data = dict(data) if isinstance(data, Mapping) else {}
    meta = data.get("meta") or {}
    if _CODE_KEYS & set(data) or meta.get("import_tasks_from") or meta.get("source_loader"):
        return False
    if not all(_nbprod_hook(data.get(hook)) for hook in _HOOKS):
        return False
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or len(tasks) != notebooks:
        return False  # a task that is neither a notebook nor a script (a function, SQL)
    return all(isinstance(t, Mapping) and not _TASK_CODE_KEYS & set(t) for t in tasks)


def _nbprod_hook(value: Any) -> bool:
    if value is None:
        return True
    dotted = value.get("dotted_path") if isinstance(value, Mapping) else value
    return isinstance(dotted, str) and dotted.startswith("nbprod.")


def _graph(dag) -> dict[str, tuple[str, ...]]:
    """Every task -> its upstream tasks' names, in execution order (as written when they form a cycle)."""
    if dag is None:
        return {}
    try:
        names = list(dag)  # topological
    except Exception:  # a cycle: there is no execution order
        names = list(dag._iter())
    return {name: tuple(dag[name].upstream) for name in names}


def _loaded(dag) -> bool:
    """Whether a DAG that failed to render still describes its tasks (its sources loaded)."""
    return dag is not None and len(dag) > 0


@contextlib.contextmanager
def _kernels_not_looked_up() -> Iterator[None]:
    """While loading, ploomber asks jupyter_client for each notebook's kernel and stops at the
    first missing one; the check looks them all up itself (:attr:`TaskInfo.kernelspec`)."""
    from ploomber.sources.notebooksource import NotebookSource

    saved = NotebookSource.__init__

    def init(self, *args, **kwargs):
        kwargs["check_if_kernel_installed"] = False
        saved(self, *args, **kwargs)

    NotebookSource.__init__ = init
    try:
        yield
    finally:
        NotebookSource.__init__ = saved


def _task_info(task, root: Path) -> TaskInfo | None:
    from ploomber.tasks import NotebookRunner, ScriptRunner

    from .tasks import _plain_params, _product_paths

    if not isinstance(task, (NotebookRunner, ScriptRunner)):
        return None
    source = Path(str(task.source.loc)).resolve()
    kind = "notebook" if source.suffix == ".ipynb" else "script"
    products = tuple(_absolute(p, root) for p in _product_paths(task.product).values())
    return TaskInfo(name=task.name, kind=kind, source=source, params=_plain_params(task.params),
                    injected=tuple(sorted(task.params)), products=products,
                    kernelspec=_kernel_name(task) if isinstance(task, NotebookRunner) else None)


def _kernel_name(task) -> str | None:
    """The kernel ploomber would start: the task's ``kernelspec_name``, else the notebook's."""
    named = getattr(task.source, "_kernelspec_name", None)
    if named:
        return str(named)
    nb = getattr(task.source, "_nb_obj_unrendered", None)
    spec = (nb.metadata.get("kernelspec") or {}) if nb is not None else {}
    return spec.get("name") or None


def _absolute(path: str, root: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else root / path


def _env_file(entry: Path) -> Path | None:
    """The env file a build with this spec reads (engine.spec's rule, ploomber's answer)."""
    from .spec import spec_files

    class _Loaded:  # spec_files asks the DAG which spec it was loaded from
        _nbprod_entry_point = str(entry)

    env = spec_files(_Loaded()).get("env")
    return Path(env) if env else None


def _env_values(env_file: Path | None) -> dict[str, Any]:
    """The env file's own values, as written (ploomber's placeholders such as ``{{here}}`` left)."""
    if env_file is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(env_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return dict(data) if isinstance(data, dict) else {}


def _cycle(dag) -> str:
    import networkx

    try:
        edges = networkx.find_cycle(dag._G)
    except Exception:  # no graph to ask: say what ploomber said
        return "ploomber found no order to run them in"
    names = [str(edges[0][0]), *(str(v) for _, v in edges)]
    return " -> ".join(names)


def _duplicates(dag, root: Path) -> str:
    """Which tasks write the same product (ploomber's own check found some)."""
    from .tasks import _product_paths

    writers: dict[str, list[str]] = {}
    for name in dag._iter():
        for path in _product_paths(dag[name].product).values():
            writers.setdefault(os.path.normpath(_absolute(path, root)), []).append(name)
    shared = {path: names for path, names in writers.items() if len(names) > 1}
    return "; ".join(f"tasks {' and '.join(map(repr, names))} write the same product "
                     f"{os.path.relpath(path, root)}" for path, names in sorted(shared.items()))


# ploomber's wordings, and the pipeline.yaml line each one is about
_UNKNOWN_TOP = re.compile(r"the following keys aren't valid: (?P<keys>.+?)\. Valid keys are: (?P<valid>.+)$")
_UNKNOWN_TASK = re.compile(r"(?P<cls>\w+)\.__init__\(\) got an unexpected keyword argument '(?P<key>[^']+)'")
_NO_SOURCE = re.compile(r"Failed to initialize '(?P<path>[^']+)'\. File does not exist")
_NO_UPSTREAM = re.compile(r"Task '(?P<task>[^']+)' has an upstream dependency '(?P<up>[^']+)', but such task "
                          r"doesn't exist")


def _problem(err: BaseException, entry: Path) -> SpecProblem:
    """One line, in nbprod's words where ploomber's are unclear, with the spec's line."""
    from ..errors import NbprodError
    from .dag import explain

    import yaml

    bad_yaml = _in_chain(err, yaml.MarkedYAMLError)
    if bad_yaml is not None:
        mark = bad_yaml.problem_mark
        return SpecProblem(f"not valid YAML: {bad_yaml.problem}", mark.line + 1 if mark else None)
    own = _in_chain(err, NbprodError)
    text = NbprodError.__str__(own) if own is not None else explain(err)
    text = text.replace(str(entry.parent) + os.sep, "")
    if m := _UNKNOWN_TOP.search(text):
        keys = re.findall(r"'([^']+)'", m.group("keys"))
        return SpecProblem(f"unknown key{'s' if len(keys) > 1 else ''} {', '.join(map(repr, keys))} "
                           f"(valid: {m.group('valid')})", _line(entry, keys[0], top=True))
    if m := _UNKNOWN_TASK.search(text):
        return SpecProblem(f"unknown task key {m.group('key')!r} ({m.group('cls')} takes no such option)",
                           _line(entry, m.group("key"), key=True))
    if m := _NO_SOURCE.search(text):
        return SpecProblem(f"source {m.group('path')} does not exist", _line(entry, m.group("path")))
    if m := _NO_UPSTREAM.search(text):
        return SpecProblem(f"task {m.group('task')!r} names upstream task {m.group('up')!r}, which the "
                           "pipeline does not have", _line(entry, m.group("up")))
    return SpecProblem(text)


def _in_chain(err: BaseException, kind: type) -> Any:
    """The first exception of type ``kind`` among ``err`` and its causes (ploomber wraps
    nbprod's own errors and PyYAML's), else None."""
    current: BaseException | None = err
    while current is not None and not isinstance(current, kind):
        current = current.__cause__ or current.__context__
    return current


def _line(entry: Path, text: str, *, key: bool = False, top: bool = False) -> int | None:
    """The 1-based line of the first YAML key (``key``/``top``: only keys; ``top``: only the
    top level) or value equal to ``text`` in the spec; None when it is not there as written."""
    import yaml

    try:
        root = yaml.compose(entry.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    for node, is_key, depth in _scalars(root, 0):
        if node.value == text and (is_key or not (key or top)) and (depth == 0 or not top):
            return node.start_mark.line + 1
    return None


def _scalars(node, depth: int) -> Iterator[tuple[Any, bool, int]]:
    """Every scalar node of a YAML tree: (node, whether it is a mapping key, mapping depth)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield key, True, depth
            yield from _scalars(value, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item, depth)
    elif isinstance(node, yaml.ScalarNode):
        yield node, False, depth
