"""penguins.paths: one set of relative defaults, any working directory."""

from pathlib import Path

import pytest

from penguins import paths


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pipeline.yaml").write_text("tasks: []\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    return tmp_path.resolve()


def test_project_root_walks_up_to_pipeline_yaml(project):
    assert paths.project_root() == project
    assert paths.project_root(project / "notebooks") == project


def test_project_root_without_pipeline_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="pipeline.yaml"):
        paths.project_root(tmp_path)


def test_resolve_relative_is_relative_to_root_not_cwd(project):
    assert paths.resolve("outputs/data/x.parquet") == project / "outputs/data/x.parquet"


def test_resolve_keeps_absolute_paths(project, tmp_path):
    absolute = Path("/somewhere/else/x.parquet")
    assert paths.resolve(absolute) == absolute
    assert paths.resolve(str(absolute)) == absolute
