"""Packaging and repository hygiene: fast checks, no kernels.

The repository holds two distributions: nbprod (pyproject.toml, src/nbprod)
and the reference project nbprod-penguins (src/penguins/pyproject.toml,
import package ``penguins``), which depends on nbprod. nbprod alone brings
none of the reference project's machine learning stack, and its wheel holds
no ``penguins``. The pins in requirements.lock and environment.yml agree with
each other and with both pyproject files; outputs/ is git-ignored except its
.gitkeep; the notebooks are committed stripped with one ``parameters`` cell;
README's Quickstart has exactly the two set-up commands, the second being the
test command CI runs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "src" / "penguins"
TEST_COMMAND = "python -m pytest"

#: What only the reference project needs: installing nbprod must bring none of it.
REFERENCE_ONLY = ("scikit-learn", "pandera", "palmerpenguins", "matplotlib", "jupyterlab", "nbprod-penguins")


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


def _pyproject(path: Path) -> dict:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return _pyproject(REPO / "pyproject.toml")


@pytest.fixture(scope="module")
def project(pyproject) -> dict:
    """nbprod's [project] table."""
    return pyproject["project"]


@pytest.fixture(scope="module")
def penguins_project() -> dict:
    """The reference project's [project] table."""
    return _pyproject(PENGUINS / "pyproject.toml")["project"]


@pytest.fixture(scope="module")
def runtime_dependencies(project, penguins_project) -> list[str]:
    """What environment.yml installs: nbprod[lab,models] and the reference project
    (their direct dependencies; nbprod itself is installed from the repository)."""
    specs = [*project["dependencies"], *project["optional-dependencies"]["lab"], *project["optional-dependencies"]["models"]]
    specs += [s for s in penguins_project["dependencies"] if normalize(Requirement(s).name) != "nbprod"]
    return specs


# -- environment.yml and the lock ---------------------------------------------


def test_environment_yml_names_python_311_from_conda_forge(environment):
    assert environment["name"] == "nbprod"
    assert "conda-forge" in environment["channels"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pythons = [d for d in conda if re.match(r"python\b", d)]
    assert len(pythons) == 1, pythons
    assert re.fullmatch(r"python\s*=+\s*3\.11(\.\*)?", pythons[0]), pythons[0]
    assert "pip" in conda


def test_environment_yml_installs_both_projects_last(env_pip):
    assert [line.strip() for line in env_pip[-2:]] == ["-e .", "-e src/penguins"]


def test_every_environment_pin_matches_the_lock_exactly(env_pip, lock):
    pins = _pins(env_pip)
    assert pins, "environment.yml pins nothing"
    for key, (name, version) in pins.items():
        assert key in lock, f"environment.yml pins {name}, which requirements.lock lacks"
        assert (name, version) == lock[key], (
            f"environment.yml has {name}=={version}, requirements.lock has "
            f"{lock[key][0]}=={lock[key][1]}"
        )


def test_every_runtime_dependency_is_pinned_in_lock_and_environment(runtime_dependencies, lock, env_pip):
    pins = _pins(env_pip)
    for spec in runtime_dependencies:
        req = Requirement(spec)
        key = normalize(req.name)
        assert key in lock, f"runtime dependency {req.name} is not pinned in requirements.lock"
        assert key in pins, f"runtime dependency {req.name} is not pinned in environment.yml"
        version = lock[key][1]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {req.name}=={version}, outside pyproject's {spec!r}"
        )


def test_environment_pins_only_direct_runtime_dependencies(runtime_dependencies, env_pip):
    direct = {normalize(Requirement(spec).name) for spec in runtime_dependencies}
    extra = set(_pins(env_pip)) - direct
    assert not extra, f"environment.yml pins packages that are not runtime dependencies: {sorted(extra)}"


@pytest.mark.parametrize("extra", ["dev", "s3", "lab"])
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


@pytest.mark.parametrize("name", ["nbprod", "nbprod-penguins"])
def test_lock_does_not_pin_the_projects_themselves(lock, name):
    assert name not in lock, "regenerate the lock with `pip freeze --all --exclude-editable --exclude pip`"


# -- two distributions: nbprod, and the reference project -----------------------


