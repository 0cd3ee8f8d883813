"""`nbprod ci init github|gitlab`: the files validate against GitHub's and GitLab's published
schemas (check-jsonschema's offline copies), do what the README says, and the copies this
repository commits are exactly what the command writes now."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nbprod.ci.workflows import PATHS, render_workflow
from nbprod.cli import cli

REPO = Path(__file__).resolve().parents[3]
CHECK = Path(sys.executable).parent / "check-jsonschema"
SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}
THIS_REPO = 'pip install -c requirements.lock -e ".[dev]" -e src/penguins'


def validate(kind: str, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHECK), "--builtin-schema", SCHEMAS[kind], *map(str, paths)], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_generated_and_committed_files_are_schema_valid(kind, tmp_path):
    default, optioned = tmp_path / f"{kind}.yml", tmp_path / f"{kind}-options.yml"
    default.write_text(render_workflow(kind))
    optioned.write_text(render_workflow(kind, python="3.12", lock="requirements.txt",
                                        install="pip install -c 'req: a.lock' -e . # it's #1"))
    assert yaml.safe_load(optioned.read_text())  # quotes, colons and # survive as data
    done = validate(kind, default, optioned, REPO / PATHS[kind])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind, broken", [
    ("github", lambda data: data["jobs"]["nbprod"].pop("runs-on")),
    ("gitlab", lambda data: data["nbprod"]["artifacts"].update(when="sometimes")),
])
def test_the_schema_check_does_refuse_a_broken_file(kind, broken, tmp_path):
    data = yaml.safe_load(render_workflow(kind))
    broken(data)
    path = tmp_path / f"{kind}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert validate(kind, path).returncode == 1


def test_the_github_workflow_checks_builds_and_keeps_artifacts_even_on_failure():
    text = render_workflow("github", lock="reqs/ci.lock", install="pip install -c reqs/ci.lock -e .")
    data = yaml.safe_load(text)
    assert data["on"] == ["push", "pull_request"]
    steps = data["jobs"]["nbprod"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"] == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "reqs/ci.lock"}
    runs = [s.get("run", "") for s in steps]
    order = [next(i for i, r in enumerate(runs) if needle in r) for needle in
             ("pip install -c reqs/ci.lock -e .", "nbprod check", "nbprod build --smoke --junit nbprod-junit.xml",
              "nbprod report --smoke --out nbprod-report")]
    assert order == sorted(order) and steps[0]["uses"].startswith("actions/checkout@")
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 2 and all(s["if"] == "always()" for s in uploads)
    assert steps[order[-1]]["if"] == "always()"  # the report is rendered after a failed build too
    names = [s["with"]["name"] for s in uploads]
    assert len(set(names)) == 2 and all(n.endswith("-${{ github.run_id }}-${{ github.run_attempt }}") for n in names)
    paths = [s["with"]["path"].split() for s in uploads]
    assert paths == [["outputs/", "!outputs/store/", "nbprod-junit.xml"], ["nbprod-report/"]]
    assert "secrets." not in text and "${{ secrets" not in text


def test_the_gitlab_job_reports_junit_and_keeps_artifacts_always():
    data = yaml.safe_load(render_workflow("gitlab", python="3.12"))
    job = data["nbprod"]
    assert job["image"] == "python:3.12"
    assert job["cache"] == {"key": {"files": ["requirements.lock"]}, "paths": [".cache/pip"]}
    assert job["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    assert job["script"][1:] == ["pip install -r requirements.lock", "nbprod check",
                                 "nbprod build --smoke --junit nbprod-junit.xml"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"] == {"junit": "nbprod-junit.xml"}
    assert set(job["artifacts"]["paths"]) == {"outputs/", "nbprod-report/", "nbprod-junit.xml"}
    assert job["after_script"] == ["nbprod report --smoke --out nbprod-report"]


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_the_committed_files_are_what_the_command_writes_now(kind, tmp_path):
    committed = REPO / PATHS[kind]
    # the header names the command that wrote it: run it again, into a temporary file
    header = next(line for line in committed.read_text().splitlines() if line.startswith("#   nbprod ci init "))
    args = shlex.split(header[len("#   nbprod "):])
    assert args[:3] == ["ci", "init", kind] and f"--install {shlex.quote(THIS_REPO)}" in header
    out = tmp_path / "again.yml"
    result = CliRunner().invoke(cli, [*args, "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_text() == committed.read_text(), f"run `nbprod {' '.join(args)}` and commit {PATHS[kind]}"


def nbprod(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin"})


def test_init_writes_refuses_a_different_file_and_overwrites_with_force(tmp_path):
    done = nbprod("ci", "init", "github", cwd=tmp_path)
    path = tmp_path / ".github" / "workflows" / "nbprod.yml"
    assert done.returncode == 0 and done.stdout == "nbprod: wrote .github/workflows/nbprod.yml\n"
    assert path.read_text() == render_workflow("github")
    again = nbprod("ci", "init", "github", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == "nbprod: unchanged: .github/workflows/nbprod.yml\n"

    path.write_text(path.read_text() + "# my edit\n")
    refused = nbprod("ci", "init", "github", "--python", "3.12", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == ("nbprod: error: .github/workflows/nbprod.yml exists and differs from what "
                              "`nbprod ci init github` writes: pass --force to overwrite it\n")
    assert path.read_text().endswith("# my edit\n")
    forced = nbprod("ci", "init", "github", "--python", "3.12", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and path.read_text() == render_workflow("github", python="3.12")

    gitlab = nbprod("ci", "init", "gitlab", "--output", "ci/pipeline.yml", cwd=tmp_path)
    assert gitlab.returncode == 0 and (tmp_path / "ci" / "pipeline.yml").read_text() == render_workflow("gitlab")
    assert nbprod("ci", "init", "jenkins", cwd=tmp_path).returncode == 2
