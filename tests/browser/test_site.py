"""The report site in a real browser, built from real runs.

A tiny project (one notebook, real Jupyter kernels, a git repository) is built four
times through ``nbprod build``: three successful runs with different parameters and
one that fails. The notebook glues metrics and a data frame with scrapbook, displays
HTML that tries to run script (``<script>`` and ``<img onerror>`` both set
``document.title``), draws a matplotlib figure and prints a secret from the
environment. Then ``nbprod report --out DIR`` builds the site, and headless Chromium
(Debian's ``chromium``) loads its pages from ``file://`` and from a loopback
``http.server``:

- ``--dump-dom`` gives the DOM after load: had any script run, the title would read
  ``pwned``;
- ``--enable-logging=stderr`` prints the console, where Chromium reports every
  Content-Security-Policy violation: a page that tried to load or run anything shows
  one;
- ``--screenshot`` of the index. ``NBPROD_REPORT_SCREENSHOT=docs/report-index.png``
  copies it there (that is how the README's screenshot is made).

Chromium missing is a failure, not a skip (a green run must mean the browser ran),
unless ``NBPROD_SKIP_BROWSER=1``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import Shell, git_init, write_notebook

pytestmark = pytest.mark.browser

SECRET = "sk-live-4f9c2e7d1b8a6093e5c7"
EVIL = ("<script>document.title='pwned'</script>"
        "<img src=x onerror=\"document.title='pwned'\">"
        "<p>after the evil markup</p>")
PIPELINE = """tasks:
  - source: train.ipynb
    product: out/train.ipynb
    params: {mode: '{{mode}}', shift: '{{shift}}'}
"""
NBPROD_YAML = """metrics:
  - {name: accuracy, goal: max, headline: true}
  - {name: f1, goal: max, headline: true}
