"""nbprod.engine (dag, tasks, params, repair, hooks, entry) over in-memory ploomber DAGs.

Fast: no Jupyter kernel and no subprocess. Function tasks run in this process
(``Serial(build_in_subprocess=False)``); notebook and script tasks are only
rendered, which reads their source and starts nothing. What a Build touches
process-wide is contained per test (as in tests/nbprod/record/test_lifetime.py):
SIGINT/SIGTERM handlers are put back, a Build's ``atexit`` callbacks go to a
fake registry, and the store and spool are folders under tmp_path.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import pickle
import signal
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from nbprod import errors, redact, schema
from nbprod.engine import dag as engine_dag
from nbprod.engine import hooks
from nbprod.engine.entry import project_root
from nbprod.engine.params import check_params
from nbprod.engine.repair import failed_name, metadata_of, product_of, reset_failed
from nbprod.engine.tasks import _product_paths, describe, elapsed, to_download
from nbprod.errors import ConfigError, NbprodError, PipelineError
from nbprod.record import provenance
from nbprod.record.lifetime import Build
from nbprod.record.taskview import ABORTED, ERRORED, EXECUTED, PENDING, SKIPPED
from isolation import exits  # noqa: F401  (autouse: a Build's at-exit callbacks stay in the test)

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")

from ploomber import DAG  # noqa: E402
from ploomber.constants import TaskStatus  # noqa: E402
from ploomber.exceptions import DAGBuildError, DAGRenderError  # noqa: E402
from ploomber.executors import Serial  # noqa: E402
from ploomber.products import File, SQLiteRelation  # noqa: E402
from ploomber.tasks import Link, NotebookRunner, PythonCallable, ScriptRunner  # noqa: E402
from ploomber.util.dotted_path import DottedPath  # noqa: E402
from ploomber.util.util import callback_check  # noqa: E402

_PACKAGES = functools.cache(provenance.package_versions)  # ~0.3 s: once per process

# ploomber's multi-line "DAG render with warnings" banners (e.g. unused parameters): expected here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:ploomber.dag.dag")


# -- containment -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _contained(monkeypatch, tmp_path):
    for name in list(os.environ):
        if redact.is_secret_name(name) or name.startswith("NBPROD_") or name == "ENTRY_POINT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("NBPROD_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    monkeypatch.setenv("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    monkeypatch.setattr(provenance, "package_versions", _PACKAGES)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.chdir(tmp_path)  # project_root() falls back to the working directory
    CALLS.clear()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


# -- task functions (module level: ploomber needs importable, picklable callables) -------------

CALLS: list[tuple] = []


def write_ok(product):
    Path(str(product)).write_text("ok")


def write_after(product, upstream):
    Path(str(product)).write_text("after " + ",".join(sorted(upstream)))


def fail_after_partial(product, upstream):
    Path(str(product)).write_text("partial")
    raise RuntimeError("kaboom: the model diverged")


def write_pair(product):
    for key in ("data", "model"):
        Path(str(product[key])).write_text(key)


def write_folder(product):
    folder = Path(str(product))
    folder.mkdir(exist_ok=True)
    (folder / "part-0.csv").write_text("new")


def with_params(product, upstream, alpha, where, config):
    Path(str(product)).write_text(str(alpha))


# stand-ins for nbprod's hooks, so attach()'s chaining is seen without recording a run
def fake_on_render(dag):
    CALLS.append(("nbprod.on_render", dag))


def fake_on_finish(dag, report):
    CALLS.append(("nbprod.on_finish", dag, report))


def fake_on_failure(dag, traceback):
    CALLS.append(("nbprod.on_failure", dag, traceback))


# the project's own hooks, each declaring a different subset of what ploomber offers
def user_on_finish(report):
    CALLS.append(("user.on_finish", report))


def user_on_finish_with_dag(dag, report):
    CALLS.append(("user.on_finish", dag, report))


def user_on_finish_labelled(report, label):
    CALLS.append(("user.on_finish", label))


def user_on_failure(traceback):
    CALLS.append(("user.on_failure", traceback))


def user_on_render():
    CALLS.append(("user.on_render",))


def user_on_finish_raises(report):
    CALLS.append(("user.on_finish",))
    raise ValueError("user hook broke")


# -- helpers ------------------------------------------------------------------------------------


def serial_dag() -> DAG:
    return DAG(executor=Serial(build_in_subprocess=False))


def chain_dag(tmp_path: Path, *, failing: bool = True) -> DAG:
    """a -> b -> c, with b raising when ``failing``."""
    dag = serial_dag()
    a = PythonCallable(write_ok, File(tmp_path / "a.txt"), dag, name="a")
    b = PythonCallable(fail_after_partial if failing else write_after, File(tmp_path / "b.txt"), dag, name="b")
    c = PythonCallable(write_after, File(tmp_path / "c.txt"), dag, name="c")
    a >> b >> c
    return dag


def by_name(dag) -> dict:
    return {v.name: v for v in describe(dag)}


def notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in (cells or ("print('hi')",))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def raise_chain(*excs: BaseException) -> BaseException:
    """Raise excs[0], then excs[1] from it, ...; the last, with its chain, is returned."""
    caught = None
    for exc in excs:
        try:
            if caught is None:
                raise exc
            raise exc from caught
        except BaseException as err:  # noqa: BLE001
            caught = err
    return caught


# ============================================================================================
# tasks.describe
# ============================================================================================


def test_describe_after_a_build_where_a_task_raises_maps_errored_and_aborted(tmp_path):
    dag = chain_dag(tmp_path)
    with pytest.raises(DAGBuildError):
        dag.build(force=True)

    views = describe(dag)

    assert [v.name for v in views] == ["a", "b", "c"]
    assert [v.outcome for v in views] == [EXECUTED, ERRORED, ABORTED]
    a, b, c = views
    assert {v.kind for v in views} == {"function"}
    assert (a.upstream, b.upstream, c.upstream) == ([], ["a"], ["b"])
    assert b.products == {"product": str(tmp_path / "b.txt")}
    assert b.source and Path(__file__).name in b.source  # where the function is defined
    assert b.params == {} and b.notebook is None  # product and upstream are not parameters


def test_describe_marks_up_to_date_tasks_skipped_on_a_second_build(tmp_path):
    dag = chain_dag(tmp_path, failing=False)
    dag.build(force=True)
    assert [v.outcome for v in describe(dag)] == [EXECUTED, EXECUTED, EXECUTED]

    (tmp_path / "c.txt").unlink()  # only c is outdated now
    dag.build()

    assert [(v.name, v.outcome) for v in describe(dag)] == [("a", SKIPPED), ("b", SKIPPED), ("c", EXECUTED)]


def test_describe_lists_tasks_in_execution_order_whatever_order_they_were_added(tmp_path):
    dag = serial_dag()
    c = PythonCallable(write_after, File(tmp_path / "c.txt"), dag, name="c")
    b = PythonCallable(write_after, File(tmp_path / "b.txt"), dag, name="b")
    a = PythonCallable(write_ok, File(tmp_path / "a.txt"), dag, name="a")
    a >> b >> c
    dag.render(force=True)

    assert [v.name for v in describe(dag)] == list(dag) == ["a", "b", "c"]


_EXPECTED_OUTCOME = {
    "executed": EXECUTED,
    "skipped": SKIPPED,
    "errored": ERRORED,
    "broken_process_pool": ERRORED,
    "aborted": ABORTED,
    "waiting_render": PENDING,
    "waiting_execution": PENDING,
    "waiting_upstream": PENDING,
    "waiting_download": PENDING,
    "errored_render": PENDING,
    "aborted_render": PENDING,
}


def test_every_ploomber_task_status_has_an_expected_outcome():
    # a status added by a new ploomber fails here, instead of silently becoming "pending"
    assert set(_EXPECTED_OUTCOME) == {s.value for s in TaskStatus}


@pytest.mark.parametrize("status", list(TaskStatus), ids=lambda s: s.value)
def test_describe_maps_each_ploomber_status_to_an_nbprod_outcome(tmp_path, status):
    dag = serial_dag()
    PythonCallable(write_ok, File(tmp_path / "a.txt"), dag, name="a")
    dag["a"]._exec_status = status  # bypass ploomber's propagation: only the mapping is tested

    (view,) = describe(dag)

    assert view.outcome == _EXPECTED_OUTCOME[status.value]


def test_describe_a_task_with_a_metaproduct_lists_every_product_by_key(tmp_path):
    dag = serial_dag()
    PythonCallable(write_pair, {"data": File(tmp_path / "d.csv"), "model": File(tmp_path / "m.pkl")}, dag,
                   name="train")
    dag.build(force=True)

    (view,) = describe(dag)

    assert view.outcome == EXECUTED
    assert view.products == {"data": str(tmp_path / "d.csv"), "model": str(tmp_path / "m.pkl")}
    assert sorted(k for k, _ in view.product_files()) == ["data", "model"]


def test_describe_params_drop_product_and_upstream_and_repr_what_is_not_json(tmp_path):
    dag = serial_dag()
    up = PythonCallable(write_ok, File(tmp_path / "a.txt"), dag, name="a")
    where = Path("data") / "raw.csv"
    config = {"lr": 0.1, "layers": [8, 4], "name": "net"}
    task = PythonCallable(with_params, File(tmp_path / "b.txt"), dag, name="b",
                          params={"alpha": 3, "where": where, "config": config})
    up >> task
    dag.render(force=True)
    assert {"product", "upstream"} <= set(task.params)  # ploomber injected them

    view = by_name(dag)["b"]

    assert view.params == {"alpha": 3, "where": repr(where), "config": config}
    json.dumps(view.params)  # what the recorder will write


def test_describe_kinds_and_the_executed_notebook(tmp_path):
    dag = serial_dag()
    src = notebook(tmp_path / "nb.ipynb", "product = None")
    NotebookRunner(src, File(tmp_path / "out" / "nb.ipynb"), dag, name="as_ipynb")
    NotebookRunner(src, File(tmp_path / "out" / "report.html"), dag, name="as_html")
    NotebookRunner(src, {"nb": File(tmp_path / "out" / "meta.html"), "data": File(tmp_path / "out" / "d.csv")},
                   dag, name="as_meta")
    script = tmp_path / "s.py"
    script.write_text('# %% tags=["parameters"]\nproduct = None\n\n# %%\nprint(1)\n')
    ScriptRunner(script, File(tmp_path / "out" / "s.csv"), dag, name="script")
    PythonCallable(write_ok, File(tmp_path / "out" / "f.txt"), dag, name="function")
    (tmp_path / "external.csv").write_text("x")  # a Link points at a file that exists
    Link(File(tmp_path / "external.csv"), dag, name="link")
    dag.render(force=True)

    views = by_name(dag)
    assert {n: v.kind for n, v in views.items()} == {
        "as_ipynb": "notebook", "as_html": "notebook", "as_meta": "notebook",
        "script": "script", "function": "function", "link": "other",
    }
    assert views["as_ipynb"].notebook == str(tmp_path / "out" / "nb.ipynb")  # the product itself
    assert views["as_html"].notebook is None  # converted and removed: nothing to point at
    assert views["as_meta"].notebook is None
    assert views["script"].notebook is None and views["function"].notebook is None
    assert views["as_ipynb"].source == str(src)

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.ipynb").write_text("{}")  # a failed run leaves the partial .ipynb
    (tmp_path / "out" / "meta.ipynb").write_text("{}")
    views = by_name(dag)
    assert views["as_html"].notebook == str(tmp_path / "out" / "report.ipynb")
    assert views["as_meta"].notebook == str(tmp_path / "out" / "meta.ipynb")


class _NotAFile:
    def to_json_serializable(self):
        raise NotImplementedError

    def __str__(self):
        return "warehouse.table"


def test_product_paths_for_file_metaproduct_and_non_file_products(tmp_path):
    dag = serial_dag()
    t = PythonCallable(write_ok, [File(tmp_path / "x.csv"), File(tmp_path / "y.csv")], dag, name="listed")

    assert _product_paths(File(tmp_path / "a.txt")) == {"product": str(tmp_path / "a.txt")}
    assert _product_paths(t.product) == {"0": str(tmp_path / "x.csv"), "1": str(tmp_path / "y.csv")}
    assert _product_paths(SQLiteRelation(("main", "scores", "table"))) == {"product": "main.scores"}
    assert _product_paths(_NotAFile()) == {"product": "warehouse.table"}


# ============================================================================================
# tasks.to_download, tasks.elapsed
# ============================================================================================


def test_to_download_names_the_tasks_ploomber_will_download(tmp_path):
    dag = chain_dag(tmp_path, failing=False)
    dag.render(force=True)
    assert to_download(dag) == set()

    dag["a"]._exec_status = TaskStatus.WaitingDownload
    dag["c"]._exec_status = TaskStatus.WaitingDownload

    assert to_download(dag) == {"a", "c"}


class FakeReport:
    def __init__(self, table):
        self.table = table

    def to_dict(self):
        return self.table


def test_elapsed_reads_the_elapsed_column_of_a_build_report():
    report = FakeReport({"name": ["a", "b"], "Ran?": [True, False], "Elapsed (s)": [1.25, 0], "Percentage": [100, 0]})

    assert elapsed(report) == {"a": 1.25, "b": 0}
    assert elapsed(None) == {}
    assert elapsed(FakeReport({"name": ["a"]})) == {}  # no such column: nothing, not an error


def test_elapsed_of_a_real_build_report_has_every_task(tmp_path):
    dag = chain_dag(tmp_path, failing=False)
    report = dag.build(force=True)

    times = elapsed(report)

    assert set(times) == {"a", "b", "c"}
    assert all(isinstance(s, (int, float)) and s >= 0 for s in times.values())


# ============================================================================================
# params.check_params
# ============================================================================================


def test_check_params_names_the_task_and_the_undeclared_parameter(tmp_path):
    dag = serial_dag()
    src = notebook(tmp_path / "train.ipynb", "alpha = 0.5\nproduct = None")
    NotebookRunner(src, File(tmp_path / "train.ipynb.out.ipynb"), dag, name="train", params={"alhpa": 2})
    dag.render(force=True)  # ploomber itself only warns

    with pytest.raises(PipelineError) as caught:
        check_params(dag)

    err = caught.value
    assert "task 'train'" in err.message and "alhpa" in err.message
    assert "declares: alpha" in err.message  # the name the user probably meant
    assert str(src) in err.message
    assert err.exit_code == errors.USAGE and err.hint


def test_check_params_accepts_declared_names_and_ploomber_injected_ones(tmp_path):
    dag = serial_dag()
    up = PythonCallable(write_ok, File(tmp_path / "a.txt"), dag, name="a")
    # product and upstream are injected by ploomber, whether the cell declares them or not
    src = notebook(tmp_path / "nb.ipynb", "alpha = 1\nbeta: float = 0.1\nx = y = 0")
    nb = NotebookRunner(src, File(tmp_path / "out.ipynb"), dag, name="nb",
                        params={"alpha": 2, "beta": 0.2, "x": 1, "y": 2})
    up >> nb
    dag.render(force=True)
    assert {"product", "upstream"} <= set(nb.params)

    check_params(dag)  # no error


def test_check_params_covers_scripts_and_reports_every_task_at_once(tmp_path):
    dag = serial_dag()
    script = tmp_path / "clean.py"
    script.write_text('# %% tags=["parameters"]\nproduct = None\nlimit = 10\n\n# %%\nprint(limit)\n')
    ScriptRunner(script, File(tmp_path / "clean.out"), dag, name="clean", params={"limt": 5})
    src = notebook(tmp_path / "fit.ipynb", "product = None")
    NotebookRunner(src, File(tmp_path / "fit.out.ipynb"), dag, name="fit", params={"seed": 1})
    PythonCallable(write_ok, File(tmp_path / "f.txt"), dag, name="func")  # functions: not checked
    dag.render(force=True)

    with pytest.raises(PipelineError) as caught:
        check_params(dag)

    message = caught.value.message
    assert "task 'clean'" in message and "limt" in message and "declares: limit, product" in message
    assert "task 'fit'" in message and "seed" in message and "declares: product" in message


def test_check_params_accepts_names_declared_by_tuple_assignment(tmp_path):
    dag = serial_dag()
    src = notebook(tmp_path / "nb.ipynb", "product = None\nlow, high = 0, 10")
    NotebookRunner(src, File(tmp_path / "out.ipynb"), dag, name="nb", params={"low": 1})
    dag.render(force=True)

    check_params(dag)


def test_check_params_still_checks_a_parameters_cell_with_an_ipython_magic(tmp_path):
    dag = serial_dag()
    src = notebook(tmp_path / "nb.ipynb", "%matplotlib inline\nproduct = None\nalpha = 1")
    NotebookRunner(src, File(tmp_path / "out.ipynb"), dag, name="nb", params={"alhpa": 2})
    dag.render(force=True)

    with pytest.raises(PipelineError, match="alhpa"):
        check_params(dag)


# ============================================================================================
# dag.attach, ChainedHook
# ============================================================================================


@pytest.fixture
def fake_hooks(monkeypatch):
    """nbprod's hooks replaced by recorders: attach() reads them from the module when called."""
    monkeypatch.setattr(hooks, "on_render", fake_on_render)
    monkeypatch.setattr(hooks, "on_finish", fake_on_finish)
    monkeypatch.setattr(hooks, "on_failure", fake_on_failure)


