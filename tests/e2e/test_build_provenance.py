"""Provenance that is true (issue 11 §3): real builds, a real kernel in another environment.

One project, two builds. The notebook's kernelspec (installed under a JUPYTER_PATH of
the test's own) starts a second virtual environment: made offline with ``python -m
venv --without-pip``, seeing nbprod's packages through a ``.pth`` file, plus one
distribution of its own, so the kernel's packages differ from the builder's by one.
The build is started with ``-e pipeline.ci.yaml``, beside a decoy ``pipeline.yaml`` and
``env.yaml``, and a function task after the notebook fails, so the run fails while
the first function task succeeded. The second build changes that function's code in
a folder that is no git repository.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from conftest import write_notebook

pytestmark = pytest.mark.e2e

GET = "def get(product, n):\n    open(str(product), 'w').write('x\\n' * n)\n"
FIT = "import sys\nopen(upstream['get']).read()\nopen(product['exe'], 'w').write(sys.executable)"


def other_environment(root: Path) -> Path:
    """A second venv whose interpreter sees nbprod's packages (ipykernel included) and
    one distribution nbprod's environment does not have. Returns its python."""
    venv = root / "kernel-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    builder_site = sysconfig.get_paths()["purelib"]
    (site / "nbprod_builder.pth").write_text(f"import site; site.addsitedir({builder_site!r})\n")
    info = site / "kernel_only_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kernel-only-pkg\nVersion: 1.0\n")
    return python


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path, Path]:
    """(project folder, JUPYTER_PATH, the kernel's python)."""
    python = other_environment(tmp_path)
    jupyter = tmp_path / "jupyter"
    spec = jupyter / "kernels" / "otherenv"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Other env", "language": "python"}))
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tasks.py").write_text(GET + "\n\ndef boom(product, upstream):\n    raise ValueError(str(upstream['fit']['exe']))\n")
    nb = write_notebook(root / "fit.ipynb", "upstream = ['get']\nproduct = None", FIT)
    doc = json.loads(nb.read_text())
    doc["metadata"]["kernelspec"] = {"name": "otherenv", "display_name": "Other env", "language": "python"}
    nb.write_text(json.dumps(doc))
    (root / "pipeline.ci.yaml").write_text(textwrap.dedent("""
        tasks:
          - source: tasks.get
            product: out/raw.txt
            params: {n: '{{n}}'}
          - source: fit.ipynb
            product: {nb: out/fit.ipynb, exe: out/exe.txt}
          - source: tasks.boom
            product: out/never.txt
        """))
    (root / "env.ci.yaml").write_text("n: 3\n")
    (root / "pipeline.yaml").write_text("tasks: []  # the decoy: not the pipeline built\n")
    (root / "env.yaml").write_text("n: 99\n")
    return root, jupyter, python


def test_kernel_spec_files_sources_and_timings_are_what_the_build_used(project, shell_factory, store):
    root, jupyter, python = project
    sh = shell_factory(root)
    done = sh("nbprod", "build", "-e", "pipeline.ci.yaml", check=False, JUPYTER_PATH=jupyter)
    assert done.returncode == 1, done.stderr[-3000:]
    assert (root / "out" / "exe.txt").read_text() == str(python)  # the notebook really ran there
    warnings = [line for line in done.stderr.splitlines() if "another environment" in line]
    assert len(warnings) == 1, done.stderr[-3000:]
    assert f"kernel 'otherenv' ({python}, Python " in warnings[0] and "1 package(s) differ for task(s) fit" in warnings[0]

    first = sh.latest()
    tasks = {t["name"]: t for t in first["tasks"]}
    kernel = tasks["fit"]["kernel"]
    assert kernel["name"] == "otherenv" and kernel["executable"] == str(python) and kernel["same_env"] is False
    assert kernel["python"] == first["python"]["version"]  # the venv was made from nbprod's base Python
    assert kernel["packages"] == {"kernel-only-pkg": "1.0"}

    files = first["project"]["files"]
    assert set(files) == {"pipeline.ci.yaml", "env.ci.yaml"}
    assert files["env.ci.yaml"] == {"sha256": hashlib.sha256(b"n: 3\n").hexdigest(), "size": 5, "role": "env"}
    assert files["pipeline.ci.yaml"]["role"] == "entry_point"
    assert tasks["get"]["params"] == {"n": 3}

    assert tasks["get"]["source_sha256"] == hashlib.sha256(GET.encode()).hexdigest()
    code = tasks["get"]["source_object"]
    assert (store / code["key"]).read_bytes() == GET.encode()
    assert tasks["fit"]["source_sha256"] == hashlib.sha256(json.dumps(
        ["upstream = ['get']\nproduct = None", FIT]).encode()).hexdigest()

    assert first["status"] == "failed" and tasks["boom"]["status"] == "failed"
    assert tasks["get"]["status"] == "succeeded" and tasks["get"]["duration_s"] is not None  # timed in a failed run
    assert tasks["get"]["timing"] == "products"

    # the function changes, outside git; only it is built again
    (root / "tasks.py").write_text((root / "tasks.py").read_text().replace("'x\\n' * n", "'y\\n' * n"))
    sh("nbprod", "build", "-e", "pipeline.ci.yaml", "--partially", "get", "--env--n", "4", JUPYTER_PATH=jupyter)
    diff = json.loads(sh("nbprod", "runs", "diff", "--json").stdout)
    assert [(c["task"], c["old"]) for c in diff["code"]] == [("get", tasks["get"]["source_sha256"])]
    assert diff["commit"]["old"] is None and diff["commit"]["new"] is None  # no git: the hashes tell
    ls = sh("nbprod", "runs", "ls").stdout.splitlines()
    header = ls[0].split()
    assert "n" in header and header[-1] == "command"  # n: 3, then 4
    assert " 3/3 " in ls[3]  # the first run: get and fit succeeded, boom failed: three executed
