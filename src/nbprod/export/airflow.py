"""``nbprod export airflow``: the pipeline as one Airflow 3 DAG file that imports only Airflow.

Why this shape: the scheduler's DAG processor parses a DAG file every few seconds, so the file
holds the pipeline as a literal (``PIPELINE``: tasks, dependencies, parameters, where to run)
and a fixed body that turns it into operators; nbprod is never imported there. Each pipeline
task becomes one task running ``nbprod task NAME`` (a BashOperator in the project's folder on
the worker, or, with ``kubernetes=IMAGE``, a KubernetesPodOperator pod of that image), with:

- ``NBPROD_ORCHESTRATOR``: the DAG run (dag_id, run_id, logical_date, run_after), from which
  every task and every retry derive the same nbprod run id; ``NBPROD_ATTEMPT``: Airflow's
  try number, so a retried task shows each attempt;
- the pipeline's parameters as DAG params (``env.yaml``'s values the defaults), passed as
  ``--env--NAME VALUE``: a run triggered with other params is recorded with them;
- upstream products from the store, never a shared disk: the default spec is
  ``pipeline.shared.yaml`` when there is one (its File client shares products).

A last task, ``nbprod_run`` (trigger rule ``all_done``: it runs whatever happened upstream),
assembles the run record (``nbprod task --assemble``) and fails when the run failed, so the
DAG run's state is the nbprod run's. Settings (``NBPROD_STORE``, credentials) come from the
worker's environment (or, for pods, plain values and a Secret reference): none is written in
the file, and an option holding a credential is refused (:mod:`nbprod.export.common`).
"""

from __future__ import annotations

import os
import pprint
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import ENV_NAME, Written, refuse_credential, stamped, write_files

FINAL = "nbprod_run"  # the task that assembles the run record
_TASK_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
SHARED = "pipeline.shared.yaml"


@dataclass(frozen=True)
class Exported:
    """The DAG file written, and what it holds."""

    written: Written
    dag_id: str
    tasks: tuple[str, ...]
    schedule: str | None
    warnings: tuple[str, ...] = ()


def pipeline_literal(*, entry_point: str | None = None, dag_id: str | None = None, schedule: str | None = None,
                     retries: int = 1, retry_delay_s: int = 30, clone: str | None = None,
                     kubernetes: str | None = None, namespace: str | None = None, secret: str | None = None,
                     store: str | None = None) -> dict[str, Any]:
    """The ``PIPELINE`` literal of the DAG file (what :func:`render` writes)."""
    from ..engine.inspect import find_entry_point, inspect_pipeline
    from ..vcs import git

    entry = _entry(entry_point, find_entry_point)
    info = inspect_pipeline(entry)
    if info.problems:
        raise ConfigError(f"the pipeline does not render: {info.problems[0].message}",
                          hint="`nbprod check` names every problem; every DAG run would fail the same way")
    root = info.root
    dag_id = dag_id or re.sub(r"[^A-Za-z0-9_.-]+", "_", root.name).strip("_") or "nbprod"
    if not _DAG_ID.fullmatch(dag_id):
        raise ConfigError(f"--dag-id {dag_id!r} is not an Airflow DAG id", hint="use letters, digits, '_', '.', '-'")
    for name in info.graph:
        if not _TASK_ID.fullmatch(name) or name == FINAL:
            raise ConfigError(f"task {name!r} cannot be an Airflow task id" +
                              (f" ({FINAL} is the run's last task)" if name == FINAL else ""),
                              hint="rename it in the pipeline: letters, digits, '_', '.', '-'")
    for name in info.env:
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(f"parameter {name!r} in {info.env_file} cannot be passed through the environment",
                              hint="name parameters like Python variables")
    if schedule:
        _check_schedule(schedule)
    if clone:
        refuse_credential("--clone", clone)
    top = (git(root, "rev-parse", "--show-toplevel") or "").strip() or None
    commit = (git(root, "rev-parse", "HEAD") or "").strip() or None if clone else None
    if clone and not commit:
        raise ConfigError(f"--clone: {root} is not in a git repository with a commit",
                          hint="commit the project first: each task clones that commit")
    data: dict[str, Any] = {
        "dag_id": dag_id,
        "schedule": schedule or None,
        "entry_point": entry.relative_to(root).as_posix(),
        "project": str(root),
        "nbprod": _nbprod_bin(),
        "repository": clone or None,
        "commit": commit,
        "workdir": (Path(os.path.relpath(root, top)).as_posix() if top else "."),
        "tasks": [{"name": name, "upstream": list(up)} for name, up in info.graph.items()],
        "params": {name: _param(value) for name, value in info.env.items()},
        "retries": int(retries),
        "retry_delay_s": int(retry_delay_s),
        "kubernetes": None,
    }
    if kubernetes:
        from .common import s3_store

        data["kubernetes"] = {"image": refuse_credential("--kubernetes", kubernetes), "namespace": namespace or "default",
                              "secret": secret, "store": s3_store(store)}
    return data