def test_attach_calls_the_users_on_finish_first_with_only_the_arguments_it_declares(tmp_path, fake_hooks):
    dag = chain_dag(tmp_path, failing=False)
    dag.on_finish = user_on_finish  # declares `report` only: passing `dag` would be a TypeError
    engine_dag.attach(dag, entry_point="pipeline.yaml", argv=["nbprod", "build", "-f"])

    report = dag.build(force=True)

    assert isinstance(dag.on_finish, engine_dag.ChainedHook)
    names = [c[0] for c in CALLS]
    assert names == ["nbprod.on_render", "user.on_finish", "nbprod.on_finish"]
    assert CALLS[1] == ("user.on_finish", report)
    assert CALLS[2] == ("nbprod.on_finish", dag, report)
    assert dag._nbprod_entry_point == "pipeline.yaml"
    assert dag._nbprod_argv == ["nbprod", "build", "-f"]


def test_attach_passes_dag_to_a_user_hook_that_declares_it(tmp_path, fake_hooks):
    dag = chain_dag(tmp_path, failing=False)
    dag.on_finish = user_on_finish_with_dag
    dag.on_render = user_on_render  # declares nothing
    engine_dag.attach(dag)

    report = dag.build(force=True)

    assert [c[0] for c in CALLS] == ["user.on_render", "nbprod.on_render", "user.on_finish", "nbprod.on_finish"]
    assert CALLS[2] == ("user.on_finish", dag, report)
    assert dag._nbprod_argv == sys.argv  # the command line, when attach is given none


