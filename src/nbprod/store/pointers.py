"""Pointers of shared products: ``products/<path>`` -> the objects holding their bytes.

A product shared across machines (:mod:`nbprod.engine.products`, the ploomber
File client) is stored by content like a run's artifacts; its key under
``products/`` holds a small JSON pointer, ``{sha256, size}`` for a file or
``{files: {relative path: {sha256, size}}}`` for a folder. This module is the
pointer format and nothing else: the client writes pointers, ``store gc`` keeps
every object one names.
"""

from __future__ import annotations

import json

from ..errors import StoreError

PREFIX = "products"
POINTER = "nbprod_product"


def pointer_bytes(entry: dict) -> bytes:
    return json.dumps({POINTER: 1, **entry}, sort_keys=True).encode()


def read_pointer(store, key: str) -> dict:
    """The pointer stored under ``products/...``: ``{sha256, size}`` or ``{files: {rel: {sha256, size}}}``."""
    data = store.read_key(key)
    try:
        pointer = json.loads(data)
        if not isinstance(pointer, dict) or pointer.get(POINTER) != 1:
            raise ValueError("not a product pointer")
    except ValueError as err:
        raise StoreError(
            f"{key} in store {store.url} is not a product pointer written by nbprod ({err})",
            hint="re-run the task that makes it to store it again",
            url=store.url,
        ) from err
    return pointer


def pointer_objects(pointer: dict) -> list[dict]:
    """The ``{sha256, size}`` objects a pointer references."""
    return list(pointer["files"].values()) if "files" in pointer else [pointer]


def referenced_objects(store) -> set[str]:
    """Object keys named by every pointer under ``products/`` (what gc must keep).
    Keys that are not pointers (the engine's metadata files, cut-short writes) name nothing."""
    keys = set()
    for row in store.list_keys(PREFIX):
        if ".tmp-" in row["key"].rsplit("/", 1)[-1]:
            continue
        try:
            pointer = read_pointer(store, row["key"])
        except StoreError:
            continue
        keys |= {store.object_key(o["sha256"]) for o in pointer_objects(pointer)}
    return keys