def _closure(specs: list[str]) -> dict[str, list[str]]:
    """Every distribution that installing ``specs`` brings, through the installed
    distributions' metadata: ``{normalised name: the chain of requirements that
    brings it}``. Requirements behind an extra count only when that extra is
    asked for; markers are evaluated for this interpreter and platform."""
    chains: dict[str, list[str]] = {}
    expanded: set[tuple[str, str]] = set()  # (distribution, "" or an extra)
    todo = [(Requirement(spec), []) for spec in specs]
    while todo:
        req, chain = todo.pop()
        key = normalize(req.name)
        chain = [*chain, key]
        chains.setdefault(key, chain)
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{' -> '.join(chain)}: not installed (reinstall the project with the lock)")
        for extra in ("", *sorted(req.extras)):
            if (key, extra) in expanded:
                continue
            expanded.add((key, extra))
            for line in dist.requires or []:
                child = Requirement(line)
                if child.marker is None:
                    wanted = extra == ""
                else:
                    wanted = child.marker.evaluate({"extra": extra}) and (
                        extra == "" or not child.marker.evaluate({"extra": ""})
                    )
                if wanted:
                    todo.append((child, chain))
    return chains


def _penguins_providers() -> set[str]:
    """The installed distributions that provide the import package ``penguins``."""
    return {normalize(d) for d in importlib.metadata.packages_distributions().get("penguins", [])}


@pytest.mark.parametrize("extras", ["", "s3"], ids=["nbprod", "nbprod[s3]"])
def test_installing_nbprod_brings_nothing_of_the_reference_project(project, extras):
    specs = list(project["dependencies"])
    for extra in filter(None, extras.split(",")):
        specs += project["optional-dependencies"][extra]
    closure = _closure(specs)
    assert "pandas" in closure and "ploomber" in closure  # the walk did reach the dependencies
    forbidden = {normalize(n) for n in REFERENCE_ONLY} | _penguins_providers()
    found = {name: " -> ".join(["nbprod", *closure[name]]) for name in sorted(forbidden & set(closure))}
    assert not found, f"installing nbprod{'[' + extras + ']' if extras else ''} brings: {found}"


def test_closure_follows_extras_and_markers():
    """The walk itself: an extra's requirements come only with that extra."""
    assert Marker('extra == "s3"').evaluate({"extra": "s3"}) and not Marker('extra == "s3"').evaluate({"extra": ""})
    with_extra = _closure(["nbprod[lab]"])
    assert "jupyterlab" in with_extra, "nbprod[lab] does not bring jupyterlab"
    assert "jupyterlab" not in _closure(["nbprod"])


