"""The record.json upload itself cut mid-way (not only the summary's): the run is not
listed, and nothing in the store looks like a complete run.

Real HTTP: moto's server behind a loopback proxy (tests/faultproxy.py) that dies while
it receives the PUT of runs/<id>/record.json.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
import s3fs
from faultproxy import FaultProxy, proxy  # noqa: F401  (the fixture)
from runfactory import store_run

from nbprod.errors import RunNotFoundError, StoreUnreachableError
from nbprod.store import Store, maintenance




def test_record_upload_cut_leaves_no_listed_and_no_complete_run(s3, proxy, tmp_path):
    url = f"s3://nbprod-test/cut-{uuid.uuid4().hex[:8]}"
    proxy.cut_on_put(1, b"/record.json")
    with pytest.raises(StoreUnreachableError):
        store_run(Store(url, timeout=2), tmp_path)
    assert proxy.cut_done.is_set()  # the cut happened on the record's PUT, not before it

    store = Store(url, client_kwargs={"endpoint_url": s3.endpoint})  # the same store, without the proxy
    runs = [row["key"] for row in store.list_keys("runs")]
    assert runs and not [k for k in runs if k.endswith("record.json")]  # its notebook went up, no record
    assert store.list_keys("summaries") == [] and store.list_keys("index") == []
    assert store.run_ids() == [] and store.summaries() == []
    with pytest.raises(RunNotFoundError):
        store.resolve("latest")
    checked = maintenance.verify(store, log=lambda line: None)
    assert (checked.runs, checked.problems, checked.unlisted) == (0, [], [])  # no record anywhere to call incomplete
    leftovers = maintenance.garbage(store, 0, now=2e9)  # what the cut run left: collectable, nothing else
    assert {c["why"] for c in leftovers.candidates} == {"no record references it",
                                                        "run has no record (its recording was cut short)"}
    assert leftovers.runs == 0
