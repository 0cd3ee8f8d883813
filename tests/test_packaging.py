"""Packaging and repository hygiene: fast checks, no kernels.

The pins in requirements.lock and environment.yml agree with each other and
with pyproject.toml; outputs/ is git-ignored except its README; the
notebooks are committed stripped with one ``parameters`` cell; README's
Quickstart has exactly the two set-up commands, the second being the test
command CI runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
TEST_COMMAND = "python -m pytest"


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, tuple[str, str]]:
    """``{normalised name: (name as written, version)}`` for ``name==version`` lines."""
    found = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-") or "==" not in line:
            continue
        name, _, version = line.partition("==")
        name, version = name.strip(), version.strip()
        assert normalize(name) not in found, f"{name} pinned twice"
        found[normalize(name)] = (name, version)
    return found


@pytest.fixture(scope="module")
def lock() -> dict[str, tuple[str, str]]:
    return _pins((REPO / "requirements.lock").read_text().splitlines())


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


@pytest.fixture(scope="module")
def env_pip(environment) -> list[str]:
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip section"
    return [str(line) for line in sections[0]]


@pytest.fixture(scope="module")
def project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


# -- environment.yml and the lock ---------------------------------------------


def test_environment_yml_names_python_311_from_conda_forge(environment):
    assert environment["name"] == "nbprod"
    assert "conda-forge" in environment["channels"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pythons = [d for d in conda if re.match(r"python\b", d)]
    assert len(pythons) == 1, pythons
    assert re.fullmatch(r"python\s*=+\s*3\.11(\.\*)?", pythons[0]), pythons[0]
    assert "pip" in conda


def test_environment_yml_installs_the_project_last(env_pip):
    assert env_pip[-1].strip() == "-e ."


def test_every_environment_pin_matches_the_lock_exactly(env_pip, lock):
    pins = _pins(env_pip)
    assert pins, "environment.yml pins nothing"
    for key, (name, version) in pins.items():
        assert key in lock, f"environment.yml pins {name}, which requirements.lock lacks"
        assert (name, version) == lock[key], (
            f"environment.yml has {name}=={version}, requirements.lock has "
            f"{lock[key][0]}=={lock[key][1]}"
        )


def test_every_runtime_dependency_is_pinned_in_lock_and_environment(project, lock, env_pip):
    pins = _pins(env_pip)
    for spec in project["dependencies"]:
        req = Requirement(spec)
        key = normalize(req.name)
        assert key in lock, f"runtime dependency {req.name} is not pinned in requirements.lock"
        assert key in pins, f"runtime dependency {req.name} is not pinned in environment.yml"
        version = lock[key][1]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {req.name}=={version}, outside pyproject's {spec!r}"
        )


def test_environment_pins_only_direct_runtime_dependencies(project, env_pip):
    direct = {normalize(Requirement(spec).name) for spec in project["dependencies"]}
    extra = set(_pins(env_pip)) - direct
    assert not extra, f"environment.yml pins packages that are not runtime dependencies: {sorted(extra)}"


@pytest.mark.parametrize("extra", ["dev", "s3"])
def test_every_extra_is_pinned_in_the_lock(project, lock, extra):
    specs = project["optional-dependencies"][extra]
    assert specs, f"extra [{extra}] is empty"
    for spec in specs:
        req = Requirement(spec)
        key = normalize(req.name)
        assert key in lock, f"[{extra}] dependency {req.name} is not pinned in requirements.lock"
        assert req.specifier.contains(lock[key][1], prereleases=True), (
            f"requirements.lock pins {req.name}=={lock[key][1]}, outside pyproject's {spec!r}"
        )


def test_lock_does_not_pin_the_project_itself(lock):
    assert "nbprod" not in lock, "regenerate the lock with `pip freeze --exclude-editable`"


# -- .gitignore -----------------------------------------------------------------


def _ignored(path: str) -> bool:
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


@pytest.fixture(scope="module")
def git_repo():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=REPO, capture_output=True, text=True
    )
    if inside.returncode != 0:
        pytest.skip("not a git work tree")


@pytest.mark.parametrize(
    "path", ["outputs/foo.parquet", "outputs/store/runs/x/record.json", "outputs/data/penguins.parquet"]
)
def test_outputs_contents_are_ignored(git_repo, path):
    assert _ignored(path), f"{path} is not git-ignored"


def test_outputs_folder_is_kept_but_not_its_contents(git_repo):
    """outputs/ exists in a fresh clone (a .gitkeep), but no run product is ever committed."""
    assert not _ignored("outputs/.gitkeep")
    tracked = subprocess.run(["git", "ls-files", "outputs"], cwd=REPO, capture_output=True, text=True, check=True)
    assert tracked.stdout.split() == ["outputs/.gitkeep"]


# -- notebooks ------------------------------------------------------------------

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_with_one_parameters_cell(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    with_outputs = [i for i, c in enumerate(nb["cells"]) if c.get("outputs")]
    counted = [i for i, c in enumerate(nb["cells"]) if c.get("execution_count") is not None]
    assert not with_outputs, f"{path.name}: cells {with_outputs} have outputs (strip them)"
    assert not counted, f"{path.name}: cells {counted} have execution counts (strip them)"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    assert tagged[0] in code, f"{path.name}: the 'parameters' cell is not a code cell"


# -- README and CI --------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {heading}' section"
    return match.group(1)


@pytest.fixture(scope="module")
def quickstart_blocks() -> list[str]:
    section = _section((REPO / "README.md").read_text(), "Quickstart")
    return re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)


def test_quickstart_has_exactly_two_one_line_bash_blocks(quickstart_blocks):
    assert len(quickstart_blocks) == 2, quickstart_blocks
    for block in quickstart_blocks:
        lines = [l for l in block.splitlines() if l.strip()]
        assert len(lines) == 1, f"a Quickstart command must be one shell line: {block!r}"
        assert "pip install -c requirements.lock" in lines[0]


def test_quickstart_second_command_runs_the_tests(quickstart_blocks):
    second = quickstart_blocks[1].strip()
    assert second.endswith(f"&& {TEST_COMMAND}"), second
    assert '".[dev]"' in second


def test_ci_runs_the_readme_test_command():
    run = REPO / ".ci" / "run"
    if not run.exists():
        pytest.skip(".ci/run does not exist")
    lines = [l.split("#", 1)[0].strip() for l in run.read_text().splitlines()]
    assert TEST_COMMAND in lines or any(l.startswith(TEST_COMMAND) for l in lines), (
        f".ci/run does not run `{TEST_COMMAND}`"
    )
