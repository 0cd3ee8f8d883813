"""nbprod.reproduce.plan: what to build again, from the record alone."""

from __future__ import annotations

import pytest

from nbprod.errors import NotReproducibleError
from nbprod.reproduce.plan import build_options, plan_for
from nbprod.schema import RunRecord


@pytest.mark.parametrize("command, options", [
    (["nbprod", "build"], []),
    (["nbprod", "build", "--env--C", "0.5", "--force"], ["--env--C", "0.5", "--force"]),
    (["nbprod", "build", "--env--C=0.5", "-e", "pipeline.ci.yaml", "--smoke", "--junit", "r.xml"], ["--env--C=0.5"]),
    (["ploomber", "build", "--partially", "train", "--log-file", "/tmp/log", "--debug", "--entry-point=x.yaml"],
     ["--partially", "train"]),
    (["nbprod", "build", "--baseline", "latest~1", "--log", "info"], ["--log", "info"]),
    (["python", "my_script.py"], []),  # a DAG built from Python: no options known
])
def test_the_build_options_of_the_recorded_command(command, options):
    assert build_options(command) == options


def record(**fields) -> RunRecord:
    return RunRecord(run_id="20261201T100000Z-abcdef", status="succeeded", started_at="t", **fields)


def test_the_plan_names_the_commit_project_folder_entry_point_and_env_file():
    plan = plan_for(record(
        command=["nbprod", "build", "-e", "/home/ada/repo/sub/pipeline.ci.yaml", "--smoke"], smoke=True,
        git={"commit": "f" * 40, "dirty": True, "root": "/home/ada/repo"},
        project={"root": "/home/ada/repo/sub", "files": {"pipeline.ci.yaml": {"role": "entry_point"},
                                                          "env.ci.yaml": {"role": "env"}}}))
    assert (plan.commit, plan.project, plan.entry_point, plan.env_file) == ("f" * 40, "sub", "pipeline.ci.yaml",
                                                                          "env.ci.yaml")
    assert plan.smoke and plan.dirty and plan.argv == ()


def test_a_run_without_a_commit_is_refused():
    with pytest.raises(NotReproducibleError, match="was not built in a git repository"):
        plan_for(record(git=None))


def test_a_papermill_run_is_refused_not_built_as_the_pipeline():
    from nbprod.schema import TaskRecord

    papermill = record(command=["nbprod", "run", "job.ipynb", "out.ipynb", "-p", "n", "1"],
                       git={"commit": "f" * 40, "dirty": False})
    papermill.tasks = [TaskRecord(name="job", kind="papermill", status="succeeded")]
    with pytest.raises(NotReproducibleError, match="is one notebook run by papermill"):
        plan_for(papermill)
