"""`nbprod store verify | gc | reindex` in a real process: what they print, how they exit."""

from __future__ import annotations

import subprocess
import sys

from runfactory import store_run

from nbprod.store import Store


def nbprod(*args, store: Store, tmp_path, check=True):
    env = {"NBPROD_STORE": store.url, "NBPROD_SPOOL": str(tmp_path / "spool"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", *args], capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_verify_names_an_unlisted_record_and_reindex_lists_it(tmp_path):
    store = Store(str(tmp_path / "store"))
    kept = store_run(store, tmp_path / "work", minute=1)
    lost = store_run(store, tmp_path / "work", minute=2)
    store.delete_key(f"summaries/{lost.run_id}.json")
    assert nbprod("runs", "show", lost.run_id, store=store, tmp_path=tmp_path, check=False).returncode == 2

    bad = nbprod("store", "verify", store=store, tmp_path=tmp_path, check=False)
    assert bad.returncode == 3
    assert bad.stdout.splitlines() == [f"run {lost.run_id}: record: runs/{lost.run_id}/record.json: not listed "
                                       "(no summary, in no pack): `nbprod store reindex` lists it"]
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith(f"nbprod: error: store {store.url}: 1 record(s) not listed in 2 runs")
    assert last.endswith("run `nbprod store reindex` to list them")

    done = nbprod("store", "reindex", store=store, tmp_path=tmp_path)
    assert done.stdout == (f"nbprod: store {store.url} reindexed: 2 runs listed (1 added, 0 without a record dropped, "
                           "0 unreadable record(s))\n")
    assert lost.run_id in nbprod("runs", "show", lost.run_id, store=store, tmp_path=tmp_path).stdout
    assert {kept.run_id, lost.run_id} <= set(nbprod("runs", "ls", "--all", store=store, tmp_path=tmp_path).stdout.split())
    assert "verified: 2 runs" in nbprod("store", "verify", store=store, tmp_path=tmp_path).stdout


def test_a_corrupt_record_is_one_warning_in_verify_and_gc(tmp_path):
    store = Store(str(tmp_path / "store"))
    bad = store_run(store, tmp_path / "work", minute=1, model=b"bad run's model")
    store_run(store, tmp_path / "work", minute=2)
    key = Store.run_key(bad.run_id, "record.json")
    store.fs.pipe_file(store._path(key), store.read_key(key)[:-40])  # truncated: its hashes are still there

    verify = nbprod("store", "verify", store=store, tmp_path=tmp_path, check=False)
    assert verify.returncode == 3
    warnings = [line for line in verify.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and bad.run_id in warnings[0] and "corrupt" in warnings[0]
    assert verify.stdout.splitlines() == [f"run {bad.run_id}: record: {key}: unreadable (corrupt JSON): skipped"]
    assert "1 unreadable record(s)" in verify.stderr.splitlines()[-1]

    gc = nbprod("store", "gc", "--grace", "0", store=store, tmp_path=tmp_path)
    warnings = [line for line in gc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and bad.run_id in warnings[0] and warnings[0].endswith("every object its bytes name is kept")
    assert "gc dry run: 0 unreferenced object(s)" in gc.stdout

    reindex = nbprod("store", "reindex", store=store, tmp_path=tmp_path)
    assert "2 runs listed (0 added, 0 without a record dropped, 1 unreadable record(s))" in reindex.stdout


def test_store_help_documents_exit_codes():
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "store", "reindex", "--help"], capture_output=True,
                          text=True, check=True)
    assert "Exits 3 when" in done.stdout
