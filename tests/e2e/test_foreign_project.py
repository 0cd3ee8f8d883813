"""`nbprod build` records ANY ploomber project: no nbprod hooks, no git.

The project mixes the task kinds ploomber's own ml templates use: a Python
function task, a percent-format .py script rendered to an HTML notebook, and
an .ipynb notebook that glues a metric.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from conftest import write_notebook

pytestmark = pytest.mark.e2e


@pytest.fixture
def foreign(tmp_path) -> Path:
    root = tmp_path / "foreign"
    root.mkdir()
    (root / "tasks.py").write_text(
        textwrap.dedent(
            """
            import csv

            def get(product, n):
                with open(str(product), "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["x", "y"])
                    for i in range(n):
                        w.writerow([i, 2 * i + 1])
            """
        )
    )
    (root / "features.py").write_text(
        textwrap.dedent(
            """
            # %% tags=["parameters"]
            upstream = ["get"]
            product = None

            # %%
            import pandas as pd
            df = pd.read_csv(upstream["get"])
            df["x2"] = df.x ** 2
            df.to_csv(product["data"], index=False)
            df.head()
            """
        ).lstrip()
    )
    write_notebook(
        root / "fit.ipynb",
        "upstream = ['features']\nproduct = None",
        "import pandas as pd\nimport scrapbook as sb\n"
        "df = pd.read_csv(upstream['features']['data'])\n"
        "slope = float((df.y.iloc[-1] - df.y.iloc[0]) / (df.x.iloc[-1] - df.x.iloc[0]))\n"
        "sb.glue('slope', slope)\nopen(product['data'], 'w').write(str(slope))",
    )
    (root / "pipeline.yaml").write_text(
        textwrap.dedent(
            """
            tasks:
              - source: tasks.get
                product: out/raw.csv
                params: {n: 5}
              - source: features.py
                product: {nb: out/features.html, data: out/features.csv}
              - source: fit.ipynb
                product: {nb: out/fit.ipynb, data: out/slope.txt}
            """
        )
    )
    return root


def test_nbprod_build_records_a_project_without_hooks(foreign, shell_factory, store):
    sh = shell_factory(foreign)
    done = sh("nbprod", "build")
    assert "succeeded, recorded" in done.stdout
    record = sh.latest()
    assert record["status"] == "succeeded"
    assert record["git"] is None  # not a git repository: still recorded
    assert record["command"][:2] == ["nbprod", "build"]
    tasks = {t["name"]: t for t in record["tasks"]}
    assert set(tasks) == {"get", "features", "fit"}
    assert tasks["get"]["kind"] == "function" and tasks["get"]["params"] == {"n": 5}
    assert tasks["get"]["duration_s"] is not None
    assert tasks["features"]["kind"] == "notebook"
    assert tasks["fit"]["scraps"]["slope"]["value"] == 2.0

    raw = foreign / "out" / "raw.csv"
    products = {(t["name"], p["name"]): p for t in record["tasks"] for p in t["products"]}
    assert products[("get", "product")]["sha256"] == hashlib.sha256(raw.read_bytes()).hexdigest()
    html = products[("features", "nb")]
    assert html["path"] == "out/features.html"
    assert (store / "objects/sha256" / html["sha256"][:2] / html["sha256"][2:]).exists()
    fit_nb = tasks["fit"]["notebook"]
    assert fit_nb["key"] == f"objects/sha256/{fit_nb['sha256'][:2]}/{fit_nb['sha256'][2:]}"
    assert (store / fit_nb["key"]).is_file()

    # ploomber's own options pass through; up to date -> not recorded
    sh("nbprod", "build", "--partially", "features")
    assert len(sh.runs()) == 1
    sh("nbprod", "build", "--force", "--partially", "features")
    partial = sh.latest()
    assert {t["name"]: t["status"] for t in partial["tasks"]}["features"] == "succeeded"
    assert len(sh.runs()) == 2


def test_nbprod_build_keeps_the_projects_own_hooks(foreign, shell_factory):
    (foreign / "hooks.py").write_text(
        "def done(dag):\n    open('hook-ran.txt', 'w').write('yes')\n"
    )
    spec = (foreign / "pipeline.yaml").read_text()
    (foreign / "pipeline.yaml").write_text("on_finish: hooks.done\n" + spec)
    sh = shell_factory(foreign)
    sh("nbprod", "build")
    assert (foreign / "hook-ran.txt").read_text() == "yes"
    assert sh.latest()["status"] == "succeeded"
