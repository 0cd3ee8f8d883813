"""The models page in a real browser, built from real runs that registered real versions.

A tiny project declares a model (its ``train`` task's ``model`` product, one absolute gate)
and is built twice through ``nbprod build --promote`` with different parameters: two
versions, production moved by each build; then ``nbprod models rollback`` with a reason
that tries to run script. ``nbprod report --out DIR`` builds the site and headless
Chromium (as in test_site.py) loads the model page from ``file://``:

- the DOM after load holds the timeline (three spans, oldest left) and the versions;
- the screenshot shows it: the span fills are there, in the pixels, under the heading;
- nothing ran (the title is unchanged) and nothing broke the Content-Security-Policy.
"""

from __future__ import annotations

import re

import pytest
from conftest import Shell, git_init, write_notebook

from .test_site import browser, csp_violations, parse  # noqa: F401  (browser: the Chromium fixture)

pytestmark = pytest.mark.browser

EVIL = "<script>document.title='pwned'</script>"
PIPELINE = """tasks:
  - source: train.ipynb
    product: {nb: out/train.ipynb, model: out/model.bin}
    params: {shift: '{{shift}}'}
"""
NBPROD_YAML = """metrics:
  - {name: accuracy, goal: max, headline: true}
models:
  - name: penguins
    task: train
    model: model
    gates:
      - accuracy >= 0.5
"""
CELLS = (
    "import scrapbook as sb\nfrom pathlib import Path\nshift = float(shift)\n"
    "Path(product['model']).write_bytes(f'model {shift}'.encode())\n"
    "sb.glue('accuracy', round(0.80 + shift, 4))",
)
FILLS = {(0x86, 0xEF, 0xAC), (0xFC, 0xD3, 0x4D)}  # base.html.j2's c1 and c2: v1's and v2's spans


def title(html: str) -> str:
    """The document's title (the SVG's <title> tooltips are not it)."""
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("models-browser")
    project, store, site = root / "project", root / "store", root / "site"
    write_notebook(project / "train.ipynb", "upstream = None\nproduct = None\nshift = 0", *CELLS)
    (project / "pipeline.yaml").write_text(PIPELINE)
    (project / "env.yaml").write_text("shift: 0\n")
    (project / "nbprod.yaml").write_text(NBPROD_YAML)
    (project / ".gitignore").write_text("out/\n")
    git_init(project)
    sh = Shell(project, store)
    for shift in ("0", "0.1"):
        sh("nbprod", "build", "--force", "--promote", "--env--shift", shift)
    sh("nbprod", "models", "rollback", "penguins", "--reason", f"v2 broke scoring {EVIL}")
    runs = sh.runs()  # newest first
    sh("nbprod", "report", "--out", str(site))
    return {"site": site, "runs": runs}


def test_the_models_page_renders_its_timeline_visibly(built, browser, tmp_path):
    site, runs = built["site"], built["runs"]
    path = site / "models" / "penguins.html"
    original = title(path.read_text())
    done = browser(path.as_uri(), "--dump-dom")
    text, log = done.stdout, done.stderr
    assert title(text) == original == "Model penguins · nbprod"  # no script ran
    assert not csp_violations(log), csp_violations(log)

    svg = re.search(r'<svg class="chart timeline" data-alias="production".*?</svg>', text, re.S).group(0)
    assert re.findall(r'data-version="(\d)"', svg) == ["1", "2", "1"]  # oldest left; the rollback last
    assert "v2 broke scoring &lt;script&gt;" in text
    rows = [attrs["data-version"] for tag, attrs in parse(text).tags if tag == "tr" and "version" in
            (attrs.get("class") or "").split()]
    assert rows == ["2", "1"]
    assert f'href="../runs/{runs[0]["run_id"]}.html"' in text  # v2's run
    run_page = (site / "runs" / f"{runs[0]['run_id']}.html").read_text()
    assert 'registered <a href="../models/penguins.html#v2">penguins v2</a> (gates passed)' in run_page

    from PIL import Image

    shot = tmp_path / "models.png"
    browser(path.as_uri(), f"--screenshot={shot}", "--window-size=1280,900")
    image = Image.open(shot).convert("RGB")
    band = image.crop((0, 0, image.width, image.height // 2))  # the timeline is near the top
    colours = {colour for _, colour in band.getcolors(maxcolors=1 << 20)}
    assert FILLS <= colours, "the timeline's spans are not on the screen"