def test_attach_chains_the_users_on_failure_with_ploombers_traceback(tmp_path, fake_hooks):
    dag = chain_dag(tmp_path, failing=True)
    dag.on_failure = user_on_failure
    engine_dag.attach(dag)

    with pytest.raises(DAGBuildError):
        dag.build(force=True)

    assert [c[0] for c in CALLS] == ["nbprod.on_render", "user.on_failure", "nbprod.on_failure"]
    traceback = CALLS[1][1]
    assert "kaboom" in traceback["build"]
    assert CALLS[2][2] is traceback


def test_attach_passes_a_dotted_path_hooks_own_arguments(tmp_path, fake_hooks):
    dag = chain_dag(tmp_path, failing=False)
    dag.on_finish = DottedPath({"dotted_path": f"{__name__}.user_on_finish_labelled", "label": "nightly"})
    engine_dag.attach(dag)

    dag.build(force=True)

    assert [c[:2] for c in CALLS[1:]] == [("user.on_finish", "nightly"), ("nbprod.on_finish", dag)]


def test_nbprods_hook_runs_even_when_the_users_hook_raises(tmp_path, fake_hooks):
    dag = chain_dag(tmp_path, failing=False)
    dag.on_finish = user_on_finish_raises
    engine_dag.attach(dag)

    with pytest.raises(DAGBuildError) as caught:
        dag.build(force=True)

    assert [c[0] for c in CALLS] == ["nbprod.on_render", "user.on_finish", "nbprod.on_finish"]
    assert "user hook broke" in str(caught.value)  # the user's error is not swallowed


