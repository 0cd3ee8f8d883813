"""The Python API: run history for a data scientist in JupyterLab, no CLI needed.

What ``mlflow.search_runs()`` and ``dvc.api`` give, over nbprod's store (a
folder or S3, ``NBPROD_STORE`` or ``store=``)::

    import nbprod
    df = nbprod.runs(status="succeeded", since="7d", params={"train.C": 1.0})
    best = nbprod.runs(sort="accuracy", limit=1)
    run = nbprod.run("latest")
    run.metrics["accuracy"], run.params["train.C"], run.scraps["evaluate"]["confusion"]
    model = joblib.load(run.product("train", "model"))     # downloaded once, verified
    nb = run.notebook("train")                              # an nbformat node
    nbprod.diff("latest~1", "latest")["metrics"]
    nbprod.upstream("train")   # in a notebook opened in JupyterLab: the upstream products' paths

:func:`runs` reads run *summaries* only (summary packs: a few requests for
ten thousand runs), with the same filters as ``nbprod runs ls``. Everything
read from the store is hash-verified. pandas and ploomber are imported only by
the calls that need them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .compare.diff import diff_runs
from .compare.select import list_runs
from .errors import ConfigError, RunNotFoundError
from .schema import RunRecord, parse_time
from .settings import Settings
from .store import Store, safe_part

#: the columns every frame of :func:`runs` starts with
BASE_COLUMNS = ("run_id", "status", "started", "duration_s", "commit", "dirty", "user", "host", "error")


def _store(store: Store | str | None) -> Store:
    """The store to read: a Store, a URL, or NBPROD_STORE (after pushing spooled runs)."""
    if isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)):
        settings = Settings.from_env()
        return Store(os.fspath(store), timeout=settings.store_timeout)
    from .store.spool import open_store

    return open_store(log=lambda line: None)


def runs(status: str | Iterable[str] | None = None, since: Any = None,
         params: dict[str, Any] | Iterable[str] | None = None, task: str | None = None,
         sort: str = "started", limit: int | None = None, *, store: Store | str | None = None):
    """A pandas DataFrame, one row per run, newest first (or best first with ``sort=METRIC``).

    Columns: :data:`BASE_COLUMNS` (``started`` a UTC timestamp), then one per
    parameter (``train.C``; runs recorded before per-task summaries: the plain
    name; a dotted key then matches by that plain name), then one per metric.
    Filters combine like ``nbprod runs ls``: ``status`` ("failed" or a list),
    ``since`` (a datetime or date, "2026-11-01" or an age such as "7d"),
    ``params`` ({"train.C": 1.0, "seed": 42} or ["train.C=1", "seed=42"]: a
    dotted key matches that task's parameter, a plain one any task's), ``task``
    (runs that executed it), ``limit`` (None: all).
    """
    import pandas as pd

    found = list_runs(_store(store), statuses=[status] if isinstance(status, str) else (status or ()),
                      since=since, params=params or (), task=task, sort=sort, limit=limit, with_specs=False)
    rows = [_row(summary) for summary in found.rows]
    frame = pd.DataFrame.from_records(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(BASE_COLUMNS))
    frame["started"] = pd.to_datetime(frame["started"], utc=True, format="ISO8601")
    params_cols = sorted({k for r in rows for k in r.get("_params", ())})
    metric_cols = sorted({k for r in rows for k in r.get("_metrics", ())})
    frame = frame.drop(columns=[c for c in ("_params", "_metrics") if c in frame])
    order = [*BASE_COLUMNS, *params_cols, *[m for m in metric_cols if m not in params_cols]]
    return frame.reindex(columns=order).reset_index(drop=True)


def _row(summary: dict[str, Any]) -> dict[str, Any]:
    row = {
        "run_id": summary["run_id"],
        "status": summary.get("status"),
        "started": summary.get("started_at"),
        "duration_s": summary.get("duration_s"),
        "commit": summary.get("commit"),
        "dirty": summary.get("dirty"),
        "user": summary.get("user"),
        "host": summary.get("host"),
        "error": summary.get("error"),
    }
    per_task = summary.get("task_params")
    if isinstance(per_task, dict):
        params = {f"{t}.{k}": _cell(v) for t, values in per_task.items() for k, v in (values or {}).items()}
    else:  # summaries written before per-task parameters were kept
        params = {k: _cell(v) for k, v in (summary.get("params") or {}).items()}
    metrics = dict(summary.get("metrics") or {})
    row.update(params)
    row.update({k: v for k, v in metrics.items() if k not in params})
    row["_params"], row["_metrics"] = list(params), list(metrics)
    return row


def _cell(value: Any) -> Any:
    """Lists and dicts as they would be typed (a DataFrame cell should not hold a list)."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def run(ref: str = "latest", *, store: Store | str | None = None) -> "Run":
    """One recorded run: ``ref`` is a run id, a unique prefix of one, ``latest`` or ``latest~N``."""
    where = _store(store)
    return Run(where.record_of(ref), where)


