"""The CI files ``nbprod ci init github|gitlab`` writes: check, smoke build, artifacts.

Why from dicts and not templates: the file is data (YAML) and :func:`yaml.safe_dump`
quotes and indents it correctly whatever the options hold (a quote or a colon in an
install command would break a text template). The tests validate both files against the
published schemas (SchemaStore's, shipped offline by check-jsonschema).

What the files do, on every push and pull/merge request: set up Python with pip's
cache keyed on the lock file, install from the lock, ``nbprod check``, ``nbprod build
--smoke --junit FILE``, then, even when a step failed, render the report and keep the
executed notebooks and products (``outputs/``, without the local store), the JUnit XML
and the report as artifacts. Artifact names carry the run id and attempt, so a re-run
never collides with the first. No secret is named: a store on S3 needs its credentials
from the CI's secret store, added by the user (README.md, "Notebooks in CI").
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files import atomic_write

#: kind -> where the file goes, relative to the repository root
PATHS = {"github": ".github/workflows/nbprod.yml", "gitlab": ".gitlab-ci.yml"}
DEFAULTS = {"python": "3.11", "lock": "requirements.lock", "install": None}
JUNIT = "nbprod-junit.xml"
REPORT = "nbprod-report"
PRODUCTS = "outputs/"
STORE = "outputs/store/"  # the default local store: kept out of the artifact (the report shows it)
ENV = {"PLOOMBER_STATS_ENABLED": "false", "PLOOMBER_VERSION_CHECK_DISABLED": "true"}


@dataclass(frozen=True)
class Written:
    """The file :func:`write_workflow` wrote (``changed`` False: it held this already)."""

    path: Path
    changed: bool


def install_command(lock: str, install: str | None) -> str:
    """The install step: the user's command, else everything pinned by the lock."""
    return install or f"pip install -r {shlex.quote(lock)}"


def render_workflow(kind: str, *, python: str = "3.11", lock: str = "requirements.lock",
                    install: str | None = None) -> str:
    """The text of the ``github`` workflow or the ``gitlab`` pipeline (see the module docstring).

    ``lock``: the requirements file pip's cache is keyed on (and installed from, unless
    ``install`` gives the whole install command, e.g. ``pip install -c requirements.lock -e .``).
    """
    import yaml

    build = {"github": _github, "gitlab": _gitlab}.get(kind)
    if build is None:
        raise ConfigError(f"no CI called {kind!r}", hint=f"use one of: {', '.join(PATHS)}")
    options = {"python": python, "lock": lock, "install": install}
    given = [f"--{name} {shlex.quote(value)}" for name, value in options.items() if value != DEFAULTS[name]]
    header = ["# nbprod's CI: `nbprod check`, a smoke build, the executed notebooks and report kept.",
              f"# Written by `nbprod ci init {kind}`; to change it, edit it or write it again:",
              f"#   {' '.join(['nbprod ci init', kind, *given, '--force'])}"]

    class Dumper(yaml.SafeDumper):
        """Multi-line commands as YAML block scalars, readable in review."""

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    body = yaml.dump(build(python, lock, install_command(lock, install)), Dumper=Dumper, sort_keys=False,
                     width=1000, allow_unicode=True)
    return "\n".join(header) + "\n" + body


def _github(python: str, lock: str, install: str) -> dict[str, Any]:
    unique = "${{ github.run_id }}-${{ github.run_attempt }}"

    def upload(what: str, name: str, paths: list[str]) -> dict[str, Any]:
        return {"name": f"Keep {what}", "if": "always()", "uses": "actions/upload-artifact@v4",
                "with": {"name": f"{name}-{unique}", "path": "\n".join(paths) + "\n", "if-no-files-found": "warn"}}

    return {
        "name": "nbprod",
        "on": ["push", "pull_request"],
        "permissions": {"contents": "read"},
        "env": dict(ENV),
        "jobs": {"nbprod": {
            "runs-on": "ubuntu-latest",
            "timeout-minutes": 60,
            "steps": [
                {"uses": "actions/checkout@v4"},
                {"uses": "actions/setup-python@v5",
                 "with": {"python-version": python, "cache": "pip", "cache-dependency-path": lock}},
                {"name": "Install from the lock", "run": f"python -m pip install --upgrade pip\n{install}\n"},
                {"name": "Check the project", "run": "nbprod check"},
                {"name": "Build the pipeline (smoke)", "run": f"nbprod build --smoke --junit {JUNIT}"},
                {"name": "Render the report", "if": "always()", "run": f"nbprod report --smoke --out {REPORT}"},
                upload("the executed notebooks and products", "nbprod-outputs", [PRODUCTS, f"!{STORE}", JUNIT]),
                upload("the report", "nbprod-report", [f"{REPORT}/"]),
            ],
        }},
    }


def _gitlab(python: str, lock: str, install: str) -> dict[str, Any]:
    return {
        # merge-request pipelines, and branch pipelines when no merge request is open (not both)
        "workflow": {"rules": [
            {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
            {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"},
            {"if": "$CI_COMMIT_BRANCH"},
        ]},
        "nbprod": {
            "image": f"python:{python}",
            "timeout": "1h",
            "variables": {"PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip", **ENV},
            "cache": {"key": {"files": [lock]}, "paths": [".cache/pip"]},
            "script": ["python -m pip install --upgrade pip", install, "nbprod check",
                       f"nbprod build --smoke --junit {JUNIT}"],
            "after_script": [f"nbprod report --smoke --out {REPORT}"],  # runs when the script failed too; --smoke: CI's runs are smoke runs
            "artifacts": {
                "when": "always",
                "name": "nbprod-$CI_JOB_NAME-$CI_PIPELINE_ID",
                "paths": [PRODUCTS, f"{REPORT}/", JUNIT],
                "exclude": [f"{STORE}**/*"],
                "reports": {"junit": JUNIT},
                "expire_in": "30 days",
            },
        },
    }


def write_workflow(kind: str, output: str | os.PathLike | None = None, *, force: bool = False,
                   **options: Any) -> Written:
    """Write :func:`render_workflow` to ``output`` (default :data:`PATHS`, relative to the
    current folder); a different file already there is kept unless ``force``."""
    text = render_workflow(kind, **options)
    path = Path(output if output is not None else PATHS[kind])
    if path.is_dir():
        raise ConfigError(f"{path} is a folder", hint="give --output the path of the file to write")
    if path.exists():
        if path.read_bytes() == text.encode():
            return Written(path, changed=False)
        if not force:
            raise ConfigError(f"{path} exists and differs from what `nbprod ci init {kind}` writes",
                              hint="pass --force to overwrite it")
    atomic_write(path, text.encode())
    return Written(path, changed=True)
