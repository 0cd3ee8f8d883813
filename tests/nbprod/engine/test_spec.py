"""nbprod.engine.spec: which entry point and env file a build used, by ploomber's own rules.

Real spec files in a temp folder, ploomber's real lookup (no DAG is built: the
function reads only the entry point a DAG was attached with, or the command line).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from nbprod.engine.spec import spec_files


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    for name, text in {"pipeline.yaml": "tasks: []\n", "env.yaml": "n: 1\n", "pipeline.ci.yaml": "tasks: []\n",
                       "env.ci.yaml": "n: 2\n", "env.other.yaml": "n: 3\n"}.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLOOMBER_ENV_FILENAME", raising=False)
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    return tmp_path


def test_nbprod_build_e_names_the_entry_point_and_its_env_file(project):
    dag = SimpleNamespace(_nbprod_entry_point="pipeline.ci.yaml")  # as engine.dag.attach leaves it
    assert spec_files(dag, argv=[]) == {"entry_point": str(project / "pipeline.ci.yaml"),
                                        "env": str(project / "env.ci.yaml")}


def test_ploomber_build_e_is_read_from_the_command_line(project):
    found = spec_files(SimpleNamespace(), argv=["ploomber", "build", "-e", "pipeline.ci.yaml", "--force"])
    assert found["entry_point"] == str(project / "pipeline.ci.yaml") and found["env"] == str(project / "env.ci.yaml")
    assert spec_files(SimpleNamespace(), argv=["ploomber", "build", "--entry-point", "pipeline.ci.yaml"]) == found


def test_without_e_ploombers_default_and_its_env_file(project, monkeypatch):
    assert spec_files(SimpleNamespace(), argv=["ploomber", "build"]) == {
        "entry_point": str(project / "pipeline.yaml"), "env": str(project / "env.yaml")}
    monkeypatch.setenv("PLOOMBER_ENV_FILENAME", "env.other.yaml")
    assert spec_files(SimpleNamespace(), argv=["ploomber", "build"])["env"] == str(project / "env.other.yaml")


def test_no_env_file_or_a_factory_entry_point(project):
    (project / "env.yaml").unlink()
    (project / "env.ci.yaml").unlink()
    assert spec_files(SimpleNamespace(_nbprod_entry_point="pipeline.ci.yaml")) == {
        "entry_point": str(project / "pipeline.ci.yaml")}
    assert spec_files(SimpleNamespace(_nbprod_entry_point="tasks.make_dag")) == {}  # a Python factory: no spec file