def test_attach_without_user_hooks_sets_nbprods_own(tmp_path):
    dag = chain_dag(tmp_path)
    engine_dag.attach(dag)

    assert (dag.on_render, dag.on_finish, dag.on_failure) == (hooks.on_render, hooks.on_finish, hooks.on_failure)


@pytest.mark.parametrize("form", ["dotted nbprod.hooks", "dotted nbprod.engine.hooks", "function nbprod.hooks",
                                  "function nbprod.engine.hooks"])
def test_attach_leaves_a_dag_that_already_names_nbprods_hooks(tmp_path, form):
    import nbprod.hooks as public_hooks

    kind, module = form.split()
    dag = chain_dag(tmp_path)
    for name in ("on_render", "on_finish", "on_failure"):
        hook = DottedPath(f"{module}.{name}") if kind == "dotted" else getattr(
            public_hooks if module == "nbprod.hooks" else hooks, name)
        setattr(dag, name, hook)
    before = (dag.on_render, dag.on_finish, dag.on_failure)

    engine_dag.attach(dag)

    after = (dag.on_render, dag.on_finish, dag.on_failure)
    assert not any(isinstance(h, engine_dag.ChainedHook) for h in after)  # recorded once, not twice
    assert all(a is b for a, b in zip(after, before))


def test_chained_hook_declares_the_arguments_ploomber_must_pass(tmp_path):
    hook = engine_dag.ChainedHook(fake_on_finish, user_on_finish, ("dag", "report"))

    assert list(inspect.signature(hook).parameters) == ["dag", "report"]
    available = {"dag": "D", "report": "R", "traceback": "T"}
    assert callback_check(hook, available) == {"dag": "D", "report": "R"}