def diff(old: str = "latest~1", new: str = "latest", *, store: Store | str | None = None,
         repo: str | os.PathLike | None = None) -> dict[str, Any]:
    """What changed between two runs (the structure ``nbprod runs diff --json`` prints);
    ``repo``: a git clone in which to list the files changed between their commits."""
    return diff_runs(_store(store), old, new, repo=repo)


def upstream(task: str, given: dict | None = None, *, entry_point: str | os.PathLike | None = None,
             check: bool = True) -> dict[str, dict[str, str] | str]:
    """The upstream products of ``task`` as ploomber would inject them: ``{task: {key: path}}``.

    In a notebook run by ploomber or papermill, pass what was injected
    (``upstream = nbprod.upstream("train", upstream)``): it is returned as it is
    and nothing is loaded. Opened in JupyterLab (``upstream`` is None), the paths
    come from pipeline.yaml, found upward from the working directory, and every
    missing product is named at once (:class:`MissingUpstreamError`, with the
    ``ploomber build --partially`` command that makes them).
    """
    if given:
        return given
    from .engine.upstream import upstream_of

    return upstream_of(task, entry_point=entry_point, check=check)


@dataclass
class Run:
    """A recorded run, read from the store: its record and, on demand, its files."""

    record: RunRecord
    store: Store = field(repr=False)

    @property
    def id(self) -> str:
        return self.record.run_id

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def started(self):
        return parse_time(self.record.started_at)

    @property
    def params(self) -> dict[str, Any]:
        """Every task's parameters, ``{"train.C": 1.0, ...}`` (the columns of :func:`runs`)."""
        return {f"{t.name}.{k}": v for t in self.record.tasks for k, v in t.params.items()}

    @property
    def metrics(self) -> dict[str, Any]:
        """Numeric scraps by name (the first task's on a clash)."""
        return self.record.metrics()

    @property
    def scraps(self) -> dict[str, dict[str, Any]]:
        """``{task: {name: value}}``: inline values as recorded, artifacts fetched and
        decoded (data frames as pandas DataFrames), NaN/inf as floats, display-only scraps
        as None, values that were not JSON as their repr (a string)."""
        return {t.name: {name: self._scrap_value(entry) for name, entry in t.scraps.items()}
                for t in self.record.tasks if t.scraps}

    def _scrap_value(self, entry: dict[str, Any]) -> Any:
        if entry.get("nonfinite"):  # a glued NaN or inf (JSON has neither): the float again
            return float(entry["nonfinite"])
        if "value" in entry or entry.get("display_only"):
            return entry.get("value")
        artifact = entry.get("artifact") or {}
        if not artifact.get("sha256"):
            return None
        data = self.store.get_bytes(artifact["sha256"])
        if entry.get("type") == "dataframe":
            import io

            import pandas as pd

            return pd.read_json(io.StringIO(data.decode()), orient="split")
        return json.loads(data)

    def task(self, name: str):
        try:
            return self.record.task(name)
        except KeyError:
            raise ConfigError(f"run {self.id} has no task {name!r}",
                              hint=f"tasks: {', '.join(t.name for t in self.record.tasks)}") from None

    def notebook(self, task: str):
        """The executed notebook of ``task`` as an nbformat node (its bytes hash-verified)."""
        import nbformat

        nb = self.task(task).notebook
        if not nb or not nb.get("sha256"):
            raise RunNotFoundError(f"run {self.id}: task {task!r} has no executed notebook stored",
                                   hint="only notebook tasks that ran have one", ref=self.id, url=self.store.url)
        return nbformat.reads(self.store.get_bytes(nb["sha256"]).decode("utf-8"), as_version=4)

    def product(self, task: str, name: str, *, cache: str | os.PathLike | None = None) -> Path:
        """A local path to product ``name`` of ``task`` (e.g. ``"train", "model"``), downloaded
        and verified into the cache (NBPROD_CACHE, by sha256: a second call downloads nothing)."""
        entries = self.task(task).products
        chosen = [p for p in entries if p.get("name") == name]
        if not chosen:  # a folder product: its files are "<name>/<relative path>"
            chosen = [p for p in entries if str(p.get("name", "")).startswith(f"{name}/")]
        if not chosen:
            raise ConfigError(f"run {self.id}: task {task!r} has no product {name!r}",
                              hint=f"products: {', '.join(sorted({str(p.get('name')) for p in entries})) or 'none'}")
        base = Path(cache or Settings.from_env().cache)
        if len(chosen) == 1 and chosen[0].get("name") == name:
            return self._fetch(chosen[0], base)
        folder = base / "folders" / self.id / safe_part(task) / safe_part(name)
        for entry in chosen:  # each file verified; one already there with these bytes is kept
            parts = [safe_part(p) for p in str(entry["name"])[len(name) + 1:].split("/")]
            self.store.get_file(entry["sha256"], folder.joinpath(*parts))
        return folder

    def _fetch(self, entry: dict[str, Any], base: Path) -> Path:
        sha = entry["sha256"]
        filename = safe_part(Path(str(entry.get("path") or entry["name"])).name)
        dest = base / sha[:2] / sha / filename
        self.store.get_file(sha, dest)  # skipped when dest already holds these bytes
        return dest

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r}, store={self.store.url!r})"


