"""The command a scheduled build runs and the .nbprod.env it reads, without a build: the line
is run under ``env -i`` with a stand-in for nbprod that shows what it was started with."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import git_init
from schedule_sandbox import BIN, bare_run

from nbprod.errors import ConfigError
from nbprod.schedule.envfile import ENV_FILE, write_env_file
from nbprod.schedule.job import Job, command, env_pairs, make_job

FAKE = """#!/bin/sh
echo "cwd=$(pwd)"
echo "path=$PATH"
echo "store=$NBPROD_STORE tqdm=$TQDM_DISABLE"
echo "args=$*"
echo "oops" >&2
exit "${FAKE_EXIT:-0}"
"""


@pytest.fixture
def fake_nbprod(tmp_path) -> Path:
    path = tmp_path / "venv" / "bin" / "nbprod"
    path.parent.mkdir(parents=True)
    path.write_text(FAKE)
    path.chmod(0o755)
    return path


def test_the_job_runs_this_venvs_nbprod_by_absolute_path_in_the_project(reference_project):
    job = make_job(cwd=reference_project / "notebooks", environ={})
    assert job.root == reference_project and job.entry is None and job.name == "project"
    assert job.nbprod == (str(BIN / "nbprod"),) and os.path.isabs(job.nbprod[0])
    line = command(job)
    words = shlex.split(line)
    assert words[:2] == ["cd", str(reference_project)]
    assert f"PATH={BIN}:/usr/local/bin:/usr/bin:/bin; TQDM_DISABLE=1; export PATH TQDM_DISABLE;" in line
    assert f"exec {BIN / 'nbprod'} build --tag schedule=project;" in line
    assert line.endswith(f">> {reference_project / '.nbprod/logs/schedule-project.log'} 2>&1")


def test_another_entry_point_is_passed_with_e_and_names_the_schedule(reference_project, tmp_path):
    (reference_project / "pipeline.train.yaml").write_text((reference_project / "pipeline.yaml").read_text())
    job = make_job(entry=str(reference_project / "pipeline.train.yaml"), cwd=tmp_path, environ={})
    assert (job.entry, job.name) == ("pipeline.train.yaml", "project-train")
    assert job.build_argv()[1:] == ["build", "--tag", "schedule=project-train", "-e", "pipeline.train.yaml"]
    with pytest.raises(ConfigError, match="no such file"):
        make_job(entry="nope.yaml", cwd=reference_project, environ={})
    with pytest.raises(ConfigError, match="no pipeline.yaml in"):
        make_job(cwd=tmp_path, environ={})
    with pytest.raises(ConfigError, match="is not a schedule name"):
        make_job(name="a b", cwd=reference_project, environ={})


def test_the_line_works_in_crons_bare_environment(reference_project, fake_nbprod, tmp_path):
    """cd, PATH with the venv first, .nbprod.env exported, output appended, nbprod's exit status."""
    job = Job(name="nightly", root=reference_project, entry=None, env=(("years", "2008"), ("note", "it's x")),
              program=(str(fake_nbprod),))
    (reference_project / ENV_FILE).write_text("NBPROD_STORE='/srv/store dir'\nFAKE_EXIT=0\n")
    run = bare_run(command(job), tmp_path / "home")
    assert run.wait(timeout=60) == 0 and run.stdout.read() == "" and run.stderr.read() == ""
    log = (reference_project / ".nbprod" / "logs" / "schedule-nightly.log").read_text().splitlines()
    assert log[0].startswith("nbprod schedule nightly: started ") and "UTC" in log[0]
    assert log[1:] == [f"cwd={reference_project}", f"path={fake_nbprod.parent}:/usr/local/bin:/usr/bin:/bin",
                       "store=/srv/store dir tqdm=1", "args=build --tag schedule=nightly --env--years 2008 --env--note it's x",
                       "oops"]
    (reference_project / ENV_FILE).write_text("FAKE_EXIT=2\n")  # the job's status is nbprod's
    again = bare_run(command(job), tmp_path / "home")
    assert again.wait(timeout=60) == 2
    log = (reference_project / ".nbprod" / "logs" / "schedule-nightly.log").read_text().splitlines()
    assert len(log) == 12 and log[-3] == "store= tqdm=1" and log[-1] == "oops"  # appended; no store set now
    (reference_project / ENV_FILE).unlink()  # no .nbprod.env: the job still runs
    assert bare_run(command(job), tmp_path / "home").wait(timeout=60) == 0


