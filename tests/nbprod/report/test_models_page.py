"""The report's models pages (nbprod.report.modelpages): versions with their runs, metrics and
gate reports, the production timeline, run pages linking the versions they registered.

A real store on a folder; versions, evaluations and moves are real registry events
(``nbprod.models.registry``, with registrykit's manifests of real stored objects); runs are
records without notebooks, so a build that has nothing new to render renders nothing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from registrykit import manifest, report

from nbprod.models import registry
from nbprod.report import build_site
from nbprod.report.charts import MIN_SPAN, timeline_svg
from nbprod.report.pages import _when
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)
SPEC = [{"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0},
        {"name": "f1_macro", "goal": "max", "headline": True, "tolerance": 0.0}]
EVIL = "<script>document.title='pwned'</script>"
EVIL_ACTOR = "<img src=x onerror=alert(1)>@box"


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def add_run(store: Store, minute: int, accuracy: float = 0.95) -> RunRecord:
    moment = BASE + timedelta(minutes=minute)
    record = RunRecord(
        run_id=new_run_id(moment), status="succeeded", started_at=moment.isoformat(),
        ended_at=(moment + timedelta(seconds=3)).isoformat(), duration_s=3.0, user="ana", host="box",
        command=["nbprod", "build"], git={"commit": f"{minute + 1:040x}", "branch": "main", "dirty": False},
        tasks=[TaskRecord(name="train", kind="notebook", status="succeeded",
                          scraps={"accuracy": {"value": accuracy}, "f1_macro": {"value": accuracy - 0.02}})],
        metrics_spec=list(SPEC),
    )
    store.write_record(record)
    return record


def register(store: Store, run: RunRecord, seed: int, verdict: str = "passed", baseline: int | None = None,
             evaluated_by: RunRecord | None = None, why: str | None = None) -> int:
    """A version of ``run``'s products, evaluated (by ``evaluated_by``, default ``run``) as a build does."""
    gates = report(verdict, baseline=baseline)
    if why:
        gates["rules"][-1]["why"] = why
    number, _ = registry.register(store, "penguins", {**manifest(store, seed=seed, run_id=run.run_id, gates=gates),
                                                      "commit": (run.git or {}).get("commit"),
                                                      "created_at": run.ended_at,
                                                      "metrics": run.metrics()})
    registry.evaluate(store, "penguins", number, gates, run_id=(evaluated_by or run).run_id,
                      evidence=f"{seed}-{verdict}-{baseline}-{(evaluated_by or run).run_id}")
    return number


def quiet(_line):
    pass