def load_model(ref: str, *, store: Store | str | None = None, missing_ok: bool = False, raw: bool = False,
               cache: str | os.PathLike | None = None):
    """A registered model: ``"penguins@production"``, ``"penguins:3"``, ``"penguins"`` (production).

    Returns a :class:`~nbprod.models.loading.LoadedModel`: ``.model`` (deserialized with joblib),
    ``.card`` and ``.schema`` (dicts), ``.version``, ``.manifest`` (run, metrics, gate report),
    ``.files`` (local paths). Every file is verified against the sha256 its version recorded,
    and kept in NBPROD_CACHE (a second load downloads nothing). ``missing_ok``: None when the
    model or the alias has no version yet (an evaluation that compares with production, before
    there is one).
    """
    from .models.loading import load_model as load

    return load(ref, store=_store(store), cache=cache or Settings.from_env().cache, missing_ok=missing_ok, raw=raw)


def write_predictions(path: str | os.PathLike, *, y_true, candidate, production=None, labels=None) -> Path:
    """Write the paired predictions a model's gates are decided on (``models: ... evaluation:``):
    the candidate's and the production model's predictions on the same rows; see
    :func:`nbprod.models.predictions.write_predictions`."""
    from .models.predictions import write_predictions as write

    return write(path, y_true=y_true, candidate=candidate, production=production, labels=labels)