"""
CELLS = (
    "import os\nimport pandas as pd\nimport scrapbook as sb\nfrom IPython.display import HTML, display\n"
    "shift = float(shift)\n"
    "sb.glue('accuracy', round(0.80 + shift, 4))\n"
    "sb.glue('f1', round(0.70 + shift / 2, 4))\n"
    "sb.glue('per_class', pd.DataFrame({'species': ['Adelie', 'Gentoo'], 'recall': [0.91, 0.87]}))\n"
    "sb.glue('config', {'mode': mode, 'shift': shift})",
    f"display(HTML({EVIL!r}))",
    "print('api key:', os.environ['NBPROD_TEST_API_KEY'])",
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots(figsize=(3, 2))\n"
    "ax.plot([0, 1, 2], [0.7, 0.8 + shift, 0.85 + shift])\n"
    "sb.glue('curve', fig, encoder='display')\n"
    "plt.close(fig)",
    "if mode == 'raise':\n    raise ValueError('boom in train')",
)


def find_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("NBPROD_SKIP_BROWSER") == "1":
        pytest.skip("chromium not installed and NBPROD_SKIP_BROWSER=1")
    pytest.fail("chromium is not installed: the browser tests need it "
                "(apt-get install chromium, as .ci/run does), or set NBPROD_SKIP_BROWSER=1 to skip them",
                pytrace=False)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    profile = tmp_path_factory.mktemp("chromium")

    def run(url: str, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, url],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory, browser):
    """The project, its four runs, and the site `nbprod report --out` wrote."""
    root = tmp_path_factory.mktemp("browser")
    project, store, site = root / "project", root / "store", root / "site"
    write_notebook(project / "train.ipynb", "upstream = None\nproduct = None\nmode = 'ok'\nshift = 0", *CELLS)
    (project / "pipeline.yaml").write_text(PIPELINE)
    (project / "env.yaml").write_text("mode: ok\nshift: 0\n")
    (project / "nbprod.yaml").write_text(NBPROD_YAML)
    (project / ".gitignore").write_text("out/\n")
    git_init(project)
    sh = Shell(project, store)
    secret = {"NBPROD_TEST_API_KEY": SECRET}
    sh("nbprod", "build", **secret)
    sh("nbprod", "build", "--force", "--env--shift", "0.05", **secret)
    failed = sh("nbprod", "build", "--force", "--env--mode", "raise", "--env--shift", "0.02", check=False, **secret)
    assert failed.returncode == 1, failed.stderr[-2000:]
    sh("nbprod", "build", "--force", "--env--shift", "0.1", **secret)
    runs = sh.runs()  # newest first
    assert [r["status"] for r in runs] == ["succeeded", "failed", "succeeded", "succeeded"]
    report = sh("nbprod", "report", "--out", str(site), **secret)
    assert (site / "index.html").is_file(), report.stdout + report.stderr
    return {"site": site, "runs": runs, "store": store}


def dom(browser, url: str) -> tuple[str, str]:
    """(DOM after load, console log) of a page."""
    done = browser(url, "--dump-dom")
    return done.stdout, done.stderr


def csp_violations(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Content Security Policy" in line]


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.rows, self.tags, self.title, self._in_title = [], [], [], "", False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self.refs += [(tag, attrs[n]) for n in ("href", "src") if attrs.get(n)]
        if tag == "tr" and attrs.get("data-run"):
            self.rows.append(attrs["data-run"])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_index_lists_the_runs_and_charts_them(built, browser, tmp_path):
    site, runs = built["site"], built["runs"]
    text, log = dom(browser, (site / "index.html").as_uri())
    page = parse(text)
    assert page.rows == [r["run_id"] for r in runs]  # newest first
    charts = re.findall(r'<svg class="chart" data-metric="(\w+)".*?</svg>', text, re.S)
    assert charts == ["accuracy", "f1"]
    for svg in re.findall(r'<svg class="chart".*?</svg>', text, re.S):
        assert re.findall(r'class="pt (\w+)"', svg) == ["ok", "ok", "failed", "ok"]  # oldest left
    assert not csp_violations(log), csp_violations(log)

    shot = tmp_path / "report-index.png"
    browser((site / "index.html").as_uri(), f"--screenshot={shot}", "--window-size=1280,900")
    assert shot.stat().st_size > 10_000
    if os.environ.get("NBPROD_REPORT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["NBPROD_REPORT_SCREENSHOT"])


def test_run_page_shows_metrics_and_links(built, browser):
    site, runs = built["site"], built["runs"]
    newest, failed = runs[0]["run_id"], runs[1]["run_id"]
    text, log = dom(browser, (site / "runs" / f"{newest}.html").as_uri())
    assert not csp_violations(log), csp_violations(log)
    metrics = re.search(r'<table class="metrics">.*?</table>', text, re.S).group(0)
    assert "accuracy" in metrics and "0.9" in metrics and "f1" in metrics
    refs = {ref for _, ref in parse(text).refs}
    assert f"{failed}.html" in refs  # the previous run
    assert f"../compare/{failed}__{newest}.html" in refs
    assert f"../notebooks/{newest}/train.html" in refs
    assert "Adelie" in text and "0.91" in text  # the glued data frame, as a table
    assert re.search(r'<img alt="figure" src="data:image/png;base64,', text)  # the glued figure
    failed_text, _ = dom(browser, (site / "runs" / f"{failed}.html").as_uri())
    assert "boom in train" in failed_text and "ValueError" in failed_text


@pytest.mark.parametrize("which", ["notebook", "run"])
def test_no_script_runs(built, browser, which):
    site, failed = built["site"], built["runs"][1]["run_id"]
    path = site / "notebooks" / failed / "train.html" if which == "notebook" else site / "runs" / f"{failed}.html"
    original = parse(path.read_text()).title
    assert original and "pwned" not in original
    text, log = dom(browser, path.as_uri())
    page = parse(text)
    assert page.title == original  # nothing changed document.title
    assert not csp_violations(log), csp_violations(log)  # nothing even tried to run or load
    assert not [tag for tag, _ in page.tags if tag == "script"]
    assert not [(tag, attrs) for tag, attrs in page.tags if any(name.startswith("on") for name in attrs)]
    if which == "notebook":
        assert "after the evil markup" in text  # the harmless part of the output is shown
        assert re.search(r'src="data:image/png;base64,', text)  # the figure is kept, embedded


def test_every_internal_link_resolves(built):
    site = built["site"]
    written = sorted(site.rglob("*.html"))
    assert len(written) >= 1 + 4 + 4 + 3  # index, run pages, notebooks, compare pages
    for path in written:
        page = parse(path.read_text(encoding="utf-8"))
        for tag, ref in page.refs:
            if re.match(r"(https?:|mailto:|data:)", ref):
                assert tag == "a" or ref.startswith("data:"), f"{path}: {tag} loads {ref}"
                continue
            target, _, fragment = ref.partition("#")
            resolved = (path.parent / target).resolve() if target else path
            assert resolved.is_file(), f"{path.relative_to(site)}: {tag} {ref} does not resolve"
            assert site in resolved.parents, f"{path}: {ref} leaves the site"
            if fragment:
                ids = {attrs.get("id") for _, attrs in parse(resolved.read_text()).tags}
                assert fragment in ids, f"{path.relative_to(site)}: no #{fragment} in {target or path.name}"


def test_the_secret_is_in_no_file(built):
    site = built["site"]
    files = [p for p in site.rglob("*") if p.is_file()]
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    notebook = site / "notebooks" / built["runs"][0]["run_id"] / "train.html"
    assert "[redacted:NBPROD_TEST_API_KEY]" in notebook.read_text()


def test_served_from_a_static_host(built, browser):
    """The same site over HTTP (loopback): the shared stylesheet loads under the CSP."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built["site"]))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        newest = built["runs"][0]["run_id"]
        text, log = dom(browser, f"{base}/notebooks/{newest}/train.html")
        links = [attrs for tag, attrs in parse(text).tags if tag == "link"]
        assert [link.get("href") for link in links] == ["../../static/notebook.css"]
        assert not csp_violations(log), csp_violations(log)
        text, log = dom(browser, f"{base}/index.html")
        assert len(parse(text).rows) == 4 and not csp_violations(log)
    finally:
        server.shutdown()
        server.server_close()