def render(data: dict[str, Any], *, source: str) -> str:
    """The DAG file's text: a header, the literal, the fixed body (stamped)."""
    from .. import __version__

    header = (f'"""Airflow DAG {data["dag_id"]!r}: the nbprod pipeline {source}, one Airflow task per task.\n\n'
              f"Written by `nbprod export airflow` (nbprod {__version__}); export again after changing the "
              "pipeline\n(an edited file is kept unless --force). It imports only Airflow.\n\"\"\"\n")
    body = _POD_BODY if data.get("kubernetes") else _BASH_BODY
    return stamped(header + _IMPORTS[bool(data.get("kubernetes"))] + "\nPIPELINE = " +
                   pprint.pformat(data, sort_dicts=False, width=100) + "\n" + _COMMON + body)


def export_airflow(*, out: str | os.PathLike = "dags", force: bool = False, **options: Any) -> Exported:
    """Write ``<out>/<dag_id>.py``; the file and what it holds."""
    data = pipeline_literal(**options)
    path = Path(out) / f"{data['dag_id']}.py"
    (written,) = write_files({path: render(data, source=data["entry_point"])}, force=force,
                             command="nbprod export airflow")
    warnings = () if _shares_products(Path(data["project"]) / data["entry_point"]) else (
        f"{data['entry_point']} has no File client (clients: File: nbprod.products.client): a task finds its "
        "upstream products only if every task runs on one disk; export pipeline.shared.yaml for workers apart",)
    return Exported(written=written, dag_id=data["dag_id"], tasks=tuple(t["name"] for t in data["tasks"]),
                    schedule=data["schedule"], warnings=warnings)


def _shares_products(spec: Path) -> bool:
    """Whether the spec's File products go through a client (the store), as a worker needs."""
    import yaml

    try:
        data = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    clients = data.get("clients") if isinstance(data, dict) else None
    return isinstance(clients, dict) and bool(clients.get("File"))


def _entry(entry_point: str | None, find) -> Path:
    if entry_point:
        entry = Path(entry_point)
        if not entry.is_file():
            raise ConfigError(f"--entry-point {entry_point}: no such file", hint="pass the pipeline's spec")
        return entry.resolve()
    found = find()
    if found is None:
        raise ConfigError("no pipeline.yaml here or in a folder above", hint="run it in the project's folder, or pass -e")
    shared = found.parent / SHARED
    return shared if shared.is_file() else found  # products through the store: what a worker needs


_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")


def _check_schedule(schedule: str) -> None:
    """A schedule Airflow takes: five cron fields (croniter, as Airflow parses them) or a preset."""
    from croniter import croniter

    if schedule.startswith("@") and schedule in _PRESETS:
        return
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise ConfigError(f"--schedule {schedule!r} is not a cron expression Airflow takes",
                          hint="five fields, minute hour day-of-month month day-of-week (e.g. '0 2 * * *'), "
                               f"or one of {', '.join(_PRESETS)}")


def _nbprod_bin() -> str:
    here = Path(sys.executable).parent / "nbprod"
    return str(here) if here.exists() else (shutil.which("nbprod") or "nbprod")


