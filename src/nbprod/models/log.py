"""A model's event log: append-only, hash-chained, each event created only if absent.

Why a log and not a pointer: an alias overwritten in place (MLflow's registry) keeps no
history and lets the last of two writers win. Here every change is a new object
``models/<name>/events/<n>.json`` created only if ``n`` is free (``Store.create_key``:
``If-None-Match: *`` on S3, ``os.link`` on a folder), so of two writers that read the
same log exactly one gets ``n + 1``; the other reads the log again and decides again
(:func:`append`). Each event holds the sha256 of the bytes of the one before it, so an
edited or deleted event breaks the chain (:func:`verify`); ``head.json``, rewritten after
each append, names the last event a writer saw, so deleting the newest events shows too.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from ..errors import StoreError
from ..schema import isoformat, parse_time, utcnow

WIDTH = 8  # events/00000001.json: keys sort as numbers
_EVENT = re.compile(r"(\d+)\.json")
ATTEMPTS = 64  # appends lost in a row before giving up (each one means another writer won)


def prefix(name: str) -> str:
    return f"models/{name}"


def event_key(name: str, n: int) -> str:
    return f"{prefix(name)}/events/{n:0{WIDTH}d}.json"


def head_key(name: str) -> str:
    return f"{prefix(name)}/head.json"


def dumps(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Log:
    """The events of one model as read: oldest first, with each event's own hash."""

    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)  # numbers missing below the last event

    @property
    def n(self) -> int:
        return self.events[-1]["n"] if self.events else 0

    @property
    def head(self) -> str | None:
        return self.hashes[-1] if self.hashes else None


def names(store) -> list[str]:
    """The models the store holds a log for."""
    keys = [row["key"] for row in store.list_keys("models")]
    return sorted({k.split("/")[1] for k in keys if k.count("/") >= 2})  # models/<name>/...


def read(store, name: str, *, cached: bool = True) -> Log:
    """Every event of ``name``: one LIST, then the events not in the local cache fetched
    concurrently. An event never changes once created, so on an object store each one is
    fetched once and kept (:func:`_cache`), and used while its size is the listed one; the
    newest event is always fetched, and when the cached ones do not chain to it (a store
    restored from a backup, an edit) the cache is dropped and the whole log fetched again.
    ``cached=False``: all from the store (verify)."""
    sizes = {row["key"]: row.get("size") for row in store.list_keys(f"{prefix(name)}/events/")
             if _EVENT.fullmatch(row["key"].rsplit("/", 1)[-1])}
    keys = sorted(sizes)
    cache = _cache(store, name) if cached else None
    blobs = {}
    for key in keys[:-1] if cache is not None else ():  # the newest always from the store: what a new event chains to
        kept = cache / key.rsplit("/", 1)[-1]
        if kept.is_file() and (sizes[key] is None or kept.stat().st_size == sizes[key]):
            blobs[key] = kept.read_bytes()
    fetched = store.read_keys([k for k in keys if k not in blobs])
    blobs.update(fetched)
    log = Log(name)
    for key in keys:
        if key not in blobs:
            continue  # deleted between the LIST and the GET: verify reports the gap
        log.events.append(_decode(store, key, blobs[key]))
        log.hashes.append(sha256(blobs[key]))
    numbers = {e.get("n") for e in log.events}
    log.gaps = [n for n in range(1, log.n + 1) if n not in numbers]
    if cache is not None:
        if len(fetched) < len(blobs) and not _chained(log):  # a stale cache (or a changed store)
            import shutil

            shutil.rmtree(cache, ignore_errors=True)
            return read(store, name, cached=False)
        _keep(cache, fetched)
    return log


def _chained(log: Log) -> bool:
    """Each event names the hash of the one before it (where both are there)."""
    pairs = zip(log.events, log.hashes, log.events[1:])
    return all(after.get("prev") == digest for before, digest, after in pairs if after["n"] == before["n"] + 1)


def _cache(store, name: str):
    """The local folder of ``name``'s events from this store (object stores only: a folder
    store is as near as a cache), keyed by the store's URL and its ``store.json`` creation
    time (a store deleted and created again at the same URL gets another folder)."""
    if store.local:
        return None
    from pathlib import Path

    from ..settings import Settings

    layout = store.layout() or {}
    identity = sha256(f"{store.url}\n{layout.get('created_at')}".encode())[:20]
    return Path(Settings.from_env().cache).parent / "models" / identity / name


def _keep(cache, fetched: dict[str, bytes]) -> None:
    from ..files import replace_atomically

    for key, data in fetched.items():
        try:
            replace_atomically(cache / key.rsplit("/", 1)[-1], lambda tmp, data=data: tmp.write_bytes(data))
        except OSError:
            return  # a cache that cannot be written costs requests, nothing else


