"""The report site (nbprod.report): pages, charts, incremental builds, safety.

Runs are synthetic records with real stored objects (executed notebooks with
outputs, a data frame artifact), written the way the recorder writes them; no
kernel runs here (tests/browser/ builds a site from real runs).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from nbprod.schema import ErrorInfo, RunRecord, TaskRecord, new_run_id
from nbprod.report import build_site
from nbprod.report.pages import CSP
from nbprod.store import Store

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)
SPEC = [{"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0},
        {"name": "loss", "goal": "min", "headline": True, "tolerance": 0.0}]
EVIL_HTML = ("<script>document.title='pwned'</script>"
             "<img src=x onerror=\"document.title='pwned'\">"
             "<a href=\"javascript:alert(1)\">click</a>"
             "<table><thead><tr><th>col</th></tr></thead><tbody><tr><td onclick=\"x()\">kept</td></tr></tbody></table>")
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def executed_notebook(*, accuracy=None, extra_outputs=(), secret: str | None = None) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Training\n[local link](other.ipynb) and [docs](https://example.org/docs)"))
    code = nbformat.v4.new_code_cell("import scrapbook as sb\nsb.glue('accuracy', accuracy)", execution_count=1)
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"application/scrapbook.scrap.json+json": {"name": "accuracy", "data": accuracy}},
                               metadata={"scrapbook": {"name": "accuracy", "data": True, "display": False}}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                               metadata={"scrapbook": {"name": "confusion", "data": False, "display": True}}),
        *extra_outputs,
    ]
    nb.cells.append(code)
    if secret:
        shout = nbformat.v4.new_code_cell("print(os.environ['NBPROD_TEST_API_KEY'])", execution_count=2)
        shout.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"key is {secret}\n")]
        nb.cells.append(shout)
    return nbformat.writes(nb).encode()


def add_run(store: Store, minute: int, *, status: str = "succeeded", accuracy: float | None = 0.9,
            loss: float | None = 0.3, spec=SPEC, mode: str = "ok", nb: bytes | None = None) -> RunRecord:
    moment = BASE + timedelta(minutes=minute)
    run_id = new_run_id(moment)
    notebook = store.put_bytes(nb if nb is not None else executed_notebook(accuracy=accuracy))
    frame = {"columns": ["species", "n"], "index": [0, 1], "data": [["Adelie", 152], ["Gentoo", 124]]}
    table = store.put_bytes(json.dumps(frame).encode())
    scraps = {
        "table": {"encoder": "pandas", "type": "dataframe", "shape": [2, 2],
                  "artifact": {"sha256": table["sha256"], "size": table["size"]}},
        "counts": {"value": {"train": 200, "test": 76}, "encoder": "json"},
        "confusion": {"encoder": "display", "display_only": True},
    }
    if accuracy is not None:
        scraps["accuracy"] = {"value": accuracy, "encoder": "json"}
    if loss is not None:
        scraps["loss"] = {"value": loss, "encoder": "json"}
    failed = status != "succeeded"
    error = ErrorInfo(task="train", ename="ValueError", evalue="boom <b>in</b> fit", cell_index=2,
                      execution_count=2, cell_source="raise ValueError('boom')", traceback="ValueError: boom") if failed else None
    record = RunRecord(
        run_id=run_id, status=status, started_at=moment.isoformat(), ended_at=(moment + timedelta(seconds=3)).isoformat(),
        duration_s=3.0, user="ana", host="box", command=["nbprod", "build"],
        git={"commit": f"{minute:040x}", "branch": "main", "dirty": minute % 2 == 1, "diff_sha256": None},
        python={"version": "3.11.9", "implementation": "CPython", "platform": "Linux"},
        packages={"pandas": "2.2.0", "nbprod": "0.1.0"},
        tasks=[TaskRecord(name="train", kind="notebook", status="failed" if failed else "succeeded",
                          source="train.ipynb", params={"mode": mode, "seed": 42},
                          notebook={"key": notebook["key"], "sha256": notebook["sha256"], "size": notebook["size"]},
                          scraps=scraps, error=error, duration_s=2.5)],
        error=error, metrics_spec=list(spec or []),
    )
    store.write_record(record)
    return record


@pytest.fixture
def local(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def quiet(_line):
    pass


class Links(HTMLParser):
    """Every href/src of a page, the rows of its run table, and its title."""

    def __init__(self):
        super().__init__()
        self.refs, self.rows, self.metas, self.ids, self.in_title, self.title = [], [], [], set(), False, ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.refs.append((tag, attrs[name]))
        if tag == "tr" and attrs.get("data-run"):
            self.rows.append(attrs["data-run"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "meta":
            self.metas.append(attrs)
        self.in_title = tag == "title"

    def handle_endtag(self, tag):
        self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_pages_exist_index_newest_first_and_links_resolve(local):
    runs = [add_run(local, 0), add_run(local, 1, status="failed", accuracy=None), add_run(local, 2, accuracy=0.95)]
    stats = build_site(local, log=quiet)
    site = Path(local.root) / "site"
    assert stats["runs"] == 3 and stats["rendered"] == 3 and stats["reused"] == 0
    assert stats["where"] == str(site / "index.html")
    for run in runs:
        assert (site / "runs" / f"{run.run_id}.html").is_file()
        assert (site / "notebooks" / run.run_id / "train.html").is_file()
    assert (site / "compare" / f"{runs[0].run_id}__{runs[1].run_id}.html").is_file()
    assert (site / "compare" / f"{runs[1].run_id}__{runs[2].run_id}.html").is_file()
    assert not list((site / "compare").glob(f"*__{runs[0].run_id}.html"))  # the first run has no predecessor
    assert parse(site / "index.html").rows == [r.run_id for r in reversed(runs)]
    for page in pages(site):
        for tag, ref in parse(page).refs:
            if ref.startswith(("https://", "http://", "mailto:", "data:")):
                continue
            target, _, fragment = ref.partition("#")
            path = (page.parent / target).resolve() if target else page
            assert path.is_file(), f"{page.relative_to(site)}: {tag} {ref} does not resolve"
            assert not fragment or fragment in parse(path).ids, f"{page.relative_to(site)}: no #{fragment} in {target}"


def test_run_page_content(local):
    first = add_run(local, 0, mode="ok")
    failed = add_run(local, 1, status="failed", mode="raise")
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    html = (site / "runs" / f"{failed.run_id}.html").read_text()
    assert "task &#39;train&#39;, cell 2 (In [2]) failed: ValueError: boom &lt;b&gt;in&lt;/b&gt; fit" in html  # escaped
    assert "raise ValueError(&#39;boom&#39;)" in html
    assert f'href="{first.run_id}.html"' in html  # previous run
    assert f'href="../compare/{first.run_id}__{failed.run_id}.html"' in html
    assert 'href="../notebooks/' in html and "/train.html" in html
    for text in ("Adelie", "Gentoo", "152", "train", "200", "3.11.9", "pandas", "ana", "box", "raise", "seed"):
        assert text in html, text
    assert re.search(r'<img alt="figure" src="data:image/png;base64,', html)  # display-only scrap, from the notebook
    first_html = (site / "runs" / f"{first.run_id}.html").read_text()
    assert f'href="{failed.run_id}.html"' in first_html  # next run
    assert "0.9" in first_html and "higher is better" in first_html and "lower is better" in first_html


def chart_points(index: str, metric: str) -> list[str]:
    svg = re.search(rf'<svg class="chart" data-metric="{metric}".*?</svg>', index, re.S).group(0)
    return re.findall(r'class="pt (\w+)"', svg), svg


def test_charts_one_point_per_run_failed_marked(local):
    add_run(local, 0, accuracy=0.8, loss=0.5)
    add_run(local, 1, accuracy=0.85, loss=0.4)
    add_run(local, 2, status="failed", accuracy=None, loss=None)
    add_run(local, 3, accuracy=0.9, loss=0.3)
    add_run(local, 4, accuracy=None, loss=0.2)  # succeeded without accuracy
    build_site(local, log=quiet)
    index = (Path(local.root) / "site" / "index.html").read_text()
    points, svg = chart_points(index, "accuracy")
    assert points == ["ok", "ok", "failed", "ok", "missing"]
    line = re.search(r'<path d="([^"]+)" class="line"', svg).group(1)
    assert line.count("M") == 2 and line.count("L") == 1  # a gap at the failed run
    assert "higher is better" in svg and "<title>" in svg
    points, svg = chart_points(index, "loss")
    assert points == ["ok", "ok", "failed", "ok", "ok"] and "lower is better" in svg
    assert "<th>accuracy ↑</th>" in index and "<th>loss ↓</th>" in index


def test_no_headline_metrics_no_chart(local):
    add_run(local, 0, spec=[])
    build_site(local, log=quiet)
    index = (Path(local.root) / "site" / "index.html").read_text()
    assert "<svg" not in index and "No headline metrics declared" in index


def test_incremental_build_renders_only_the_new_run(local):
    runs = [add_run(local, minute) for minute in range(5)]
    assert build_site(local, log=quiet)["rendered"] == 5
    site = Path(local.root) / "site"
    notebook = site / "notebooks" / runs[0].run_id / "train.html"
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*.html")}

    again = build_site(local, log=quiet)
    assert (again["rendered"], again["relinked"], again["reused"], again["pages"]) == (0, 0, 5, 1)  # the index only

    new = add_run(local, 10, accuracy=0.99)
    stats = build_site(local, log=quiet)
    assert (stats["runs"], stats["rendered"], stats["relinked"], stats["reused"]) == (6, 1, 1, 5)
    # new run: run page, notebook, compare; its predecessor's run page (next link); index
    assert stats["pages"] == 5
    changed = {p.relative_to(site).as_posix() for p in site.rglob("*.html")
               if before.get(p) != p.stat().st_mtime_ns}
    assert changed == {"index.html", f"runs/{new.run_id}.html", f"runs/{runs[-1].run_id}.html",
                       f"notebooks/{new.run_id}/train.html", f"compare/{runs[-1].run_id}__{new.run_id}.html"}
    assert notebook.stat().st_mtime_ns == before[notebook]
    assert f'href="{new.run_id}.html"' in (site / "runs" / f"{runs[-1].run_id}.html").read_text()
    manifest = json.loads((site / "manifest.json").read_text())
    assert set(manifest["runs"]) == {r.run_id for r in [*runs, new]} and manifest["format"].startswith("1:")

    forced = build_site(local, force=True, log=quiet)
    assert forced["rendered"] == 6 and forced["reused"] == 0


def test_run_removed_from_store_loses_its_pages(local):
    keep, gone = add_run(local, 0), add_run(local, 1)
    build_site(local, log=quiet)
    local.delete_key(f"summaries/{gone.run_id}.json")
    stats = build_site(local, log=quiet)
    site = Path(local.root) / "site"
    assert stats["runs"] == 1 and stats["deleted"] == 3  # run page, notebook, compare page
    assert not (site / "runs" / f"{gone.run_id}.html").exists()
    assert f"{gone.run_id}.html" not in (site / "runs" / f"{keep.run_id}.html").read_text()


def test_compare_page_shows_the_diff(local):
    old = add_run(local, 0, accuracy=0.8, loss=0.5, mode="ok")
    new = add_run(local, 1, accuracy=0.9, loss=0.6, mode="fast")
    build_site(local, log=quiet)
    html = (Path(local.root) / "site" / "compare" / f"{old.run_id}__{new.run_id}.html").read_text()
    assert f'href="../runs/{old.run_id}.html"' in html and f'href="../runs/{new.run_id}.html"' in html
    accuracy = re.search(r"<tr><td>accuracy.*?</tr>", html, re.S).group(0)
    assert "+0.1" in accuracy and 'class="verdict improved"' in accuracy
    loss = re.search(r"<tr><td>loss.*?</tr>", html, re.S).group(0)
    assert 'class="verdict regressed"' in loss
    params = re.search(r'<table class="params">.*?</table>', html, re.S).group(0)
    assert "mode" in params and "ok" in params and "fast" in params
    assert "changed" in html  # the commit


def test_every_page_has_the_csp_and_loads_nothing_external(local):
    add_run(local, 0)
    add_run(local, 1, status="failed", accuracy=None)
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    assert "script-src 'none'" in CSP and "default-src 'none'" in CSP
    for page in pages(site):
        text = page.read_text()
        metas = parse(page).metas
        assert metas and metas[0].get("http-equiv") == "Content-Security-Policy", page
        assert metas[0]["content"] == CSP
        assert "<script" not in text.lower(), page
        # nothing that loads: no src/link/url()/@import to any host
        assert not re.search(r'\bsrc="(?!data:)', text), page
        assert not re.search(r"<link\b[^>]*href=\"(https?:)?//", text), page
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), page
        assert "@import" not in text
    css = (site / "static" / "notebook.css").read_text()
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css) and "@import" not in css


def test_notebook_outputs_are_sanitized(local):
    evil = [
        nbformat.v4.new_output("display_data", data={"text/html": EVIL_HTML, "text/plain": "<IPython.core.display.HTML>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "document.title='pwned'", "text/plain": "js"}),
        nbformat.v4.new_output("execute_result", data={"text/markdown": "[x](javascript:alert(2)) <img src=y onerror=alert(3)>"},
                               execution_count=3),
    ]
    run = add_run(local, 0, nb=executed_notebook(accuracy=0.9, extra_outputs=evil))
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    html = (site / "notebooks" / run.run_id / "train.html").read_text()
    body = html.split("<body", 1)[1]
    assert "<script" not in html.lower()
    assert "onerror" not in body and "onclick" not in body and "javascript:" not in body
    assert "<td>kept</td>" in body and "<th>col</th>" in body  # tables survive the cleaning
    assert 'href="https://example.org/docs"' in body  # absolute links stay
    assert 'href="other.ipynb"' not in body and "local link" in body  # a relative link goes, its text stays
    assert "src=\"data:image/png;base64," in body  # figures embedded
    assert parse(site / "notebooks" / run.run_id / "train.html").title == f"train · run {run.run_id}"
    run_page = (site / "runs" / f"{run.run_id}.html").read_text()
    assert "<script" not in run_page.lower() and "onerror" not in run_page


def test_secrets_are_redacted_from_every_page(local, monkeypatch):
    secret = "s3cr3t-" + uuid.uuid4().hex
    monkeypatch.setenv("NBPROD_TEST_API_KEY", secret)
    add_run(local, 0, nb=executed_notebook(accuracy=0.9, secret=secret), mode=secret)
    out = Path(local.root).parent / "out"
    build_site(local, out=out, log=quiet)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 4
    for path in written:
        assert secret not in path.read_text(errors="replace"), path
    assert "[redacted:NBPROD_TEST_API_KEY]" in next(out.glob("notebooks/*/train.html")).read_text()


def test_default_destination_is_the_store_out_is_a_folder(local, tmp_path):
    add_run(local, 0)
    out = tmp_path / "elsewhere"
    stats = build_site(local, out=out, log=quiet)
    assert stats["where"] == str(out.resolve() / "index.html") and (out / "index.html").is_file()
    assert not local.exists("site/index.html")
    build_site(local, log=quiet)
    assert local.exists("site/index.html") and local.exists("site/manifest.json")


def test_memory_store():
    store = Store(f"memory://report-{uuid.uuid4().hex}")
    add_run(store, 0)
    add_run(store, 1)
    stats = build_site(store, log=quiet)
    assert stats["rendered"] == 2 and stats["where"].startswith("memory://")
    assert b"<table class=\"runs\">" in store.read_key("site/index.html")
    assert build_site(store, log=quiet)["rendered"] == 0


def test_s3_pages_have_a_content_type(s3):
    import boto3

    store = Store("s3://nbprod-test/team")
    add_run(store, 0)
    add_run(store, 1)
    assert build_site(store, log=quiet)["rendered"] == 2
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    head = client.head_object(Bucket="nbprod-test", Key="team/site/index.html")
    assert head["ContentType"].startswith("text/html")
    css = client.head_object(Bucket="nbprod-test", Key="team/site/static/notebook.css")
    assert css["ContentType"].startswith("text/css")
    stats = build_site(store, log=quiet)
    assert (stats["rendered"], stats["pages"]) == (0, 1)


def test_empty_store(local):
    stats = build_site(local, log=quiet)
    assert (stats["runs"], stats["rendered"]) == (0, 0)
    assert "No runs in this store yet" in (Path(local.root) / "site" / "index.html").read_text()


def test_compare_pages_list_files_changed_between_commits_in_the_given_clone(local, tmp_path):
    import subprocess

    from conftest import git_init

    repo = tmp_path / "project"
    repo.mkdir()
    (repo / "train.ipynb").write_text("{}")
    first = git_init(repo)
    (repo / "features.py").write_text("X = 1\n")
    subprocess.run(["git", "add", "features.py"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "features"],
                   cwd=repo, check=True)
    second = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                            text=True).stdout.strip()
    old, new = add_run(local, 1), add_run(local, 2)
    for record, commit in ((old, first), (new, second)):
        record.git["commit"] = commit
        _rewrite(local, record)

    with_repo, without = tmp_path / "with", tmp_path / "without"
    build_site(local, with_repo, log=quiet, repo=repo)
    build_site(local, without, log=quiet)
    page = f"compare/{old.run_id}__{new.run_id}.html"
    assert '<li class="mono">features.py</li>' in (with_repo / page).read_text()
    assert "features.py" not in (without / page).read_text()
    assert "no local git repository" in (without / page).read_text()


# -- regressions: reading, repairing and deleting safely ------------------------------
def _rewrite(store: Store, record: RunRecord) -> None:
    """A record changed after it was stored (write_record refuses to replace one)."""
    store.delete_key(Store.run_key(record.run_id, "record.json"))
    store.write_record(record)


def _retarget(store: Store, record: RunRecord, **notebook) -> None:
    record.tasks[0].notebook = {**record.tasks[0].notebook, **notebook}
    _rewrite(store, record)


def test_notebook_is_read_by_its_hash_never_by_the_recorded_key(local, tmp_path):
    marker = "outside-" + uuid.uuid4().hex
    (tmp_path / "outside.ipynb").write_bytes(executed_notebook(accuracy=0.9, secret=marker))
    run = add_run(local, 0)
    _retarget(local, run, key="../outside.ipynb")
    assert local.read_key("../outside.ipynb")  # the key would reach the file
    bad = add_run(local, 1)
    _retarget(local, bad, key="../outside.ipynb", sha256="../../outside")
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    for page in site.rglob("*.html"):
        assert marker not in page.read_text(), page
    assert (site / "notebooks" / run.run_id / "train.html").is_file()  # the real one, by its hash
    assert not (site / "notebooks" / bad.run_id).exists()
    html = (site / "runs" / f"{bad.run_id}.html").read_text()
    assert "sha256 is not valid" in html and "/train.html" not in html


def _blip(monkeypatch, sha: str):
    """Reading the object ``sha`` fails (once per build) until the returned switch is off."""
    real = Store.read_key
    state = {"on": True}

    def read_key(self, key):
        if state["on"] and key == Store.object_key(sha):
            from nbprod.errors import StoreError

            raise StoreError(f"{key}: connection reset")
        return real(self, key)

    monkeypatch.setattr(Store, "read_key", read_key)
    return state


def test_a_failed_notebook_read_on_first_render_is_repaired_next_build(local, monkeypatch):
    run = add_run(local, 0)
    blip = _blip(monkeypatch, run.tasks[0].notebook["sha256"])
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    notebook = site / "notebooks" / run.run_id / "train.html"
    assert not notebook.exists()
    assert "/train.html" not in (site / "runs" / f"{run.run_id}.html").read_text()  # no link to a missing page
    blip["on"] = False
    stats = build_site(local, log=quiet)
    assert stats["rendered"] == 1 and notebook.is_file()
    assert 'href="../notebooks/' in (site / "runs" / f"{run.run_id}.html").read_text()
    assert build_site(local, log=quiet)["rendered"] == 0


def test_a_failed_notebook_read_on_relink_keeps_the_page(local, monkeypatch):
    first = add_run(local, 0)
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    notebook = site / "notebooks" / first.run_id / "train.html"
    assert notebook.is_file()
    add_run(local, 1)
    blip = _blip(monkeypatch, first.tasks[0].notebook["sha256"])
    build_site(local, log=quiet)  # the first run is relinked (next run), its notebook read fails
    assert notebook.is_file()
    assert 'href="../notebooks/' in (site / "runs" / f"{first.run_id}.html").read_text()
    blip["on"] = False
    assert build_site(local, log=quiet)["rendered"] == 1  # then rendered again in full
    assert notebook.is_file()


def test_a_relink_for_the_compare_page_alone_reads_no_notebook(local, monkeypatch):
    old, new = add_run(local, 0), add_run(local, 1)
    build_site(local, log=quiet)
    old.user = "bob"  # its summary changes: rendered again, and its successor's compare page
    _rewrite(local, old)
    read = []
    real = Store.read_key
    monkeypatch.setattr(Store, "read_key", lambda self, key: read.append(key) or real(self, key))
    site = Path(local.root) / "site"
    compare = site / "compare" / f"{old.run_id}__{new.run_id}.html"
    before = compare.stat().st_mtime_ns
    stats = build_site(local, log=quiet)
    assert (stats["rendered"], stats["relinked"]) == (1, 1)
    assert Store.object_key(new.tasks[0].notebook["sha256"]) not in read
    assert Store.object_key(old.tasks[0].notebook["sha256"]) in read
    assert compare.stat().st_mtime_ns != before
    assert (site / "notebooks" / new.run_id / "train.html").is_file()
    assert new.run_id in json.loads((site / "manifest.json").read_text())["runs"]


def test_output_image_sizes_must_be_integers(local):
    png = {"image/png": PNG, "text/plain": "<Figure>"}
    outputs = [
        nbformat.v4.new_output("display_data", data=png,
                               metadata={"image/png": {"width": "1 onload=alert(1)", "height": "7"}}),
        nbformat.v4.new_output("display_data", data=dict(png), metadata={"width": "2 onerror=alert(2)", "height": 9}),
    ]
    run = add_run(local, 0, nb=executed_notebook(accuracy=0.9, extra_outputs=outputs))
    build_site(local, log=quiet)
    body = (Path(local.root) / "site" / "notebooks" / run.run_id / "train.html").read_text().split("<body", 1)[1]
    assert "onload" not in body and "onerror" not in body and "alert(" not in body
    assert 'height="7"' in body and 'height="9"' in body  # integer sizes stay


def test_a_run_without_record_gets_no_compare_page_until_it_has_one(local):
    old, new = add_run(local, 0), add_run(local, 1)
    record_key = Store.run_key(old.run_id, "record.json")
    saved = local.read_key(record_key)
    local.delete_key(record_key)
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    page = f"compare/{old.run_id}__{new.run_id}.html"
    assert not (site / page).exists()
    assert page not in (site / "runs" / f"{new.run_id}.html").read_text()
    assert page not in (site / "index.html").read_text()
    assert page not in json.loads((site / "manifest.json").read_text())["runs"][new.run_id]["pages"]
    # nor does the index (table or chart) link the run page that could not be made
    assert f'href="runs/{old.run_id}.html"' not in (site / "index.html").read_text()
    assert "no record yet" in (site / "index.html").read_text()
    local.write_key(record_key, saved)
    build_site(local, log=quiet)
    assert (site / page).is_file()
    assert page in (site / "runs" / f"{new.run_id}.html").read_text()
    assert page in (site / "index.html").read_text()
    assert f'href="runs/{old.run_id}.html"' in (site / "index.html").read_text()


def test_a_tampered_manifest_deletes_nothing_outside_the_site(local, tmp_path):
    add_run(local, 0)
    build_site(local, log=quiet)
    site = Path(local.root) / "site"
    victims = [tmp_path / "victim.html", Path(local.root) / "victim.html", site / "runs" / "victim.txt"]
    for victim in victims:
        victim.write_text("keep me")
    (site / "runs" / "gone.html").write_text("stale")
    manifest = json.loads((site / "manifest.json").read_text())
    manifest["runs"]["gone"] = {"pages": ["../../victim.html", "../victim.html", "runs/../../victim.html",
                                          "runs/victim.txt", "/etc/passwd", "runs/gone.html"]}
    (site / "manifest.json").write_text(json.dumps(manifest))
    stats = build_site(local, log=quiet)
    assert all(victim.is_file() for victim in victims)
    assert not (site / "runs" / "gone.html").exists() and stats["deleted"] == 1


def test_site_format_covers_versions_and_shown_modules(monkeypatch):
    import importlib.metadata

    import nbprod
    from nbprod.report.site import site_format

    base = site_format()
    monkeypatch.setattr(nbprod, "__version__", "99.0")
    bumped = site_format()
    assert bumped != base
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0.1" if name == "nbconvert" else real(name))
    assert site_format() not in (base, bumped)
    monkeypatch.undo()
    read = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.as_posix()) or real_read(self))
    assert site_format() == base
    for shown in ("compare/diff.py", "nbprod/redact.py", "compare/metrics.py", "project/__init__.py", "nbprod/schema.py"):
        assert any(path.endswith(shown) for path in read), shown


def test_site_format_fails_loudly_when_a_shown_module_is_gone(monkeypatch):
    from nbprod.report import site

    monkeypatch.setattr(site, "SHOWN_MODULES", (*site.SHOWN_MODULES, "nbprod.no_such_module"))
    with pytest.raises(ModuleNotFoundError):
        site.site_format()


def test_run_page_metrics_in_declaration_order(local):
    spec = [{"name": "loss", "goal": "min", "headline": True, "tolerance": 0.0},
            {"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0}]
    run = add_run(local, 0, spec=spec)
    build_site(local, log=quiet)
    html = (Path(local.root) / "site" / "runs" / f"{run.run_id}.html").read_text()
    table = re.search(r'<table class="metrics">.*?</table>', html, re.S).group(0)
    assert table.index("<td>loss") < table.index("<td>accuracy")


def test_out_that_is_a_file_is_a_config_error(local, tmp_path):
    from nbprod.errors import ConfigError

    add_run(local, 0)
    target = tmp_path / "site.html"
    target.write_text("x")
    with pytest.raises(ConfigError) as info:
        build_site(local, out=target, log=quiet)
    assert str(info.value) == f"--out {target} is a file, not a folder: give a folder path"
    assert "\n" not in str(info.value)


# -- what a user sees (issue 11 §3, §5) ------------------------------------------------------------


def test_index_has_a_column_per_differing_parameter_and_the_command(local):
    add_run(local, 0, mode="ok")
    add_run(local, 1, mode="fast")
    build_site(local, log=quiet)
    index = (Path(local.root) / "site" / "index.html").read_text()
    head = re.search(r"<thead>.*?</thead>", index, re.S).group(0)
    assert '<th class="param">mode</th>' in head and ">seed<" not in head  # seed is 42 in both
    assert "<th>command</th>" in head
    cells = re.findall(r'<td class="mono param">([^<]*)</td>', index)
    assert cells == ["fast", "ok"]  # newest first
    assert index.count('<td class="mono command">nbprod build</td>') == 2


def test_run_page_shows_image_products_inline_and_the_pull_line_for_the_others(local, tmp_path):
    png = base64.b64decode(PNG)
    image, model = local.put_bytes(png), local.put_bytes(b"model bytes")
    big = {"name": "huge", "path": "outputs/huge.png", "sha256": "f" * 64, "size": 50_000_000, "partial": False}
    record = RunRecord(run_id=new_run_id(BASE), status="succeeded", started_at=BASE.isoformat(), tasks=[
        TaskRecord(name="evaluate", kind="notebook", status="succeeded", source="evaluate.ipynb", source_sha256="c" * 64,
                   kernel={"name": "venv2", "executable": "/opt/venv2/bin/python", "python": "3.12.1",
                           "packages": {"numpy": "2.0.0"}, "same_env": False},
                   products=[{"name": "confusion", "path": "outputs/figures/confusion.png", "sha256": image["sha256"],
                              "size": image["size"], "partial": False},
                             {"name": "model", "path": "outputs/model.joblib", "sha256": model["sha256"],
                              "size": model["size"], "partial": False}, big])],
        packages={"numpy": "1.26.4"}, project={"files": {"pipeline.ci.yaml": {"sha256": "d" * 64, "role": "entry_point"}}})
    local.write_record(record)
    build_site(local, log=quiet)
    html = (Path(local.root) / "site" / "runs" / f"{record.run_id}.html").read_text()
    assert f'<img class="product" src="data:image/png;base64,{PNG}" alt="confusion">' in html
    assert f"<code>nbprod pull {record.run_id}</code>" in html
    assert f"outputs/pulled/{record.run_id}/outputs/model.joblib" in html
    assert "image of 50.0 MB, not shown inline" in html and f"outputs/pulled/{record.run_id}/outputs/huge.png" in html
    assert "/opt/venv2/bin/python" in html and "not nbprod's environment" in html
    assert "2.0.0" in html and "1.26.4" in html  # the kernel's numpy beside nbprod's
    assert "pipeline.ci.yaml" in html and "entry_point" in html and "cccccccccccc" in html
    assert not re.search(r'\bsrc="(?!data:)', html)  # the CSP allows data: images only


def test_compare_page_shows_a_code_change_per_task(local):
    old, new = add_run(local, 0), add_run(local, 1)
    for record, digest in ((old, "a" * 64), (new, "b" * 64)):
        record.tasks[0].source_sha256 = digest
    from nbprod.report.pages import compare_html

    html = compare_html(old, new).decode()
    code = re.search(r'<table class="code">.*?</table>', html, re.S).group(0)
    assert "train" in code and "train.ipynb" in code and "aaaaaaaaaaaa" in code and "bbbbbbbbbbbb" in code
    new.tasks[0].source_sha256 = "a" * 64
    assert '<table class="code">' not in compare_html(old, new).decode()


def test_a_reproductions_page_links_the_run_it_reproduces_with_the_verdict_and_differences(local):
    from nbprod.report.pages import run_html

    original = add_run(local, 0)
    record = add_run(local, 1)
    record.reproduces, record.verdict = original.run_id, "equivalent"
    record.reproduction = {"differences": [{"what": "metric", "task": None, "name": "accuracy", "original": 0.9,
                                            "reproduction": 0.9004, "level": "equivalent",
                                            "note": "within the declared tolerance"}]}
    kwargs = dict(entry={}, notebooks={}, fetch=local.get_bytes, run_href=lambda r: f"{r}.html",
                  notebook_href=lambda t: None, compare_href=lambda old, new: None)
    html = run_html(record, **kwargs).decode()
    assert f'Reproduces <a href="{original.run_id}.html">run <span class="mono">{original.run_id}</span></a> ' \
           "(<b>equivalent</b>)" in html
    assert "0.9004" in html and "within the declared tolerance" in html
    summary = {**record.summary(), "reproduces": original.run_id, "verdict": "equivalent"}
    page = run_html(original, reproduced_by=[summary, add_run(local, 2).summary()], **kwargs).decode()
    assert page.count("Reproduced by") == 1  # only the summaries that reproduce this run
    assert f'Reproduced by <a href="{record.run_id}.html">run <span class="mono">{record.run_id}</span></a> ' \
           "(<b>equivalent</b>)" in page
    assert "Reproduces" not in page


def test_a_reproduction_appearing_renders_its_originals_page_again_with_the_link(local):
    original, other = add_run(local, 0), add_run(local, 1)
    build_site(local, log=quiet)
    page = Path(local.root) / "site" / "runs" / f"{original.run_id}.html"
    assert "Reproduced by" not in page.read_text()

    reproduction = RunRecord.from_dict({**add_run(Store(str(Path(local.root).parent / "scratch")), 2).to_dict(),
                                        "reproduces": original.run_id, "verdict": "identical"})
    local.write_record(reproduction)
    stats = build_site(local, log=quiet)

    assert "Reproduced by" in page.read_text() and reproduction.run_id in page.read_text()
    assert "(<b>identical</b>)" in page.read_text()
    assert "Reproduced by" not in (Path(local.root) / "site" / "runs" / f"{other.run_id}.html").read_text()
    assert stats["rendered"] == 2  # the reproduction and its original; the other run is only relinked
