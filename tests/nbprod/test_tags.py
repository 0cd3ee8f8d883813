"""Tags and notes (`nbprod build --tag pr-123 --note "..."`): checked, kept in the record and its
summary, filtered by `runs ls --tag`, shown by `runs ls`, `runs show` and the run page."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbprod import schema
from nbprod.compare import views
from nbprod.compare.select import list_runs
from nbprod.errors import ConfigError
from nbprod.report.site import build_site
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store


def test_tags_are_checked_kept_once_in_order_and_the_note_trimmed():
    assert schema.check_tags(["pr-123", "ci", "pr-123", "env=prod"], "  nightly retrain ") == (
        ["pr-123", "ci", "env=prod"], "nightly retrain")
    assert schema.check_tags([], None) == ([], None)


@pytest.mark.parametrize("tag", ["", "has space", "-leading", "x" * 65, "semi;colon", "é"])
def test_a_bad_tag_is_a_one_line_config_error(tag):
    with pytest.raises(ConfigError) as caught:
        schema.check_tags([tag])
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value) and "--tag" in str(caught.value)


def test_a_note_too_long_is_refused():
    with pytest.raises(ConfigError, match="--note"):
        schema.check_tags([], "x" * (schema.NOTE_MAX + 1))


def record(tags=(), note=None, minute=0) -> RunRecord:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 12, 1, 12, tzinfo=timezone.utc) + timedelta(minutes=minute)
    return RunRecord(run_id=new_run_id(moment), status="succeeded", started_at=moment.isoformat(),
                     duration_s=1.0, tags=list(tags), note=note,
                     tasks=[TaskRecord(name="train", kind="notebook", status="succeeded")])


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(str(tmp_path / "store"))
    for number, (tags, note) in enumerate([((), None), (("ci", "pr-7"), "from CI"), (("prod",), "<b>nightly</b>")]):
        store.write_record(record(tags, note, minute=number))
    return store


def test_runs_ls_tag_keeps_runs_holding_every_tag_given(store):
    def ids(*tags):
        return [r["note"] for r in list_runs(store, tags=tags, limit=None).rows]

    assert ids("ci") == ["from CI"]
    assert ids("ci", "pr-7") == ["from CI"]
    assert ids("ci", "prod") == []
    assert len(ids()) == 3


def test_runs_ls_shows_a_tags_column_only_when_a_run_has_tags(store):
    rows = list(list_runs(store, limit=None).rows)
    table = views.runs_table(rows)
    assert "tags" in table.splitlines()[0] and "ci,pr-7" in table
    untagged = [r for r in rows if not r["tags"]]
    assert "tags" not in views.runs_table(untagged).splitlines()[0]


def test_runs_show_and_the_run_page_show_tags_and_note(store, tmp_path):
    tagged = next(r for r in list_runs(store, tags=["prod"]).rows)
    text = views.record_text(store.read_record(tagged["run_id"]))
    assert "tags      prod" in text and "note      <b>nightly</b>" in text
    build_site(store, out=tmp_path / "site", log=lambda line: None)
    page = next((tmp_path / "site").rglob(f"{tagged['run_id']}*.html")).read_text()
    assert "<th>tags</th>" in page and "&lt;b&gt;nightly&lt;/b&gt;" in page  # escaped, not markup