def _decode(store, key: str, data: bytes) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StoreError(f"model event {key} in store {store.url} is not JSON ({err})",
                         hint="run `nbprod models verify` to see what else changed", url=store.url) from None
    number = int(_EVENT.fullmatch(key.rsplit("/", 1)[-1]).group(1))
    if not isinstance(event, dict) or event.get("n") != number:
        raise StoreError(f"model event {key} in store {store.url} does not hold event {number}",
                         hint="run `nbprod models verify`", url=store.url)
    return event


def append(store, name: str, decide: Callable[[Log], dict[str, Any] | None], *, actor: str,
           log: Log | None = None) -> tuple[Log, dict[str, Any] | None]:
    """Append the event ``decide(log)`` returns (None: nothing to append) as event ``n + 1``.

    When another writer took ``n + 1`` first, the log is read again and ``decide`` asked
    again: it sees the other writer's event and may refuse (raise), change its mind (None)
    or try again. ``log``: the log as just read, decided on first (one
    read less). Returns the log as it was decided on, and the event.
    """
    for _ in range(ATTEMPTS):
        log = log if log is not None else read(store, name)
        event = decide(log)
        if event is None:
            return log, None
        event = {**event, "n": log.n + 1, "prev": log.head, "model": name, "actor": actor,
                 "time": event.get("time") or _time(log), "id": uuid.uuid4().hex}
        data = dumps(event)
        if store.create_key(event_key(name, event["n"]), data) or _ours(store, name, event["n"], data):
            _advance_head(store, name, event["n"], sha256(data))
            cache = _cache(store, name)
            if cache is not None:
                _keep(cache, {event_key(name, event["n"]): data})
            log.events.append(event)
            log.hashes.append(sha256(data))
            return log, event
        log = None
    raise StoreError(f"model {name}: {ATTEMPTS} writers appended to its log before this one could",
                     hint="try again", url=store.url)


def _time(log: Log) -> str:
    """Now, rounded up to the millisecond and never before the event it follows: ``at`` and
    the timeline read times in log order, whatever the writers' clocks say."""
    now = utcnow()
    now += timedelta(microseconds=(1000 - now.microsecond % 1000) % 1000)
    before = parse_time(log.events[-1].get("time")) if log.events else None
    return isoformat(max(now, before) if before else now)


def _ours(store, name: str, n: int, data: bytes) -> bool:
    """A create the store did but the client saw fail (a timeout, then a retry answered 412):
    the event there is ours when it holds our bytes (each event carries a random ``id``)."""
    return store.read_keys([event_key(name, n)]).get(event_key(name, n)) == data


def _advance_head(store, name: str, n: int, digest: str) -> None:
    """Best effort: ``head.json`` never moves back (a slower writer may try), and a store
    error here loses nothing (the event is the truth; head only helps verify)."""
    try:
        current = _read_head(store, name)
        if current and current.get("n", 0) >= n:
            return
        store.write_key(head_key(name), dumps({"n": n, "sha256": digest}))
    except StoreError:
        pass


def _read_head(store, name: str) -> dict[str, Any] | None:
    blob = store.read_keys([head_key(name)]).get(head_key(name))
    if blob is None:
        return None
    try:
        head = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"n": None, "sha256": None}
    return head if isinstance(head, dict) else {"n": None, "sha256": None}


def verify(store, name: str) -> list[str]:
    """What is wrong with the log of ``name``, one sentence each ([] when the chain holds),
    read from the store itself (never the local cache)."""
    try:
        log = read(store, name, cached=False)
    except StoreError as err:
        if "not JSON" not in err.message and "does not hold event" not in err.message:
            raise
        return [err.message]
    problems = [f"event {n} is missing (deleted?)" for n in log.gaps]
    if not log.events:
        problems.append("the model has files but no events (its events/ were deleted?)")
    by_n = {e["n"]: (e, h) for e, h in zip(log.events, log.hashes)}
    for n, (event, _) in sorted(by_n.items()):
        before = by_n.get(n - 1)
        if n == 1 and event.get("prev") is not None:
            problems.append("event 1 names a previous event: the log's start was removed")
        elif before is not None and event.get("prev") != before[1]:
            problems.append(f"event {n - 1} was changed after event {n} was written "
                            f"(its sha256 is {before[1][:12]}..., event {n} recorded {str(event.get('prev'))[:12]}...)")
        if event.get("model") != name:
            problems.append(f"event {n} belongs to model {event.get('model')!r}, not {name}")
    head = _read_head(store, name)
    if head is None and log.events:
        problems.append(f"head.json is missing (the log has {log.n} events): it was deleted, and "
                        "with it maybe the newest events")
    if head is not None:
        if not isinstance(head.get("n"), int):
            problems.append("head.json is not readable")
        elif head["n"] > log.n:
            problems.append(f"head.json names event {head['n']} but the log ends at {log.n}: "
                            f"events {log.n + 1}..{head['n']} were deleted")
        elif head["n"] in by_n and by_n[head["n"]][1] != head.get("sha256"):
            problems.append(f"event {head['n']} was changed after it was written (head.json holds its hash)")
    return problems
