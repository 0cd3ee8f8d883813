"""nbprod.store: one contract suite, run against memory:// and a local folder."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from nbprod.settings import Settings
from nbprod.errors import IntegrityError, NbprodError, RunNotFoundError, StoreError
from nbprod.schema import ErrorInfo, RunRecord, TaskRecord
from nbprod.store import Store, check_run_id, safe_part
from nbprod.store.backend import LAYOUT, LAYOUT_KEY

IDS = [
    "20261120T080000Z-aaaaaa",
    "20261121T090000Z-bbbbbb",
    "20261121T090000Z-bbcccc",
    "20261122T143308Z-a1b2c3",
]


@pytest.fixture(params=["memory", "local", "s3"])
def store(request, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3")
        return Store(f"s3://nbprod-test/runs-{uuid.uuid4().hex[:8]}")
    if request.param == "memory":
        request.getfixturevalue("memory_fs")
        url = f"memory://nbprod-test-{uuid.uuid4().hex}"
    else:
        url = str(tmp_path / "store")
    return Store(url)


def _full_path(store: Store, key: str) -> str:
    return f"{store.root}/{key}"


def _keys(store: Store, under: str = "") -> list[str]:
    """Every file key in the store (relative to its root), read through the fs itself."""
    base = _full_path(store, under) if under else store.root
    if not store.fs.exists(base):
        return []
    prefix = store.root.rstrip("/") + "/"
    found = store.fs.find(base)
    keys = (p[len(prefix):] if p.startswith(prefix) else p for p in found)
    return sorted(k for k in keys if k != LAYOUT_KEY)  # the layout marker: tested on its own below


def _record(run_id: str, *, status: str = "succeeded", accuracy: float = 0.9) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        status=status,
        started_at="2026-11-22T14:33:08.000Z",
        duration_s=12.5,
        user="ada",
        host="ci",
        git={"commit": "c" * 40, "dirty": False},
        tasks=[
            TaskRecord(
                name="train",
                kind="notebook",
                status="succeeded",
                scraps={"accuracy": {"value": accuracy, "encoder": "json"}},
            )
        ],
    )


# -- opening ---------------------------------------------------------------------


def test_unknown_protocol_is_a_one_line_store_error():
    with pytest.raises(StoreError) as info:
        Store("nosuchproto://x")
    err = info.value
    assert isinstance(err, NbprodError)
    assert "\n" not in str(err)
    assert "nosuchproto" in str(err)
    assert err.url == "nosuchproto://x"
    assert err.hint


def test_from_settings_uses_the_store_url():
    url = f"memory://nbprod-test-{uuid.uuid4().hex}"
    store = Store.from_settings(Settings(store=url))
    assert store.url == url
    assert url in repr(store)


def test_from_settings_reads_nbprod_store(monkeypatch, tmp_path):
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "env-store"))
    assert Store.from_settings().url == str(tmp_path / "env-store")


# -- content-addressed objects -----------------------------------------------------


def test_put_bytes_is_content_addressed(store):
    data = b"bill_length_mm,species\n39.1,Adelie\n"
    sha = hashlib.sha256(data).hexdigest()
    stored = store.put_bytes(data)
    assert stored == {
        "sha256": sha,
        "size": len(data),
        "key": f"objects/sha256/{sha[:2]}/{sha[2:]}",
        "uploaded": True,
    }
    assert store.exists(stored["key"])
    assert store.read_key(stored["key"]) == data
    assert store.get_bytes(sha) == data
    assert _keys(store) == [stored["key"]]


def test_second_put_of_identical_bytes_is_not_uploaded(store):
    first = store.put_bytes(b"same content")
    second = store.put_bytes(b"same content")
    assert first["uploaded"] is True
    assert second["uploaded"] is False
    assert second["key"] == first["key"] and second["sha256"] == first["sha256"]
    assert _keys(store, "objects") == [first["key"]]


def test_put_file_is_content_addressed_and_stored_once(store, tmp_path):
    data = bytes(range(256)) * 100
    path = tmp_path / "model.pkl"
    path.write_bytes(data)
    first = store.put_file(path)
    sha = hashlib.sha256(data).hexdigest()
    assert first == {
        "sha256": sha,
        "size": len(data),
        "key": f"objects/sha256/{sha[:2]}/{sha[2:]}",
        "uploaded": True,
    }
    copy = tmp_path / "same-model.pkl"
    copy.write_bytes(data)
    second = store.put_file(copy)
    assert second["uploaded"] is False
    assert second["key"] == first["key"]
    assert _keys(store, "objects") == [first["key"]]
    assert store.get_bytes(sha) == data


def test_put_file_and_put_bytes_share_objects(store, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert store.put_file(path)["uploaded"] is True
    assert store.put_bytes(b"a,b\n1,2\n")["uploaded"] is False
    assert len(_keys(store, "objects")) == 1


def test_different_contents_are_different_objects(store):
    a = store.put_bytes(b"a")
    b = store.put_bytes(b"b")
    assert a["key"] != b["key"]
    assert _keys(store, "objects") == sorted([a["key"], b["key"]])
    assert store.get_bytes(a["sha256"]) == b"a"
    assert store.get_bytes(b["sha256"]) == b"b"


def test_empty_object(store):
    stored = store.put_bytes(b"")
    assert stored["size"] == 0
    assert store.get_bytes(stored["sha256"]) == b""


@pytest.mark.parametrize("corrupt", [b"Xame length content!", b"shorter", b""], ids=["same-size", "shorter", "empty"])
def test_get_bytes_detects_a_corrupt_object(store, corrupt):
    data = b"same length content!"
    stored = store.put_bytes(data)
    store.fs.pipe_file(_full_path(store, stored["key"]), corrupt)  # bit rot, in place
    with pytest.raises(IntegrityError) as info:
        store.get_bytes(stored["sha256"])
    err = info.value
    assert isinstance(err, StoreError)
    assert err.key == stored["key"]
    assert err.expected == stored["sha256"]
    assert err.actual == hashlib.sha256(corrupt).hexdigest()
    assert "\n" not in str(err)


def test_putting_the_content_again_repairs_a_corrupt_object(store):
    data = b"same length content!"
    stored = store.put_bytes(data)
    store.fs.pipe_file(_full_path(store, stored["key"]), b"Xame length content!")
    with pytest.raises(IntegrityError):
        store.get_bytes(stored["sha256"])
    store.put_bytes(data)  # what re-running the task does
    assert store.get_bytes(stored["sha256"]) == data


def test_get_bytes_of_a_missing_object(store):
    sha = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(StoreError) as info:
        store.get_bytes(sha)
    assert not isinstance(info.value, IntegrityError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", ["", "abc", "A" * 64, "g" * 64, "a" * 63, "../" + "a" * 61])
def test_object_key_rejects_what_is_not_a_sha256(bad):
    with pytest.raises(StoreError):
        Store.object_key(bad)


def test_write_key_and_read_key(store):
    store.write_key("site/index.html", b"<html></html>")
    assert store.exists("site/index.html")
    assert store.read_key("site/index.html") == b"<html></html>"
    store.write_key("site/index.html", b"<html>v2</html>")
    assert store.read_key("site/index.html") == b"<html>v2</html>"
    assert not store.exists("site/missing.html")
    with pytest.raises(StoreError):
        store.read_key("site/missing.html")


# -- runs ------------------------------------------------------------------------


def test_write_record_then_read_record(store):
    record = _record(IDS[0], status="failed")
    record.tasks[0].error = ErrorInfo(task="train", ename="ValueError", evalue="boom", cell_index=2)
    record.error = record.tasks[0].error
    key = store.write_record(record)
    assert key == f"runs/{IDS[0]}/record.json"
    assert store.exists(key)
    back = store.read_record(IDS[0])
    assert back == record
    assert isinstance(back.tasks[0].error, ErrorInfo)


def test_write_record_refuses_to_overwrite_another_record_of_the_run(store):
    store.write_record(_record(IDS[0], accuracy=0.9))
    with pytest.raises(StoreError) as info:
        store.write_record(_record(IDS[0], accuracy=0.1))
    err = info.value
    assert not isinstance(err, RunNotFoundError) and err.exit_code == 3
    assert str(err) == (f"run {IDS[0]} already has another record in store {store.url}; not overwritten: "
                        "a run id is written once: record this run under a new id (schema.new_run_id)")
    assert store.read_record(IDS[0]).tasks[0].scraps["accuracy"]["value"] == 0.9  # the first one stays
    assert store.summaries()[0]["metrics"] == {"accuracy": 0.9}


def test_writing_the_same_record_again_completes_a_write_cut_before_its_summary(store):
    record = _record(IDS[1])
    store.write_record(record)
    store.delete_key(f"summaries/{IDS[1]}.json")  # as if the summary's PUT had failed
    assert store.run_ids() == []
    store.write_record(record)  # what a resumed push does
    assert store.run_ids() == [IDS[1]]


def test_write_record_writes_the_summary(store):
    record = _record(IDS[3], accuracy=0.5)
    store.write_record(record)
    summary = json.loads(store.read_key(f"summaries/{IDS[3]}.json"))
    assert summary == json.loads(json.dumps(record.summary()))
    assert summary["metrics"] == {"accuracy": 0.5}


def test_read_record_of_an_unknown_run(store):
    with pytest.raises(RunNotFoundError) as info:
        store.read_record(IDS[0])
    assert info.value.ref == IDS[0]


def test_empty_store_lists_nothing(store):
    assert store.run_ids() == []
    assert store.summaries() == []
    assert store.summaries(limit=3) == []


def test_run_ids_and_summaries_newest_first(store):
    for run_id in [IDS[1], IDS[3], IDS[0], IDS[2]]:  # written out of order
        store.write_record(_record(run_id))
    expected = sorted(IDS, reverse=True)
    assert store.run_ids() == expected
    assert [s["run_id"] for s in store.summaries()] == expected
    assert [s["run_id"] for s in store.summaries(limit=2)] == expected[:2]
    assert [s["run_id"] for s in store.summaries(limit=1)] == expected[:1]
    assert store.summaries(limit=0) == []
    assert [s["run_id"] for s in store.summaries(limit=100)] == expected


def test_a_record_without_its_summary_is_not_listed(store):
    store.write_record(_record(IDS[0]))
    cut_short = _record(IDS[3])
    store.write_key(
        Store.run_key(IDS[3], "record.json"), json.dumps(cut_short.to_dict()).encode()
    )
    assert store.run_ids() == [IDS[0]]
    assert [s["run_id"] for s in store.summaries()] == [IDS[0]]
    assert store.resolve("latest") == IDS[0]


def test_stray_files_in_summaries_are_ignored(store):
    store.write_record(_record(IDS[0]))
    store.write_key("summaries/notes.txt", b"x")
    store.write_key("summaries/not-a-run.json", b"{}")
    assert store.run_ids() == [IDS[0]]


def test_no_temporary_keys_remain_after_writes(store, tmp_path):
    path = tmp_path / "p.bin"
    path.write_bytes(b"product")
    store.put_file(path)
    store.put_file(path)
    store.put_bytes(b"blob")
    store.write_key("site/index.html", b"<html/>")
    store.write_key("site/index.html", b"<html>again</html>")
    store.write_record(_record(IDS[0]))
    store.write_record(_record(IDS[0]))  # the same record again: completes, writes nothing new
    with pytest.raises(StoreError):
        store.write_record(_record(IDS[0], accuracy=0.1))  # another record: refused
    keys = _keys(store)
    assert not [k for k in keys if ".tmp-" in k], keys
    assert len(keys) == 5, keys  # 2 objects, 1 page, record and summary of one run


# -- resolving references -----------------------------------------------------------


@pytest.fixture
def three_runs(store):
    for run_id in IDS:
        store.write_record(_record(run_id))
    return store


def test_resolve_latest(three_runs):
    assert three_runs.resolve("latest") == IDS[3]
    assert three_runs.resolve("  latest ") == IDS[3]


def test_resolve_full_id_and_unique_prefix(three_runs):
    assert three_runs.resolve(IDS[1]) == IDS[1]
    assert three_runs.resolve("20261120") == IDS[0]
    assert three_runs.resolve("20261121T090000Z-bbc") == IDS[2]


def test_resolve_ambiguous_prefix(three_runs):
    with pytest.raises(RunNotFoundError) as info:
        three_runs.resolve("20261121")
    err = info.value
    assert err.ref == "20261121"
    assert err.hint
    assert IDS[1] in str(err) and IDS[2] in str(err)
    assert "\n" not in str(err)


def test_resolve_unknown_ref(three_runs):
    with pytest.raises(RunNotFoundError) as info:
        three_runs.resolve("2019")
    assert info.value.ref == "2019"
    assert info.value.hint
    assert "\n" not in str(info.value)


def test_resolve_in_an_empty_store(store):
    with pytest.raises(RunNotFoundError) as info:
        store.resolve("latest")
    assert info.value.hint
    assert info.value.ref == "latest"


@pytest.mark.parametrize("case", ["integrity", "resolve", "read_record"])
def test_store_errors_carry_the_store_url(store, case):
    if case == "integrity":
        stored = store.put_bytes(b"abc")
        store.fs.pipe_file(_full_path(store, stored["key"]), b"abd")
        call = lambda: store.get_bytes(stored["sha256"])  # noqa: E731
    elif case == "resolve":
        call = lambda: store.resolve("latest")  # noqa: E731
    else:
        call = lambda: store.read_record(IDS[0])  # noqa: E731
    with pytest.raises(StoreError) as info:
        call()
    assert info.value.url == store.url


# -- keys under a run --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../evil", "a/b", "..", ".", "x\n", "", "../../objects/sha256/ab/cd", "/etc/passwd", "a\\..\\b", "%2E%2E"],
)
def test_run_key_never_escapes_the_run(name):
    run_id = IDS[0]
    key = Store.run_key(run_id, "notebooks", name)
    segments = key.split("/")
    assert len(segments) == 4, key
    assert segments[:3] == ["runs", run_id, "notebooks"]
    assert all(segment not in ("", ".", "..") for segment in segments), key
    assert not any(ch in key for ch in "\n\r\x00"), key


def test_run_key_keeps_plain_names_readable():
    assert Store.run_key(IDS[0], "notebooks", "train.ipynb") == f"runs/{IDS[0]}/notebooks/train.ipynb"
    assert Store.run_key(IDS[0], "record.json") == f"runs/{IDS[0]}/record.json"


def test_run_key_is_one_to_one():
    names = ["a/b", "a%2Fb", "..", "%2E%2E", ".", "", "x\n", "x"]
    keys = {Store.run_key(IDS[0], name) for name in names}
    assert len(keys) == len(names)


def test_safe_part_is_one_segment():
    for name in ["../evil", "a/b", "..", "x\n"]:
        part = safe_part(name)
        assert "/" not in part and part not in ("..", ".", "")


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "x\n", "../../../outside"])
def test_writing_under_a_hostile_name_stays_under_the_run(store, name):
    run_id = IDS[0]
    store.write_key(Store.run_key(run_id, "notebooks", name), b"nb")
    keys = _keys(store)
    assert len(keys) == 1
    assert keys[0].startswith(f"runs/{run_id}/notebooks/")
    assert len(keys[0].split("/")) == 4


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "latest",
        "20261122T143308Z",
        "20261122T143308Z-A1B2C3",
        "20261122T143308Z-a1b2c",
        "20261122T143308Z-a1b2c3/..",
        "../20261122T143308Z-a1b2c3",
        " 20261122T143308Z-a1b2c3",
        "20261122-143308Z-a1b2c3",
    ],
)
def test_check_run_id_rejects_bad_ids(bad):
    with pytest.raises(RunNotFoundError) as info:
        check_run_id(bad)
    assert info.value.hint
    with pytest.raises(RunNotFoundError):
        Store.run_key(bad, "record.json")


def test_check_run_id_rejects_a_trailing_newline():
    with pytest.raises(RunNotFoundError):
        check_run_id(IDS[0] + "\n")


def test_check_run_id_accepts_a_good_id():
    assert check_run_id(IDS[3]) == IDS[3]


def test_write_record_refuses_a_bad_run_id(store):
    with pytest.raises(RunNotFoundError):
        store.write_record(_record("../../etc"))
    assert _keys(store) == []


@pytest.mark.parametrize("garbage", [b"{not json", b"[1, 2]", b'{"run_id": "x", "tasks": "nope"}'])
def test_a_corrupt_record_is_a_one_line_error_naming_the_run(store, garbage):
    run_id = "20261122T143308Z-a1b2c3"
    store.write_record(_record(run_id))
    store.write_key(Store.run_key(run_id, "record.json"), garbage)
    for read in (lambda: store.read_record(run_id), lambda: store.read_records([run_id])):
        with pytest.raises(StoreError) as err:
            read()
        assert f"run {run_id}: its record.json" in str(err.value) and "corrupt" in str(err.value)
        assert "\n" not in str(err.value)


def test_resolve_latest_tilde_n(three_runs, store):
    newest_first = store.run_ids()
    assert [store.resolve(f"latest~{n}") for n in range(len(newest_first))] == newest_first
    with pytest.raises(RunNotFoundError, match=f"'latest~{len(newest_first)}': store .* has {len(newest_first)} run"):
        store.resolve(f"latest~{len(newest_first)}")


# -- the layout marker (store.json) and conditional creates ---------------------------


def test_layout_marker_is_written_on_first_write_only(store):
    assert store.layout() is None  # reading an empty store creates nothing
    assert not store.exists(LAYOUT_KEY)
    store.put_bytes(b"first")
    marker = json.loads(store.read_key(LAYOUT_KEY))
    assert marker["layout"] == LAYOUT and marker["created_by"].startswith("nbprod ")
    assert marker["created_at"].endswith("Z")
    store.write_record(_record("20261120T080000Z-aaaaaa"))
    assert json.loads(store.read_key(LAYOUT_KEY)) == marker  # never rewritten


def test_a_newer_layout_is_a_one_line_error_naming_it(store):
    store.write_key(LAYOUT_KEY, json.dumps({"layout": LAYOUT + 1, "created_by": "nbprod 9"}).encode())
    fresh = type(store)(store.url) if store.url.startswith(("memory://", "/")) else store
    fresh._layout = None
    with pytest.raises(StoreError) as err:
        fresh.put_bytes(b"x")
    assert f"layout {LAYOUT + 1}, newer than this nbprod reads ({LAYOUT})" in str(err.value)
    assert "\n" not in str(err.value) and err.value.exit_code == 3


def test_create_key_has_exactly_one_winner(store):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: store.create_key("models/m/events/1.json", b"writer %d" % i), range(16)))
    assert won.count(True) == 1
    assert store.read_key("models/m/events/1.json") == b"writer %d" % won.index(True)


def test_a_store_that_refuses_the_marker_still_records(store, monkeypatch):
    """A role allowed only runs/ and objects/, or a server without conditional writes:
    the marker is a guard, not a precondition."""
    def refuse(self, key, data):
        raise StoreError(f"access denied writing {key}")

    monkeypatch.setattr(type(store), "create_key", refuse)
    store.put_bytes(b"recorded anyway")
    store.write_record(_record("20261120T080000Z-aaaaaa"))
    assert store.read_record("20261120T080000Z-aaaaaa").run_id == "20261120T080000Z-aaaaaa"
    assert not store.exists(LAYOUT_KEY)


def test_create_key_without_hard_links_falls_back_to_exclusive_create(tmp_path, monkeypatch):
    import errno
    import os

    store = Store(str(tmp_path / "store"))

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert store.create_key("models/m/events/1.json", b"first") is True
    assert store.create_key("models/m/events/1.json", b"second") is False
    assert store.read_key("models/m/events/1.json") == b"first"
    assert [p.name for p in (tmp_path / "store" / "models" / "m" / "events").iterdir()] == ["1.json"]  # no temp left