def test_chained_hook_and_an_attached_dag_are_picklable(tmp_path):
    hook = engine_dag.ChainedHook(hooks.on_finish, user_on_finish, ("dag", "report"))

    copy = pickle.loads(pickle.dumps(hook))

    assert (copy.ours, copy.theirs, copy.names) == (hooks.on_finish, user_on_finish, ("dag", "report"))
    assert list(inspect.signature(copy).parameters) == ["dag", "report"]

    dag = chain_dag(tmp_path, failing=False)
    dag.on_finish, dag.on_failure = user_on_finish, user_on_failure
    engine_dag.attach(dag)
    clone = pickle.loads(pickle.dumps(dag))  # what ploomber does to build in a subprocess
    assert clone.on_finish.theirs is user_on_finish and clone.on_failure.names == ("dag", "traceback")


# ============================================================================================
# dag.explain, dag.as_pipeline_error
# ============================================================================================


def test_explain_joins_the_deepest_meaningful_message_into_one_line():
    err = raise_chain(
        FileNotFoundError("env.yaml not found\n   in /project"),
        RuntimeError("=" * 20 + " DAG render failed " + "=" * 20 + "\nsomething went wrong\nNeed help? ..."),
    )

    assert engine_dag.explain(err) == "env.yaml not found in /project"


def test_explain_skips_banner_only_errors_and_falls_back_to_the_type_name():
    banner_only = raise_chain(ValueError("useful detail"), RuntimeError("=====\n-----\nTraceback (most recent)"))
    assert engine_dag.explain(banner_only) == "useful detail"

    inner_empty = raise_chain(KeyError(), RuntimeError("outer says\n   what"))
    assert engine_dag.explain(inner_empty) == "outer says what"

    assert engine_dag.explain(RuntimeError("")) == "RuntimeError"