def _param(value: Any) -> Any:
    """An env.yaml value as a DAG param default (JSON-able: what Airflow's UI edits)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return list(value)
    return str(value)


_IMPORTS = {
    False: "\nfrom __future__ import annotations\n\nimport datetime\n\n"
           "from airflow.providers.standard.operators.bash import BashOperator\nfrom airflow.sdk import DAG\n",
    True: "\nfrom __future__ import annotations\n\nimport datetime\n\n"
          "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"
          "from airflow.sdk import DAG\nfrom kubernetes.client import models as k8s\n",
}

_COMMON = '''
# The DAG run, passed to every task: nbprod derives the run id from it (the same in every task
# and retry), and keeps it in the run record as `orchestrator`. `dag_run.logical_date`, not
# `logical_date`: a run triggered without one (Airflow 3's default) has no `logical_date` at all.
ORCHESTRATOR = (
    '{{ {"name": "airflow", "dag_id": dag.dag_id, "run_id": run_id, "logical_date": dag_run.logical_date | string, '
    '"run_after": dag_run.run_after | string} | tojson }}'
)
RUN_ENV = {"NBPROD_ORCHESTRATOR": ORCHESTRATOR, "NBPROD_ATTEMPT": "{{ ti.try_number }}",
           "PLOOMBER_STATS_ENABLED": "false", "PLOOMBER_VERSION_CHECK_DISABLED": "true"}
PARAMS = ["--env--%s" % name for name in PIPELINE["params"]]

dag = DAG(
    dag_id=PIPELINE["dag_id"],
    schedule=PIPELINE["schedule"],
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    params=PIPELINE["params"],
    default_args={"retries": PIPELINE["retries"],
                  "retry_delay": datetime.timedelta(seconds=PIPELINE["retry_delay_s"])},
    tags=["nbprod"],
)
'''

_BASH_BODY = '''

def where(task):
    """The shell lines that enter the project: a fresh clone of PIPELINE["repository"] at
    PIPELINE["commit"], else the folder $NBPROD_PROJECT ("{task}" replaced) or PIPELINE["project"]."""
    if PIPELINE["repository"]:
        return ('work="$(mktemp -d)"; trap \\'rm -rf "$work"\\' EXIT\\n'
                'git clone --quiet "$NBPROD_REPOSITORY" "$work/project"\\n'
                'git -C "$work/project" checkout --quiet "$NBPROD_COMMIT"\\n'
                'cd "$work/project/$NBPROD_WORKDIR"\\n')
    return 'project="${NBPROD_PROJECT:-$NBPROD_DEFAULT_PROJECT}"\\ncd "${project//\\\\{task\\\\}/%s}"\\n' % task


def command(task, *args):
    lines = "set -euo pipefail\\n" + where(task)
    # one token per parameter (--env--NAME="$VALUE"): a value set in Airflow's UI stays data, to
    # the shell and to nbprod's parser alike (a value "--assemble" is a value, not an option)
    passed = " ".join('%s="$NBPROD_PARAM_%s"' % (flag, name) for flag, name in zip(PARAMS, PIPELINE["params"]))
    # not exec'd: the clone's EXIT trap must run after it
    return lines + '"${NBPROD_BIN:-$NBPROD_DEFAULT_BIN}" task %s -e "$NBPROD_ENTRY_POINT" %s' % (
        " ".join(args), passed)


ENV = dict(RUN_ENV, NBPROD_DEFAULT_PROJECT=PIPELINE["project"], NBPROD_DEFAULT_BIN=PIPELINE["nbprod"],
           NBPROD_ENTRY_POINT=PIPELINE["entry_point"], NBPROD_REPOSITORY=PIPELINE["repository"] or "",
           NBPROD_COMMIT=PIPELINE["commit"] or "", NBPROD_WORKDIR=PIPELINE["workdir"],
           **{"NBPROD_PARAM_%s" % name: "{{ params.%s }}" % name for name in PIPELINE["params"]})

with dag:
    tasks = {
        spec["name"]: BashOperator(task_id=spec["name"], bash_command=command(spec["name"], spec["name"]),
                                   env=ENV, append_env=True)
        for spec in PIPELINE["tasks"]
    }
    record = BashOperator(task_id="nbprod_run", bash_command=command("nbprod_run", "--assemble"), env=ENV,
                          append_env=True, trigger_rule="all_done", retries=0)
    for spec in PIPELINE["tasks"]:
        for upstream in spec["upstream"]:
            tasks[upstream] >> tasks[spec["name"]]
        tasks[spec["name"]] >> record
'''

_POD_BODY = '''
POD = PIPELINE["kubernetes"]
ENV = dict(RUN_ENV, NBPROD_STORE=POD["store"])
ENV_FROM = [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=POD["secret"]))] if POD["secret"] else []


def arguments(*args):
    passed = ["--env--%s={{ params.%s }}" % (name, name) for name in PIPELINE["params"]]  # one token each
    return ["task", *args, "-e", PIPELINE["entry_point"], *passed]


with dag:
    tasks = {
        spec["name"]: KubernetesPodOperator(
            task_id=spec["name"], name="nbprod-" + spec["name"].replace("_", "-").lower(), image=POD["image"],
            namespace=POD["namespace"], cmds=["nbprod"], arguments=arguments(spec["name"]), env_vars=ENV,
            env_from=ENV_FROM, get_logs=True, on_finish_action="delete_pod")
        for spec in PIPELINE["tasks"]
    }
    record = KubernetesPodOperator(
        task_id="nbprod_run", name="nbprod-run", image=POD["image"], namespace=POD["namespace"], cmds=["nbprod"],
        arguments=arguments("--assemble"), env_vars=ENV, env_from=ENV_FROM, get_logs=True,
        on_finish_action="delete_pod", trigger_rule="all_done", retries=0)
    for spec in PIPELINE["tasks"]:
        for upstream in spec["upstream"]:
            tasks[upstream] >> tasks[spec["name"]]
        tasks[spec["name"]] >> record
'''
