"""export.airflow: the DAG file's text (its behaviour under real Airflow: tests/airflow).

The reference project, rendered by ploomber (no kernel); the file is compiled, its PIPELINE
literal read back; what must never be written (credentials) and what is refused (one line)."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from nbprod.errors import ConfigError
from nbprod.export.airflow import FINAL, export_airflow

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(reference_project, monkeypatch):
    shutil.copy2(REPO / "pipeline.shared.yaml", reference_project)
    monkeypatch.chdir(reference_project)
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    return reference_project


def literal(path: Path) -> dict:
    tree = ast.parse(path.read_text())
    [node] = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "PIPELINE"]
    return ast.literal_eval(node.value)


def test_the_dag_holds_the_pipeline_as_a_literal_and_compiles(project, tmp_path):
    done = export_airflow(out=tmp_path, schedule="0 2 * * *")
    path = tmp_path / f"{done.dag_id}.py"
    compile(path.read_text(), str(path), "exec")
    data = literal(path)
    assert data["entry_point"] == "pipeline.shared.yaml"  # products through the store by default
    assert [(t["name"], t["upstream"]) for t in data["tasks"]] == [
        ("ingest", []), ("validate", ["ingest"]), ("train", ["ingest", "validate"]), ("evaluate", ["train"])]
    assert data["params"] == {"years": "2007,2008,2009", "source": "palmerpenguins", "test_size": 0.25,
                              "seed": 42, "C": 1.0}
    assert data["schedule"] == "0 2 * * *" and data["project"] == str(project)
    assert done.warnings == ()
    assert "import nbprod" not in path.read_text() and "from nbprod" not in path.read_text()


def test_no_credential_of_the_environment_reaches_the_file(project, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzSECRET")
    monkeypatch.setenv("NBPROD_STORE", "s3://bucket/runs")
    export_airflow(out=tmp_path, dag_id="d")
    text = (tmp_path / "d.py").read_text()
    assert "wJalrXUtnFEMI" not in text and "s3://bucket" not in text  # settings come from the workers


@pytest.mark.parametrize("options, message", [
    ({"schedule": "0 2 * *"}, "--schedule '0 2 \\* \\*' is not a cron expression Airflow takes"),
    ({"dag_id": "bad id"}, "--dag-id 'bad id' is not an Airflow DAG id"),
    ({"clone": "https://bob:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/x/y.git"}, "--clone holds"),
    ({"kubernetes": "img:1", "store": "outputs/store"}, "s3://"),
])
def test_bad_options_are_one_line_and_nothing_is_written(project, tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        export_airflow(out=tmp_path / "dags", **options)
    assert not (tmp_path / "dags").exists()


def test_a_task_named_like_the_final_task_is_refused(project, tmp_path):
    spec = project / "pipeline.shared.yaml"
    spec.write_text(spec.read_text().replace("name: evaluate", f"name: {FINAL}"))
    with pytest.raises(ConfigError, match=f"task '{FINAL}' cannot be an Airflow task id"):
        export_airflow(out=tmp_path)


def test_a_spec_without_a_file_client_is_exported_with_a_warning(project, tmp_path):
    done = export_airflow(out=tmp_path, entry_point="pipeline.yaml")
    assert literal(tmp_path / f"{done.dag_id}.py")["entry_point"] == "pipeline.yaml"
    assert "has no File client" in done.warnings[0]


def test_an_edited_dag_is_kept_unless_forced(project, tmp_path):
    export_airflow(out=tmp_path, dag_id="d")
    path = tmp_path / "d.py"
    path.write_text(path.read_text().replace("'retries': 1", "'retries': 5"))
    with pytest.raises(ConfigError):
        export_airflow(out=tmp_path, dag_id="d")
    assert "'retries': 5" in path.read_text()
    assert export_airflow(out=tmp_path, dag_id="d", force=True).written.changed
    assert export_airflow(out=tmp_path, dag_id="d").written.changed is False


def test_clone_pins_the_commit_exported_from(project, tmp_path):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@x.invalid", *args], cwd=project,
                              check=True, capture_output=True, text=True).stdout.strip()
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "x")
    export_airflow(out=tmp_path, dag_id="d", clone=project.as_uri())
    data = literal(tmp_path / "d.py")
    assert data["commit"] == git("rev-parse", "HEAD") and data["repository"] == project.as_uri()
    assert data["workdir"] == "."


def _load_dag(path: Path, monkeypatch) -> dict:
    """Execute the DAG file with stand-ins for the three Airflow names it uses."""
    import sys
    import types

    class Op:
        def __init__(self, **kw):
            self.__dict__.update(kw)

        def __rshift__(self, other):
            return other

    class DAG:
        def __init__(self, **kw):
            self.__dict__.update(kw)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    for name, attrs in {"airflow": {}, "airflow.sdk": {"DAG": DAG}, "airflow.providers": {},
                        "airflow.providers.standard": {}, "airflow.providers.standard.operators": {},
                        "airflow.providers.standard.operators.bash": {"BashOperator": Op}}.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    scope: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    return scope


def test_the_dag_run_renders_without_a_logical_date(project, tmp_path, monkeypatch):
    """Airflow 3 triggers runs without a logical date, and its templates use StrictUndefined:
    the orchestrator must still render (run_after then names the run's time)."""
    import jinja2

    export_airflow(out=tmp_path / "dags", dag_id="d")
    scope = _load_dag(tmp_path / "dags" / "d.py", monkeypatch)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    dag_run = {"logical_date": None, "run_after": "2026-12-01 02:00:00+00:00"}
    text = env.from_string(scope["ORCHESTRATOR"]).render(dag={"dag_id": "d"}, run_id="manual__x", dag_run=dag_run)
    from nbprod.engine.onetask import run_id_for

    import json

    assert json.loads(text)["logical_date"] == "None"
    assert run_id_for(None, json.loads(text)).startswith("20261201T020000Z-")


def test_a_dag_param_from_the_ui_is_data_to_the_shell_and_to_nbprod(project, tmp_path, monkeypatch):
    export_airflow(out=tmp_path / "dags", dag_id="d")
    scope = _load_dag(tmp_path / "dags" / "d.py", monkeypatch)
    task = scope["tasks"]["ingest"]
    fake = tmp_path / "fake-nbprod"
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n")
    fake.chmod(0o755)
    hostile = {"years": "--assemble", "source": "$(touch pwned); `touch pwned2`", "test_size": "0.25",
               "seed": "42", "C": "-1 --help"}
    env = {**{k: str(v) for k, v in task.env.items()}, "NBPROD_BIN": str(fake), "NBPROD_PROJECT": str(project),
           **{f"NBPROD_PARAM_{k}": v for k, v in hostile.items()}}
    done = subprocess.run(["bash", "-c", task.bash_command], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    args = done.stdout.splitlines()
    assert args[:4] == ["task", "ingest", "-e", "pipeline.shared.yaml"]
    assert "--env--years=--assemble" in args and "--env--C=-1 --help" in args
    assert "--env--source=$(touch pwned); `touch pwned2`" in args
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