def test_a_project_that_is_gone_ends_the_job_with_2(tmp_path, fake_nbprod):
    job = Job(name="gone", root=tmp_path / "gone", entry=None, program=(str(fake_nbprod),))
    assert bare_run(command(job), tmp_path / "home").wait(timeout=60) == 2


@pytest.mark.parametrize("args, message", [
    (["--env--aws_secret", "abcdefgh123"], "holds a secret"),
    (["--env--source", "s3://AKIDX:hunter22secret@bucket/data.csv"], "holds a password in a URL"),
    (["--env--key", "AKIAABCDEFGHIJKLMNOP"], "AWS access key id"),
    (["--force"], "unexpected argument '--force'"),
    (["--env--years"], "has no value"),
    (["--env--years", "2008\n* * * * * touch /tmp/pwned"], "control character"),  # a second crontab line
])
def test_parameters_that_would_put_a_credential_into_the_line_are_refused(args, message):
    with pytest.raises(ConfigError, match=message) as caught:
        env_pairs(args)
    assert "\n" not in str(caught.value)


def test_parameters_are_kept_in_order_in_both_spellings():
    assert env_pairs(["--env--years", "2008", "--env--C=0.5", "--env--key_column", "id"]) == (
        ("years", "2008"), ("C", "0.5"), ("key_column", "id"))


# -- .nbprod.env ---------------------------------------------------------------------------


def test_env_file_holds_only_nbprod_settings_never_credentials(reference_project, tmp_path):
    git_init(reference_project)
    environ = {"NBPROD_STORE": "outputs/other-store", "NBPROD_LOCK_TIMEOUT": "30", "AWS_SECRET_ACCESS_KEY": "s3cr3tvalue",
               "NBPROD_SPOOL": "s3://AKIDX:hunter22secret@bucket/spool", "HOME": "/root", "PATH": "/usr/bin",
               "NBPROD_UNKNOWN": "x"}
    done = write_env_file(reference_project, environ, cwd=tmp_path)
    text = (reference_project / ENV_FILE).read_text()
    assert done.created and done.added == ("NBPROD_STORE", "NBPROD_LOCK_TIMEOUT")
    assert done.skipped == (("NBPROD_SPOOL", "a password in a URL"),)
    assert [l for l in text.splitlines() if not l.startswith("#")] == [
        f"NBPROD_STORE={tmp_path / 'outputs/other-store'}", "NBPROD_LOCK_TIMEOUT=30"]
    assert "hunter22" not in text and "s3cr3t" not in text and "HOME" not in text
    assert stat.S_IMODE((reference_project / ENV_FILE).stat().st_mode) == 0o600
    # git-ignored: the line added to .gitignore, once
    assert done.ignored_by == ".gitignore"
    ignored = subprocess.run(["git", "check-ignore", "-q", ENV_FILE], cwd=reference_project)
    assert ignored.returncode == 0
    assert write_env_file(reference_project, environ, cwd=tmp_path).ignored_by is None
    assert (reference_project / ".gitignore").read_text().count(ENV_FILE) == 1


def test_env_file_keeps_what_the_user_wrote_and_only_adds_missing_settings(reference_project, tmp_path):
    path = reference_project / ENV_FILE
    path.write_text("# mine\nexport NBPROD_STORE='/srv/my store'\nAWS_PROFILE=prod\n")
    path.chmod(0o640)
    done = write_env_file(reference_project, {"NBPROD_STORE": "/elsewhere", "NBPROD_BUILD_TIMEOUT": "3600"})
    assert (done.created, done.added, done.kept) == (False, ("NBPROD_BUILD_TIMEOUT",), ("NBPROD_STORE",))
    assert path.read_text() == "# mine\nexport NBPROD_STORE='/srv/my store'\nAWS_PROFILE=prod\nNBPROD_BUILD_TIMEOUT=3600\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    before = path.read_bytes()
    again = write_env_file(reference_project, {"NBPROD_STORE": "/srv/my store", "NBPROD_BUILD_TIMEOUT": "3600"})
    assert (again.added, again.kept) == ((), ()) and path.read_bytes() == before  # not even rewritten


def test_a_setting_a_build_would_refuse_is_refused_when_scheduling(reference_project):
    with pytest.raises(ConfigError, match="NBPROD_LOCK_TIMEOUT='soon'"):
        write_env_file(reference_project, {"NBPROD_LOCK_TIMEOUT": "soon"})
    assert not (reference_project / ENV_FILE).exists()