def _built_wheel(tmp_path: Path) -> zipfile.ZipFile:
    """Build nbprod's wheel from a copy of the sources (an in-tree build would
    leave build/ behind, whose stale files setuptools puts in later wheels)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".ipynb_checkpoints")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, tree / name)
    shutil.copytree(REPO / "src", tree / "src", ignore=ignore)
    out = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), str(tree)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, (
        "pip wheel --no-build-isolation failed (the build needs setuptools>=77 in this environment: "
        f"pip install -c requirements.lock -e \".[dev]\"):\n{done.stdout}\n{done.stderr}"
    )
    wheels = list(out.glob("nbprod-*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


def _source_version() -> str:
    tree = ast.parse((REPO / "src" / "nbprod" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]:
            return ast.literal_eval(node.value)
    raise AssertionError("src/nbprod/__init__.py defines no __version__")


@pytest.fixture(scope="module")
def nbprod_wheel(tmp_path_factory):
    with _built_wheel(tmp_path_factory.mktemp("wheel")) as wheel:
        yield wheel


def test_nbprod_wheel_holds_no_penguins(nbprod_wheel):
    names = nbprod_wheel.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert "nbprod/__init__.py" in names
    strays = sorted(n for n in names if n.startswith("penguins/") or "/penguins/" in n)
    assert not strays, f"the nbprod wheel contains the reference project: {strays[:5]}"
    assert all(top == "nbprod" or top.startswith("nbprod-") for top in tops), sorted(tops)


def test_nbprod_wheel_keeps_the_report_templates_and_the_source_version(nbprod_wheel):
    names = nbprod_wheel.namelist()
    templates = (REPO / "src" / "nbprod" / "report" / "templates").glob("*.j2")
    missing = [p.name for p in templates if f"nbprod/report/templates/{p.name}" not in names]
    assert not missing, f"report templates missing from the wheel: {missing}"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = nbprod_wheel.read(metadata).decode()
    assert re.search(rf"^Version: {re.escape(_source_version())}$", text, re.M), text[:300]


def test_the_version_is_single_sourced(pyproject):
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nbprod.__version__"}
    assert importlib.metadata.version("nbprod") == _source_version(), "reinstall: the installed nbprod is stale"


def test_nbprod_packages_only_nbprod(pyproject):
    find = pyproject["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["nbprod*"], find


def test_the_reference_project_depends_on_nbprod(penguins_project):
    assert penguins_project["name"] == "nbprod-penguins"
    declared = [Requirement(s) for s in penguins_project["dependencies"]]
    nbprod = [r for r in declared if normalize(r.name) == "nbprod"]
    assert len(nbprod) == 1, f"src/penguins/pyproject.toml does not declare nbprod: {penguins_project['dependencies']}"
    assert "lab" in nbprod[0].extras, "the reference project is developed in JupyterLab: nbprod[lab]"
    assert (PENGUINS / "penguins" / "__init__.py").is_file()


def test_the_installed_reference_project_is_this_one():
    installed = [Requirement(r) for r in importlib.metadata.requires("nbprod-penguins") or []]
    assert "nbprod" in {normalize(r.name) for r in installed}
    import penguins

    assert penguins.__file__ is not None, "`penguins` is an empty namespace package (src/penguins on sys.path?)"
    assert Path(penguins.__file__).resolve() == (PENGUINS / "penguins" / "__init__.py").resolve()
    assert _penguins_providers() == {"nbprod-penguins"}


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


def _pip_install(command: str) -> list[str]:
    """The arguments of the ``pip install -c requirements.lock ...`` in a shell line."""
    for part in re.split(r"&&|;|\|\|", command):
        words = shlex.split(part.strip().strip("{} "))
        if words[:3] == ["python", "-m", "pip"]:
            words = words[2:]
        if words[:2] == ["pip", "install"]:
            return [w for w in words[2:] if w not in ("--quiet", "-q")]
    raise AssertionError(f"no pip install in {command!r}")


def test_quickstart_first_command_installs_both_projects_and_shows_the_run(quickstart_blocks):
    first = quickstart_blocks[0].strip()
    args = _pip_install(first)
    assert args[:2] == ["-c", "requirements.lock"], args
    assert "-e" in args and "src/penguins" in args, f"the first command does not install the reference project: {args}"
    assert "ploomber build" in first and first.endswith("&& nbprod runs show latest"), first


def test_quickstart_second_command_runs_the_tests(quickstart_blocks):
    second = quickstart_blocks[1].strip()
    assert second.endswith(f"&& {TEST_COMMAND}"), second
    assert '".[dev]"' in second
    assert "src/penguins" in _pip_install(second), "the test suite needs the reference project"


def test_readme_says_how_to_add_nbprod_to_another_project():
    headings = re.findall(r"^## (.+?)\s*$", (REPO / "README.md").read_text(), re.M)
    assert "Add nbprod to your own ploomber project" in headings
    assert headings[headings.index("Quickstart") + 1] == "Add nbprod to your own ploomber project", headings


def test_ci_installs_like_the_readme(quickstart_blocks):
    run = REPO / ".ci" / "run"
    if not run.exists():
        pytest.skip(".ci/run does not exist")
    lines = [l.split("#", 1)[0].strip() for l in run.read_text().splitlines()]
    installs = [_pip_install(l) for l in lines if re.match(r"(python -m )?pip install\b.*requirements\.lock", l)]
    assert _pip_install(quickstart_blocks[1]) in installs, (
        f".ci/run does not install as README's test command does: {installs}"
    )


def test_ci_runs_the_readme_test_command():
    run = REPO / ".ci" / "run"
    if not run.exists():
        pytest.skip(".ci/run does not exist")
    lines = [l.split("#", 1)[0].strip() for l in run.read_text().splitlines()]
    assert TEST_COMMAND in lines or any(l.startswith(TEST_COMMAND) for l in lines), (
        f".ci/run does not run `{TEST_COMMAND}`"
    )
