"""The local spool: runs the store could not take, kept until they can be pushed.

A build that finishes while the store is down (endpoint unreachable, bucket
missing, credentials expired) must not lose its record, executed notebooks or
products. The recorder then writes the run into a local :class:`Store` (the
same layout and code as any store) under ``NBPROD_SPOOL/<hash of the store
URL>/``, and :func:`push` (``nbprod push``, or automatically at the next
``nbprod`` command and after the next recorded build) copies it to the store
in the order a direct write uses: objects first, record last. A run already in
the target is not written again, so pushing twice, or from two shells at
once, stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from ..errors import RecordExistsError
from ..files import atomic_write
from ..settings import Settings
from .core import Store

TARGET = "target.json"  # the store URL a spool folder is for


def spool_dir(settings: Settings, url: str) -> Path:
    digest = hashlib.sha256(_public_url(_absolute(url)).encode()).hexdigest()[:16]
    return Path(settings.spool) / digest


def _absolute(url: str) -> str:
    """A folder store by its absolute path: ``outputs/store`` of two projects are two stores."""
    if url.startswith("file://"):
        return "file://" + os.path.abspath(url[len("file://"):])
    return url if "://" in url else os.path.abspath(url)


def open_spool(settings: Settings, url: str) -> Store:
    """The spool store for the store ``url`` (created on first use)."""
    folder = spool_dir(settings, url)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / TARGET
    if not target.exists():  # written whole: a full disk leaves no half a target.json
        atomic_write(target, (json.dumps({"url": _public_url(_absolute(url))}) + "\n").encode())
    return Store(str(folder))


def spooled(settings: Settings) -> Iterator[tuple[str, Store, list[str]]]:
    """(store URL, spool store, run ids waiting) for every non-empty spool folder.

    Costs one ``stat`` when nothing was ever spooled, so every command can ask.
    """
    root = Path(settings.spool)
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if (p / TARGET).is_file()):
        try:
            url = json.loads((folder / TARGET).read_text())["url"]
        except (OSError, ValueError, KeyError):
            continue
        spool = Store(str(folder))
        ids = spool.run_ids()
        if ids:
            yield url, spool, ids


def pending_for(settings: Settings, url: str) -> tuple[Store, list[str]] | None:
    folder = spool_dir(settings, url)
    if not (folder / TARGET).is_file():
        return None
    spool = Store(str(folder))
    ids = spool.run_ids()
    return (spool, ids) if ids else None


def push(spool: Store, target: Store, log: Callable[[str], None] = print) -> list[str]:
    """Copy every spooled run to ``target``, oldest first; returns the ids pushed.

    Objects are uploaded by content (skipped when the target has them), then
    notebooks, then the record, which makes the run listed. The spool folder
    is removed once every run in it is in the target; a failure leaves it as
    it is, and pushing again resumes.
    """
    already = set(target.run_ids())
    pushed = []
    ids = sorted(spool.run_ids())
    for number, run_id in enumerate(ids, 1):
        if run_id in already:
            log(f"nbprod: push {number}/{len(ids)}: run {run_id} already in {target.url}")
            continue
        record = spool.read_record(run_id)
        uploaded = 0
        for obj in record.objects():
            local = spool._path(spool.object_key(obj["sha256"]))
            if Path(local).is_file():
                uploaded += target.put_file(local, obj["sha256"])["uploaded"]
        for nb in record.notebooks():
            local = spool._path(nb["key"])
            if not Path(local).is_file():
                continue
            if nb["key"].startswith("objects/"):
                uploaded += target.put_file(local, nb["sha256"])["uploaded"]
            else:  # records before notebooks were content-addressed
                target.write_key(nb["key"], spool.read_key(nb["key"]))
        try:
            target.write_record(record)
        except RecordExistsError:
            # its recording reached the store's record.json but not its summary, then went to
            # the spool as a second recording of the same run: the stored one is complete
            # (written after its objects), so it is the run; listing it finishes the push
            target.write_record(target.read_record(run_id))
            log(f"nbprod: push {number}/{len(ids)}: run {run_id} was in {target.url} without its summary: "
                "listed the stored record (the spooled copy is dropped)")
            pushed.append(run_id)
            continue
        pushed.append(run_id)
        log(
            f"nbprod: push {number}/{len(ids)}: run {run_id} ({record.status}) -> {target.url} "
            f"({uploaded} new objects)"
        )
    shutil.rmtree(spool.root, ignore_errors=True)
    return pushed


def _public_url(url: str) -> str:
    """The URL without user:password (never written anywhere)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def open_store(settings: Settings | None = None, log: Callable[[str], None] = print) -> Store:
    """The store of ``NBPROD_STORE``, after pushing runs spooled while it was down.

    Every command (and :mod:`nbprod.api`) that uses the store opens it here, so
    spooled runs go up at the next use. One ``stat`` when nothing is spooled; a
    push that fails only warns (through ``log``), and the caller still gets
    the store.
    """
    from ..errors import StoreError

    settings = settings or Settings.from_env()
    store = Store.from_settings(settings)
    if not Path(settings.spool).is_dir():
        return store
    waiting = pending_for(settings, settings.store)
    if waiting is None:
        return store
    spooled_store, ids = waiting
    log(f"nbprod: {len(ids)} run(s) spooled while {settings.store} was unavailable; pushing")
    try:
        push(spooled_store, store, log=log)
    except StoreError as err:
        log(f"nbprod: warning: spooled runs not pushed yet ({err}); `nbprod push` retries")
    return store


@dataclass(frozen=True)
class PushResult:
    """``nbprod push``: runs pushed, runs already there, and other stores with spooled runs."""

    url: str
    spooled: int  # runs that were waiting for this store
    pushed: tuple[str, ...]
    others: tuple[tuple[str, int], ...]  # (store URL, runs waiting) for other stores


def push_pending(settings: Settings | None = None, log: Callable[[str], None] = print) -> PushResult:
    """Push every run spooled for ``NBPROD_STORE`` (and say which other stores have some)."""
    settings = settings or Settings.from_env()
    waiting = pending_for(settings, settings.store)
    others = tuple((url, len(ids)) for url, _, ids in spooled(settings) if url != _absolute(settings.store))
    if waiting is None:
        return PushResult(url=settings.store, spooled=0, pushed=(), others=others)
    spool, ids = waiting
    pushed = push(spool, Store.from_settings(settings), log=log)
    return PushResult(url=settings.store, spooled=len(ids), pushed=tuple(pushed), others=others)