def test_explain_truncates_to_the_limit():
    text = engine_dag.explain(ValueError("word " * 200), limit=50)

    assert len(text) == 50 and text.endswith("...") and "\n" not in text
    assert engine_dag.explain(ValueError("short"), limit=50) == "short"


def test_explain_stops_on_a_cyclic_chain():
    a, b = ValueError("a"), ValueError("")
    a.__cause__, b.__cause__ = b, a

    assert engine_dag.explain(a) == "a"


def _last_cell_is_parameters(tmp_path) -> DAG:
    """A DAG whose only task fails to render (ploomber: 'the last cell ... is the parameters cell')."""
    dag = serial_dag()
    src = notebook(tmp_path / "nb.ipynb", "product = None")
    nb = nbformat.read(str(src), as_version=4)
    nb.cells = nb.cells[:1]
    nbformat.write(nb, str(src))
    NotebookRunner(src, File(tmp_path / "out.ipynb"), dag, name="nb")
    return dag


def test_explain_a_real_ploomber_render_error_in_one_line(tmp_path):
    with pytest.raises(DAGRenderError) as caught:
        _last_cell_is_parameters(tmp_path).render(force=True)

    line = engine_dag.explain(caught.value)

    assert line and "\n" not in line and "=====" not in line and "Need help" not in line
    assert len(line) <= 400


def test_explain_a_real_ploomber_render_error_says_what_is_wrong(tmp_path):
    with pytest.raises(DAGRenderError) as caught:
        _last_cell_is_parameters(tmp_path).render(force=True)

    line = engine_dag.explain(caught.value)

    assert "the last cell in the notebook is the parameters cell" in line
    assert 'File "' not in line


def test_explain_does_not_follow_a_suppressed_context():
    try:
        try:
            {}["missing_key"]
        except KeyError:
            raise ValueError("tasks: must be a list") from None
    except ValueError as err:
        explained = engine_dag.explain(err)

    assert explained == "tasks: must be a list"


def test_as_pipeline_error_returns_nbprods_own_error_from_the_chain():
    ours = errors.StoreError("store unreachable", hint="check the URL")
    as_cause = raise_chain(ours, RuntimeError("Exception when running on_render"), DAGRenderError("x"))
    assert engine_dag.as_pipeline_error(as_cause) is ours

    try:
        try:
            raise ours
        except errors.StoreError:
            raise RuntimeError("while handling")  # noqa: B904: an implicit __context__
    except RuntimeError as err:
        assert engine_dag.as_pipeline_error(err) is ours

    assert engine_dag.as_pipeline_error(ours) is ours


def test_as_pipeline_error_finds_a_hook_error_ploomber_wrapped(tmp_path, monkeypatch):
    def refuse(dag):
        raise ConfigError("nbprod.yaml is not valid YAML (line 3)", hint="fix the file")

    monkeypatch.setattr(hooks, "on_render", refuse)
    dag = chain_dag(tmp_path)
    engine_dag.attach(dag)
    with pytest.raises(DAGRenderError) as caught:
        dag.render(force=True)

    found = engine_dag.as_pipeline_error(caught.value)

    assert isinstance(found, ConfigError) and found.message.startswith("nbprod.yaml is not valid YAML")


def test_as_pipeline_error_makes_anything_else_a_one_line_pipeline_error():
    err = raise_chain(FileNotFoundError("pipeline.yaml: no such file"), RuntimeError("=====\nload failed"))

    result = engine_dag.as_pipeline_error(err)

    assert type(result) is PipelineError and isinstance(result, NbprodError)
    assert result.message == "pipeline.yaml: no such file"
    assert result.hint and result.exit_code == errors.USAGE
    assert "\n" not in str(result)


# ============================================================================================
# repair
# ============================================================================================


def test_reset_failed_renames_a_file_product_and_deletes_its_metadata(tmp_path):
    dag = chain_dag(tmp_path, failing=False)
    dag.build(force=True)
    b = tmp_path / "b.txt"
    assert metadata_of(b).exists()

    moved = reset_failed(dag, ["b"])

    assert moved == [(b, tmp_path / "b.failed.txt")]
    assert not b.exists() and (tmp_path / "b.failed.txt").read_text() == "after a"
    assert not metadata_of(b).exists()  # ploomber cannot call the failed run up to date
    assert (tmp_path / "a.txt").exists() and metadata_of(tmp_path / "a.txt").exists()  # others untouched

    dag.build()
    assert by_name(dag)["b"].outcome == EXECUTED


def test_reset_failed_replaces_an_earlier_failed_folder(tmp_path):
    dag = serial_dag()
    PythonCallable(write_folder, File(tmp_path / "model"), dag, name="fit")
    dag.build(force=True)
    old = tmp_path / "model.failed"
    old.mkdir()
    (old / "stale.csv").write_text("old")

    moved = reset_failed(dag, ["fit"])

    assert moved == [(tmp_path / "model", old)]
    assert sorted(p.name for p in old.iterdir()) == ["part-0.csv"]
    assert not (tmp_path / "model").exists() and not metadata_of(tmp_path / "model").exists()