class Page(HTMLParser):
    """A page's tags, links and ids, the rows of each table by class, and its text."""

    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.ids, self.rows, self.text = [], [], set(), {}, []
        self._table = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self.refs += [(tag, attrs[n]) for n in ("href", "src") if attrs.get(n)]
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "table":
            self._table = attrs.get("class")
        if tag == "tr" and attrs.get("data-version") and self._table:
            self.rows.setdefault(self._table, []).append(attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def site_of(store: Store) -> Path:
    return Path(store.root) / "site"


def section(html: str, anchor: str) -> str:
    return re.search(rf'<section class="version" id="{anchor}">.*?</section>', html, re.S).group(0)


def test_versions_with_runs_metrics_gate_reports_and_links_both_ways(store):
    first, second = add_run(store, 0, accuracy=0.95), add_run(store, 1, accuracy=0.97)
    one = register(store, first, 0)
    registry.promote(store, "penguins", one, reason="first", actor="ana@box")
    two = register(store, second, 1, verdict="failed", baseline=one)
    registry.decide(store, "penguins", two, "rejected", reason="f1 dropped", actor="bob@box")
    stats = build_site(store, log=quiet)
    site = site_of(store)
    assert stats["models"] == 1
    html = (site / "models" / "penguins.html").read_text()
    page = parse(site / "models" / "penguins.html")

    rows = page.rows["versions"]
    assert [r["data-version"] for r in rows] == ["2", "1"]  # newest first
    table = re.search(r'<table class="versions">.*?</table>', html, re.S).group(0)
    assert "<th>accuracy</th>" in table and "<th>f1_macro</th>" in table  # the headline metrics
    v2_row, v1_row = re.findall(r'<tr class="version".*?</tr>', table, re.S)
    assert f'href="../runs/{second.run_id}.html"' in v2_row and "0.97" in v2_row and "0.95" in v2_row
    assert '<span class="gate failed">failed</span>' in v2_row and "rejected" in v2_row
    assert f'href="../runs/{first.run_id}.html"' in v1_row and "production" in v1_row and "passed" in v1_row
    assert f"{2:040x}"[:8] in v2_row  # its commit

    gate = section(html, "v2")
    assert "against production v1" in gate and "not promotable" in gate
    rules = re.findall(r'<tr class="rule (\w+)"><td>(.*?)</td><td>(.*?)</td>.*?</tr>', gate, re.S)
    assert rules == [("fail", "accuracy &gt;= 0.9", "absolute"),
                     ("fail", "f1_macro at most 0.01 worse than production", "non_inferiority")]
    assert "[-0.002, +0.03]" in gate and "+0.01" in gate and "0.94" in gate and "interval above -0.01" in gate
    assert "rejected by <span class=\"mono\">bob@box</span>" in gate and "f1 dropped" in gate
    assert "absolute gates only" in section(html, "v1")

    index = parse(site / "index.html")
    assert ("a", "models/penguins.html") in index.refs and ("a", "models/penguins.html#v1") in index.refs
    run_html = (site / "runs" / f"{second.run_id}.html").read_text()
    assert ('<p class="registered">registered <a href="../models/penguins.html#v2">penguins v2</a> '
            '(gates failed)</p>') in run_html
    assert 'href="../models/penguins.html#v1"' in (site / "runs" / f"{first.run_id}.html").read_text()

    for path in sorted(site.rglob("*.html")):  # every link, fragments included, resolves
        for tag, ref in parse(path).refs:
            target, _, fragment = ref.partition("#")
            resolved = (path.parent / target).resolve() if target else path
            assert resolved.is_file(), f"{path.relative_to(site)}: {ref}"
            assert not fragment or fragment in parse(resolved).ids, f"{path.relative_to(site)}: {ref}"


def test_the_production_timeline_in_order_with_rollbacks_and_now(store):
    runs = [add_run(store, i) for i in range(3)]
    one, two, three = (register(store, run, seed) for seed, run in enumerate(runs))
    registry.promote(store, "penguins", one, reason="first", actor="ana@box")
    registry.promote(store, "penguins", two, reason="better f1", actor="bob@box", force=True)
    registry.rollback(store, "penguins", reason="v2 broke scoring", actor="cy@box")
    registry.promote(store, "penguins", three, reason="fixed", actor="ana@box", force=True)
    registry.promote(store, "penguins", two, reason="staging try", alias="staging", force=True, actor="ana@box")
    build_site(store, log=quiet)
    html = (site_of(store) / "models" / "penguins.html").read_text()

    table = re.search(r'<table class="timeline" data-alias="production">.*?</table>', html, re.S).group(0)
    spans = re.findall(r'<tr class="span (\w+)" data-version="(\d+)">(.*?)</tr>', table, re.S)
    assert [(kind, v) for kind, v, _ in spans] == [("promoted", "1"), ("promoted", "2"), ("rolled_back", "1"),
                                                   ("promoted", "3")]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", body, re.S) for _, _, body in spans]
    assert [c[5] for c in cells] == ["ana@box", "bob@box", "cy@box", "ana@box"]  # who
    assert [c[6] for c in cells] == ["first", "better f1", "v2 broke scoring", "fixed"]  # why
    assert "from nothing" in cells[0][4] and "from v2" in cells[2][4] and "rolled back" in cells[2][4]
    assert "(forced)" in cells[1][4] and "(forced)" not in cells[0][4]
    assert [c[2] == "<b>now</b>" for c in cells] == [False, False, False, True]  # only the last lasts until now
    moves = [m for m in registry.open_registry(store, "penguins").moves if m["alias"] == "production"]
    assert [c[1] for c in cells] == [_when(m["time"]) for m in moves]  # each span starts at its event

    svg = re.search(r'<svg class="chart timeline" data-alias="production".*?</svg>', html, re.S).group(0)
    rects = re.findall(r'<a href="#(v\d)"><rect class="span (\w+) c\d( current)?" data-version="(\d)"', svg)
    assert rects == [("v1", "promoted", "", "1"), ("v2", "promoted", "", "2"), ("v1", "rolled_back", "", "1"),
                     ("v3", "promoted", " current", "3")]
    assert svg.count('class="rb"') == 1  # the rollback is marked
    assert 'data-alias="staging"' in html  # another alias: its own timeline, after production
    assert html.index('data-alias="production"') < html.index('data-alias="staging"')


def test_reasons_actors_and_gate_texts_are_escaped(store):
    run = add_run(store, 0)
    one = register(store, run, 0, why=f"interval {EVIL}")
    registry.promote(store, "penguins", one, reason=f"ship it {EVIL}", actor=EVIL_ACTOR)
    registry.decide(store, "penguins", one, "approved", reason=EVIL, actor=EVIL_ACTOR)
    build_site(store, log=quiet)
    path = site_of(store) / "models" / "penguins.html"
    html = path.read_text()
    assert "<script" not in html and "<img" not in html
    escaped = "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"
    assert f'<td class="reason">ship it {escaped}</td>' in html  # the timeline table
    assert "&lt;img src=x onerror=alert(1)&gt;@box" in html  # the actor
    assert f"<td>interval {escaped}</td>" in html  # a rule's why
    title = re.search(r"<rect [^>]*><title>(.*?)</title>", html).group(1)
    assert "ship it &lt;script&gt;" in title and "by &lt;img src=x onerror=alert(1)&gt;@box" in title
    page = parse(path)
    assert not [t for t, _ in page.tags if t == "script"]
    assert not [(t, a) for t, a in page.tags if any(name.startswith("on") for name in a)]


def test_a_store_without_models_has_no_models_link_and_no_models_pages(store):
    run = add_run(store, 0)
    stats = build_site(store, log=quiet)
    site = site_of(store)
    assert stats["models"] == 0 and not (site / "models").exists()
    index = (site / "index.html").read_text()
    assert "<h2>Models</h2>" not in index and "models/" not in index
    assert 'class="registered"' not in (site / "runs" / f"{run.run_id}.html").read_text()
    assert json.loads((site / "manifest.json").read_text())["models"] == []


def test_a_run_evaluating_an_earlier_version_again_says_so(store):
    first, again = add_run(store, 0), add_run(store, 1)
    one = register(store, first, 0)
    assert register(store, again, 0, verdict="failed", evaluated_by=again) == one  # the same bytes: v1
    build_site(store, log=quiet)
    html = (site_of(store) / "runs" / f"{again.run_id}.html").read_text()
    assert 'evaluated again <a href="../models/penguins.html#v1">penguins v1</a> (gates failed)' in html
    first_html = (site_of(store) / "runs" / f"{first.run_id}.html").read_text()
    assert 'registered <a href="../models/penguins.html#v1">penguins v1</a> (gates passed)' in first_html
    page = (site_of(store) / "models" / "penguins.html").read_text()
    assert "Evaluated 2 times" in section(page, "v1")


def test_a_move_renders_the_model_page_a_registration_relinks_only_its_run(store):
    first, second = add_run(store, 0), add_run(store, 1)
    assert build_site(store, log=quiet)["rendered"] == 2
    site = site_of(store)
    assert build_site(store, log=quiet)["relinked"] == 0  # nothing new: nothing rendered

    one = register(store, first, 0)  # registered after the run page was written
    stats = build_site(store, log=quiet)
    assert (stats["rendered"], stats["relinked"]) == (0, 1)
    assert 'href="../models/penguins.html#v1"' in (site / "runs" / f"{first.run_id}.html").read_text()
    assert "models/" not in (site / "runs" / f"{second.run_id}.html").read_text()

    registry.promote(store, "penguins", one, reason="first", actor="ana@box")
    stats = build_site(store, log=quiet)
    assert (stats["rendered"], stats["relinked"]) == (0, 0)  # a move changes no run page...
    assert 'data-version="1"' in re.search(r'<table class="timeline".*?</table>',  # ...only the model page
                                           (site / "models" / "penguins.html").read_text(), re.S).group(0)

    registry.evaluate(store, "penguins", one, report("failed"), run_id=first.run_id, evidence="again")
    assert build_site(store, log=quiet)["relinked"] == 1  # its verdict changed: its run page again
    assert "penguins v1</a> (gates failed)" in (site / "runs" / f"{first.run_id}.html").read_text()


def test_an_unreadable_log_is_a_warning_and_a_page_the_others_build(store):
    run = add_run(store, 0)
    register(store, run, 0)
    store.write_key("models/broken/events/00000001.json", b"not json {")
    lines = []
    build_site(store, log=lines.append)
    site = site_of(store)
    assert [line for line in lines if "broken" in line] == [
        next(line for line in lines if line.startswith("nbprod: warning: model broken: its event log could not be read"))]
    assert "could not be read" in (site / "models" / "broken.html").read_text()
    assert "nbprod models verify broken" in (site / "models" / "broken.html").read_text()
    assert (site / "models" / "penguins.html").is_file()
    index = (site / "index.html").read_text()
    assert 'href="models/broken.html"' in index and 'href="models/penguins.html"' in index


def test_a_model_gone_from_the_store_loses_its_page_and_a_tampered_manifest_deletes_nothing_else(store, tmp_path):
    run = add_run(store, 0)
    register(store, run, 0)
    build_site(store, log=quiet)
    site = site_of(store)
    assert (site / "models" / "penguins.html").is_file()
    victim = site / "victim.html"
    victim.write_text("keep me")
    manifest_path = site / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["models"] += ["models/../victim.html", "../victim.html"]
    manifest_path.write_text(json.dumps(data))
    for row in store.list_keys("models"):
        store.delete_key(row["key"])
    stats = build_site(store, log=quiet)
    assert stats["deleted"] == 1 and not (site / "models" / "penguins.html").exists()
    assert victim.read_text() == "keep me"
    assert "models/penguins.html" not in (site / "index.html").read_text()


def test_the_timeline_svg_gives_time_its_width_and_every_span_a_minimum():
    day = 86400
    spans = [{"version": 1, "since": "2026-11-01T00:00:00Z", "until": "2026-11-11T00:00:00Z", "seconds": 10 * day,
              "type": "promoted", "actor": "a", "reason": "r", "anchor": "v1"},
             {"version": 2, "since": "2026-11-11T00:00:00Z", "until": "2026-11-11T00:01:00Z", "seconds": 60,
              "type": "promoted", "actor": "a", "reason": "r", "anchor": "v2"},
             {"version": 1, "since": "2026-11-11T00:01:00Z", "until": None, "seconds": 5 * day,
              "type": "rolled_back", "actor": "a", "reason": "r", "anchor": "v1"}]
    svg = timeline_svg("production", spans, now="2026-11-16T00:01:00Z")
    widths = [float(w) + 1 for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[1] == pytest.approx(MIN_SPAN, abs=0.1)  # a minute still shows
    assert widths[0] - MIN_SPAN == pytest.approx(2 * (widths[2] - MIN_SPAN), rel=0.001)  # ten days: twice five
    assert sum(widths) == pytest.approx(760 - 32, abs=0.5)
    assert "now (2026-11-16 00:01)" in svg and ">2026-11-01 00:00<" in svg
