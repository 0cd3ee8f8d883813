"""Shared fixtures: real processes, real kernels, a store per test.

Every test that builds runs the real ``ploomber`` / ``nbprod`` / ``papermill``
commands in a subprocess, as a user would, with its own store folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _base_env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBPROD_", "PLOOMBER_"))}
    env.update(
        PLOOMBER_STATS_ENABLED="false",
        PLOOMBER_VERSION_CHECK_DISABLED="true",
        NBPROD_STORE=str(store),
        NBPROD_SPOOL=str(store.parent / "spool"),  # never the user's ~/.cache
        NBPROD_CACHE=str(store.parent / "cache" / "objects"),  # load_model's downloads, the models' events
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    return env


class Shell:
    """Runs commands the way a user types them, in one project folder."""

    def __init__(self, cwd: Path, store: Path):
        self.cwd = cwd
        self.store = store
        self.env = _base_env(store)

    def __call__(self, *args: str, check: bool = True, timeout: int = 600, cwd: Path | None = None, **env):
        full_env = {**self.env, **{k: str(v) for k, v in env.items()}}
        done = subprocess.run(
            list(args), cwd=cwd or self.cwd, env=full_env, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {done.returncode}\nSTDOUT:\n{done.stdout[-4000:]}\nSTDERR:\n{done.stderr[-6000:]}"
            )
        return done

    def nbprod_json(self, *args: str):
        return json.loads(self("nbprod", *args, "--json").stdout)

    def runs(self) -> list[dict]:
        return self.nbprod_json("runs", "ls", "--all")

    def latest(self) -> dict:
        return self.nbprod_json("runs", "show", "latest")


def default_signals() -> None:
    """SIGINT/SIGTERM as a terminal gives them (a ``preexec_fn``): a test runner started in the
    background (`cmd &` in a script), or a pytest-xdist worker, ignores SIGINT, and its children
    would inherit that."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write_notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    """A notebook with an optional ``parameters`` cell, then code cells."""
    nb = nbformat.v4.new_notebook()
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def git_init(path: Path) -> str:
    def git(*args):
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=path, check=True, capture_output=True, text=True,
        ).stdout

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    return git("rev-parse", "HEAD").strip()


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "store"


def copy_reference_project(dest: Path) -> Path:
    """This repository's reference project (notebooks, pipeline, env files, nbprod.yaml) copied to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("notebooks", "pipeline.yaml", "env.yaml", "env.ci.yaml", "nbprod.yaml"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dest / name)
    (dest / ".gitignore").write_text("outputs/\n")
    return dest


@pytest.fixture
def reference_project(tmp_path) -> Path:
    """A copy of this repository's reference project, as its own git repo."""
    return copy_reference_project(tmp_path / "project")


@pytest.fixture
def shell_factory(store):
    def make(cwd: Path) -> Shell:
        return Shell(cwd, store)

    return make


# -- S3: moto's server on loopback, real HTTP (as s3fs's own tests do) ------------

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Server:
    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self):
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self):
        self.server.stop()

    def reset(self):
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).read()

    def env(self) -> dict[str, str]:
        return {**S3_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, **_boto_creds()).create_bucket(Bucket=name)


def _boto_creds():
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh S3 (reset server, bucket `nbprod-test`) and the AWS env pointing at it."""
    import s3fs

    s3_server.reset()
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3fs.S3FileSystem.clear_instance_cache()
    s3_server.create_bucket("nbprod-test")
    yield s3_server
    s3fs.S3FileSystem.clear_instance_cache()


def _clear_memory_fs() -> None:
    import fsspec

    memory = fsspec.filesystem("memory")  # one process-wide instance: shared by every memory:// store
    memory.store.clear()
    memory.pseudo_dirs.clear()
    memory.pseudo_dirs.append("")


@pytest.fixture
def memory_fs():
    """An empty memory:// filesystem, emptied again after the test."""
    _clear_memory_fs()
    yield
    _clear_memory_fs()


# -- Apache Airflow (tests/airflow): a venv of its own, one AIRFLOW_HOME per test -------------
# Here, not in a tests/airflow/conftest.py: test modules import helpers with `from conftest
# import ...`, and a second conftest module on sys.path would be the one they get.
AIRFLOW_TESTS = Path(__file__).resolve().parent / "airflow"


def _airflowkit():
    if str(AIRFLOW_TESTS) not in sys.path:
        sys.path.append(str(AIRFLOW_TESTS))  # appended: it must never shadow this conftest
    import airflowkit

    return airflowkit


def pytest_collection_modifyitems(config, items):
    """Every test under tests/airflow is marked ``airflow`` (deselect with ``-m "not airflow"``)."""
    for item in items:
        if AIRFLOW_TESTS in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.airflow)


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    """The Airflow venv built from tests/airflow/requirements.lock, cached under ~/.cache/nbprod
    (``NBPROD_AIRFLOW_CACHE`` moves it); the first build takes a few minutes."""
    return _airflowkit().airflow_venv()


@pytest.fixture(scope="session")
def airflow_migrated_db(airflow_venv, tmp_path_factory) -> Path:
    """A freshly migrated metadata DB (``airflow db migrate`` takes ~8 s; done once per worker)."""
    kit = _airflowkit()
    base = tmp_path_factory.mktemp("airflow-template")
    template = kit.Airflow(airflow_venv, base / "home", base / "dags")
    seconds = template.migrate()
    print(f"[airflowkit] airflow db migrate: {seconds:.1f} s", file=sys.stderr)
    return template.db


@pytest.fixture
def airflow(airflow_venv, airflow_migrated_db, tmp_path):
    """An Airflow with its own AIRFLOW_HOME in tmp_path, DAG files in ``airflow.dags_folder``, and
    a copy of the migrated SQLite DB."""
    af = _airflowkit().Airflow(airflow_venv, tmp_path / "airflow-home", tmp_path / "dags")
    shutil.copyfile(airflow_migrated_db, af.db)
    return af
