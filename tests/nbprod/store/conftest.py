"""The store every test here runs against twice: a temp folder and the S3 server on 127.0.0.1
(test_store.py adds memory:// with a fixture of its own)."""

from __future__ import annotations

import uuid

import pytest

from nbprod.store import Store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3")
        return Store(f"s3://nbprod-test/t-{uuid.uuid4().hex[:8]}")
    return Store(str(tmp_path / "store"))
