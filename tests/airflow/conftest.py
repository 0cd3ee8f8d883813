"""Fixtures for the tests against real Apache Airflow 3 (see airflowkit.py).

* ``airflow_venv`` (session): the Airflow venv built from requirements.lock, cached
  under ~/.cache/nbprod (``NBPROD_AIRFLOW_CACHE`` moves it); the first build takes
  a minute or two.
* ``airflow`` (function): an :class:`airflowkit.Airflow` with its own AIRFLOW_HOME
  in tmp_path, DAG files in ``airflow.dags_folder`` (``tmp_path / "dags"``), and a
  migrated SQLite DB (``airflow db migrate`` runs once per session / xdist worker;
  each test gets a copy of that DB).

Every test under tests/airflow is marked ``airflow`` (deselect with ``-m "not airflow"``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import airflowkit  # noqa: E402


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.airflow)


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    return airflowkit.airflow_venv()


@pytest.fixture(scope="session")
def airflow_migrated_db(airflow_venv, tmp_path_factory) -> Path:
    """A freshly migrated metadata DB (``airflow db migrate`` takes ~8 s; done once)."""
    base = tmp_path_factory.mktemp("airflow-template")
    template = airflowkit.Airflow(airflow_venv, base / "home", base / "dags")
    seconds = template.migrate()
    print(f"[airflowkit] airflow db migrate: {seconds:.1f} s", file=sys.stderr)
    return template.db


@pytest.fixture
def airflow(airflow_venv, airflow_migrated_db, tmp_path) -> airflowkit.Airflow:
    af = airflowkit.Airflow(airflow_venv, tmp_path / "airflow-home", tmp_path / "dags")
    shutil.copyfile(airflow_migrated_db, af.db)
    return af