def test_reset_failed_moves_the_partial_notebook_beside_an_html_product(tmp_path):
    dag = serial_dag()
    src = notebook(tmp_path / "nb.ipynb", "product = None")
    NotebookRunner(src, File(tmp_path / "report.html"), dag, name="report")
    (tmp_path / "report.ipynb").write_text("{}")  # the failed run's partial notebook; no HTML made

    moved = reset_failed(dag, ["report"])

    assert moved == [(tmp_path / "report.ipynb", tmp_path / "report.failed.ipynb")]
    assert (tmp_path / "report.failed.ipynb").read_text() == "{}"


def test_reset_failed_moves_every_product_of_a_metaproduct(tmp_path):
    dag = serial_dag()
    PythonCallable(write_pair, {"data": File(tmp_path / "d.csv"), "model": File(tmp_path / "m.tar.gz")}, dag,
                   name="train")
    dag.build(force=True)

    moved = reset_failed(dag, ["train"])

    assert sorted(moved) == [(tmp_path / "d.csv", tmp_path / "d.failed.csv"),
                             (tmp_path / "m.tar.gz", tmp_path / "m.failed.tar.gz")]
    assert not metadata_of(tmp_path / "d.csv").exists() and not metadata_of(tmp_path / "m.tar.gz").exists()


def test_reset_failed_with_nothing_on_disk_moves_nothing(tmp_path):
    dag = chain_dag(tmp_path)
    assert reset_failed(dag, ["b", "c"]) == []
    assert reset_failed(dag, []) == []


@pytest.mark.parametrize("name, expected", [
    ("a.txt", "a.failed.txt"),
    ("model.tar.gz", "model.failed.tar.gz"),
    ("model", "model.failed"),
    ("report.ipynb", "report.failed.ipynb"),
])
def test_failed_name(tmp_path, name, expected):
    assert failed_name(tmp_path / "out" / name) == tmp_path / "out" / expected


def test_metadata_of_is_ploombers_metadata_file_and_product_of_inverts_it(tmp_path):
    product = tmp_path / "out" / "scores.csv"

    assert metadata_of(product) == File(product)._path_to_metadata == tmp_path / "out" / ".scores.csv.metadata"
    assert product_of(metadata_of(product)) == product
    assert product_of(product) is None
    assert product_of(tmp_path / ".hidden") is None
    assert product_of(tmp_path / "..metadata") is None


# ============================================================================================
# hooks.on_render, build_of
# ============================================================================================


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pipeline.yaml").write_text("tasks: []\n")
    return root


def rendered_dag(tmp_path, project) -> DAG:
    dag = chain_dag(tmp_path, failing=False)
    dag._nbprod_entry_point = str(project / "pipeline.yaml")
    dag._nbprod_argv = ["nbprod", "build"]
    dag.render(force=True)
    return dag


def test_on_render_starts_one_build_for_the_dag(tmp_path, project, exits):
    dag = rendered_dag(tmp_path, project)
    assert hooks.build_of(dag) is None

    hooks.on_render(dag)

    build = hooks.build_of(dag)
    assert isinstance(build, Build) and not build.done
    assert build.session.root == project.resolve()
    assert build.session.argv == ["nbprod", "build"]
    assert [c.__self__ for c in exits.callbacks] == [build]  # its at-exit fallback is registered
    assert [v.name for v in build._describe()] == ["a", "b", "c"]  # describes this DAG


def test_a_second_render_only_refreshes_what_will_be_downloaded(tmp_path, project, exits):
    dag = rendered_dag(tmp_path, project)
    hooks.on_render(dag)
    build = hooks.build_of(dag)
    run_id = build.session.run_id
    dag["b"]._exec_status = TaskStatus.WaitingDownload

    hooks.on_render(dag)

    assert hooks.build_of(dag) is build and build.session.run_id == run_id
    assert build.session.fetched == {"b"}
    assert len(exits.callbacks) == 1


def test_a_render_after_the_build_is_done_starts_a_new_build(tmp_path, project):
    dag = rendered_dag(tmp_path, project)
    hooks.on_render(dag)
    first = hooks.build_of(dag)
    first.session.done = True

    hooks.on_render(dag)

    second = hooks.build_of(dag)
    assert second is not first and not second.done
    assert second.session.run_id != first.session.run_id


def test_on_render_refuses_an_undeclared_parameter_before_starting_a_build(tmp_path, project, exits):
    dag = serial_dag()
    src = notebook(tmp_path / "nb.ipynb", "product = None")
    NotebookRunner(src, File(tmp_path / "out.ipynb"), dag, name="nb", params={"typo": 1})
    dag._nbprod_entry_point = str(project / "pipeline.yaml")
    dag.render(force=True)

    with pytest.raises(PipelineError, match="typo"):
        hooks.on_render(dag)

    assert hooks.build_of(dag) is None and exits.callbacks == []


