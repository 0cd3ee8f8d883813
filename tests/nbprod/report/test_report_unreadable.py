"""One corrupt record.json does not stop `nbprod report`: that run is skipped with one
warning line and counted as unreadable; every other run's pages, and the index, are built."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report import add_run, parse

from nbprod.report import build_site
from nbprod.store import Store


@pytest.mark.parametrize("newest_is_corrupt", [False, True], ids=["a-middle-run", "the-newest-run"])
def test_report_skips_a_corrupt_record_and_builds_the_rest(tmp_path, newest_is_corrupt):
    store = Store(str(tmp_path / "store"))
    runs = [add_run(store, 0), add_run(store, 1), add_run(store, 2, accuracy=0.95)]
    bad = runs[2] if newest_is_corrupt else runs[1]
    key = Store.run_key(bad.run_id, "record.json")
    store.fs.pipe_file(store._path(key), store.read_key(key)[:100])  # truncated JSON
    lines: list[str] = []
    stats = build_site(store, log=lines.append)
    warnings = [line for line in lines if "warning" in line]
    assert len(warnings) == 1 and bad.run_id in warnings[0] and "corrupt" in warnings[0]
    assert stats["unreadable"] == 1 and stats["runs"] == 3
    site = Path(store.root) / "site"
    good = [r for r in runs if r is not bad]
    for run in good:
        assert (site / "runs" / f"{run.run_id}.html").is_file()
        assert (site / "notebooks" / run.run_id / "train.html").is_file()
    assert not (site / "runs" / f"{bad.run_id}.html").exists()
    assert parse(site / "index.html").rows == [r.run_id for r in reversed(runs)]  # listed, from its summary
    # once the record is sound again, the next build renders it
    store.fs.pipe_file(store._path(key), b"")
    store.delete_key(key)
    store.write_record(bad)
    again = build_site(store, log=lines.append)
    assert again["unreadable"] == 0 and (site / "runs" / f"{bad.run_id}.html").is_file()