def test_on_render_stops_on_a_bad_nbprod_yaml(tmp_path, project, exits):
    (project / "nbprod.yaml").write_text("metrics: [unclosed\n")
    dag = rendered_dag(tmp_path, project)

    with pytest.raises(ConfigError):
        hooks.on_render(dag)

    assert hooks.build_of(dag) is None and exits.callbacks == []


def test_attached_hooks_record_a_failed_build_and_move_its_products_aside(tmp_path, project, capsys):
    dag = chain_dag(tmp_path, failing=True)
    engine_dag.attach(dag, entry_point=str(project / "pipeline.yaml"), argv=["nbprod", "build", "--force"])

    with pytest.raises(DAGBuildError):
        dag.build(force=True)

    build = hooks.build_of(dag)
    assert build.done and build.record.status == schema.FAILED
    statuses = {t.name: t.status for t in build.record.tasks}
    assert statuses["b"] == schema.TASK_FAILED and statuses["a"] != schema.TASK_FAILED
    assert not (tmp_path / "b.txt").exists() and (tmp_path / "b.failed.txt").read_text() == "partial"
    assert (tmp_path / "a.txt").read_text() == "ok"
    assert "kaboom" in (build.take_final_line() or "")


# ============================================================================================
# entry.project_root
# ============================================================================================


def test_project_root_is_the_folder_of_the_entry_point(tmp_path, project, monkeypatch):
    assert project_root(str(project / "pipeline.yaml")) == project.resolve()
    monkeypatch.chdir(project)
    assert project_root("pipeline.yaml") == project.resolve()  # relative: resolved


def test_project_root_without_an_entry_point_finds_pipeline_yaml_upwards(tmp_path, project, monkeypatch):
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")  # where a notebook's kernel starts

    assert project_root(None) == project.resolve()
    assert project_root("my_pkg.pipeline.make_dag") == project.resolve()  # a factory: not a file


def test_project_root_with_no_pipeline_anywhere_is_the_working_directory(tmp_path, monkeypatch):
    lone = tmp_path / "lone"
    lone.mkdir()
    monkeypatch.chdir(lone)

    assert project_root(None) == Path.cwd()


# ============================================================================================
# dag.build: `ploomber build` with the hooks attached
# ============================================================================================


def _pipeline(root: Path, body: str) -> Path:
    root.mkdir(exist_ok=True)
    spec = root / "pipeline.yaml"
    spec.write_text(textwrap.dedent(body))
    return spec


def test_build_runs_ploomber_build_with_nbprods_hooks_and_restores_its_globals(tmp_path, monkeypatch, capsys):
    import ploomber.cli.build as ploomber_build

    root = tmp_path / "proj"
    root.mkdir()
    (root / "engine_test_tasks.py").write_text(
        "from pathlib import Path\n\ndef make(product):\n    Path(str(product)).write_text('made')\n")
    monkeypatch.syspath_prepend(str(root))
    spec = _pipeline(root, """\
        executor:
          dotted_path: ploomber.executors.Serial
          build_in_subprocess: false
        tasks:
          - source: engine_test_tasks.make
            product: out/made.txt
        """)
    monkeypatch.chdir(root)
    argv_before, parser_before = list(sys.argv), ploomber_build.CustomParser
    loaded: list = []

    engine_dag.build(["--entry-point", str(spec), "--force"], loaded)

    (dag,) = loaded
    assert dag.on_finish is hooks.on_finish and dag.on_render is hooks.on_render
    assert dag._nbprod_argv == ["nbprod", "build", "--entry-point", str(spec), "--force"]
    assert dag._nbprod_entry_point == str(spec)
    assert (root / "out" / "made.txt").read_text() == "made"
    build = hooks.build_of(dag)
    assert build.done and build.record.status == schema.SUCCEEDED
    assert [t.name for t in build.record.tasks] == ["make"]
    assert (sys.argv, ploomber_build.CustomParser) == (argv_before, parser_before)


def test_build_restores_its_globals_when_the_pipeline_does_not_load(tmp_path):
    import ploomber.cli.build as ploomber_build

    spec = _pipeline(tmp_path / "bad", "tasks:\n  - source: no_such_module_xyz.fn\n    product: out.txt\n")
    argv_before, parser_before = list(sys.argv), ploomber_build.CustomParser
    loaded: list = []

    with pytest.raises(Exception) as caught:
        engine_dag.build(["--entry-point", str(spec)], loaded)

    assert loaded == []
    assert (sys.argv, ploomber_build.CustomParser) == (argv_before, parser_before)
    error = engine_dag.as_pipeline_error(caught.value)
    assert isinstance(error, PipelineError) and "\n" not in str(error)
    assert "no_such_module_xyz" in error.message
