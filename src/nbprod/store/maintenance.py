"""``nbprod store verify``, ``store gc`` and ``store reindex``: trust what is in the store, prune it, rebuild its index.

verify: every object a record references (products, large scraps) and every
executed notebook it names must exist with the recorded size and hash. Reads
are streamed and hashed, never trusted by name; a listed run without its
record is reported too, and so is a record that is not listed (no summary, in
no pack: ``reindex`` lists it again). Objects shared by many runs are checked
once. What is found corrupt (other bytes, or another size) is moved to
``quarantine/``: an upload skips a key that exists with the right size, so only
once it is aside does the next run that has those bytes store them again.

One corrupt record.json stops none of the three: that run is skipped with one
warning line and listed as unreadable (verify counts it as a problem; gc keeps
every object its bytes still name; reindex keeps its summary if it had one).

reindex: the index (loose summaries and packs) is derived data; this rebuilds
it from the records, as one pack superseding everything listed (the same
protocol as a compaction, :mod:`nbprod.store.packs`, so it is safe while runs
are being written). Listed runs without a record are no longer listed.

gc: objects no record references (nor any shared-product pointer under
``products/``) and older than a grace period are garbage:
the leftovers of runs whose recording was cut short (objects are uploaded
before the record that references them, so a killed run leaves unreferenced
objects, never a listed run with missing ones), and the notebooks of such
runs. The grace period protects runs being recorded right now: their objects
are uploaded before their record exists. It does not protect an object an
in-flight run found already stored (and so did not upload again) when that
object was garbage: run ``gc --delete`` when no build is recording, or with
a grace period longer than any build; ``verify`` names a run that lost an
object that way. Quarantined objects (``quarantine/``) are kept as evidence
and only counted.
"""

from __future__ import annotations

import dataclasses
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import IntegrityError
from ..schema import RUN_ID
from .core import Store
from .pointers import referenced_objects

WORKERS = 8  # concurrent object checks (S3 requests are latency-bound)
BATCH = 200  # records read at once (reindex, verify)
_SHA = re.compile(rb"[0-9a-f]{64}")


@dataclass(frozen=True)
class VerifyResult:
    """What ``store verify`` found: ``problems`` are ``{run_id, task, what, key, problem}``."""

    url: str
    runs: int
    objects: int
    bytes: int
    problems: list[dict[str, Any]]
    unreadable: list[str] = field(default_factory=list)  # runs whose record.json is corrupt
    unlisted: list[str] = field(default_factory=list)  # runs with a record, not listed
    quarantined: list[str] = field(default_factory=list)  # objects moved to quarantine/

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def checked(self) -> str:
        return f"{self.runs} runs, {self.objects} objects ({self.bytes / 1e6:.2f} MB)"

    def raise_for_problems(self) -> None:
        """An :class:`IntegrityError` (exit 3) when anything is missing or corrupt."""
        if self.problems:
            bad = len({p["key"] for p in self.problems if p["what"] != "record"})
            said = [f"{bad} of {self.objects} objects missing or corrupt"] if bad else []
            said += [f"{len(self.unreadable)} unreadable record(s)"] if self.unreadable else []
            said += [f"{len(self.unlisted)} record(s) not listed"] if self.unlisted else []
            missing = len({p["run_id"] for p in self.problems if p["what"] == "record" and p["problem"] == "missing"})
            said += [f"{missing} listed run(s) without a record"] if missing else []
            hints = ["re-run the runs named above to store them again"] if bad else []
            hints += ["run `nbprod store reindex` to list them"] if self.unlisted else []
            hints += ["restore or delete the records named above"] if self.unreadable or missing else []
            raise IntegrityError(
                f"store {self.url}: {', '.join(said)} in {self.checked}",
                hint="; ".join(hints) + (" (corrupt objects were moved to quarantine/)" if self.quarantined else ""),
                url=self.url,
            )


@dataclass(frozen=True)
class Garbage:
    """What gc would remove: ``candidates`` are ``{key, size, age_s, why}``."""

    candidates: list[dict[str, Any]]
    quarantined: int
    referenced: int
    runs: int
    unreadable: dict[str, str] = field(default_factory=dict)  # run id -> why its record could not be read

    @property
    def size(self) -> int:
        return sum(c["size"] for c in self.candidates)


def verify(
    store: Store,
    run_ids: list[str] | None = None,
    *,
    hashes: bool = True,
    log: Callable[[str], None] = print,
) -> VerifyResult:
    """Check runs' objects (every one a record references, once, streamed and hashed),
    and, for the whole store (``run_ids`` None), that every record is listed."""
    everything = run_ids is None
    ids = store.run_ids() if everything else list(run_ids)
    # records nothing lists: no summary and in no pack (a run that is being written
    # has its summary a moment after its record: listed again before it is reported)
    unlisted = sorted(set(store.recorded_ids()) - set(ids)) if everything else []
    if unlisted:
        unlisted = sorted(set(unlisted) - set(store.run_ids()))
    unreadable: dict[str, str] = {}
    records = {}
    wanted = ids + unlisted
    for start in range(0, len(wanted), BATCH):
        records.update(store.read_records(wanted[start:start + BATCH], unreadable=unreadable))
    for reason in unreadable.values():
        log(f"nbprod: warning: {reason}")
    problems: list[dict[str, Any]] = [
        {"run_id": i, "task": None, "what": "record", "key": Store.run_key(i, "record.json"),
         "problem": "missing" if i not in unreadable else "unreadable (corrupt JSON): skipped"}
        for i in ids
        if i not in records
    ]
    problems += [
        {"run_id": i, "task": None, "what": "record", "key": Store.run_key(i, "record.json"),
         "problem": "not listed (no summary, in no pack): `nbprod store reindex` lists it"}
        for i in unlisted
    ]
    # one check per stored thing, however many runs reference it
    checks: dict[str, dict[str, Any]] = {}
    users: dict[str, list[tuple[str, str, str]]] = {}
    for run_id, record in sorted(records.items()):
        for obj in record.objects():
            key = Store.object_key(obj["sha256"])
            checks.setdefault(key, {"key": key, "sha256": obj["sha256"], "size": obj.get("size")})
            users.setdefault(key, []).append((run_id, obj["task"], obj["what"]))
        for nb in record.notebooks():
            checks.setdefault(nb["key"], {"key": nb["key"], "sha256": nb.get("sha256"), "size": nb.get("size")})
            users.setdefault(nb["key"], []).append((run_id, nb["task"], "executed notebook"))

    def examine(item: dict[str, Any]) -> tuple[dict[str, Any], str | None, int]:
        size = store.key_size(item["key"])
        if size is None:
            return item, "missing", 0
        problem = None
        if item["size"] is not None and size != item["size"]:
            problem = f"size {size} bytes, recorded {item['size']}"
        elif hashes and item["sha256"]:
            actual, _ = store.hash_key(item["key"])
            if actual != item["sha256"]:
                problem = f"corrupt: sha256 {actual[:12]}..., recorded {item['sha256'][:12]}..."
        if problem and item["key"].startswith("objects/"):  # content-addressed: the next run stores it again
            problem += f"; moved to {store.quarantine_key(item['key'])}"
        return item, problem, size

    total, quarantined = 0, []
    items = list(checks.values())
    step = max(1, len(items) // 10)
    with ThreadPoolExecutor(max_workers=WORKERS if not store.local else 2) as pool:
        for number, (item, problem, size) in enumerate(pool.map(examine, items), 1):
            total += size
            if problem:
                if "; moved to quarantine/" in problem:
                    quarantined.append(item["key"])
                for run_id, task, what in users[item["key"]]:
                    problems.append(
                        {"run_id": run_id, "task": task, "what": what, "key": item["key"], "problem": problem}
                    )
            if number % step == 0 or number == len(items):
                log(f"nbprod: verify: {number}/{len(items)} objects checked")
    return VerifyResult(url=store.url, runs=len(ids) + len(unlisted), objects=len(items), bytes=total,
                        problems=problems, unreadable=sorted(unreadable), unlisted=unlisted,
                        quarantined=sorted(quarantined))


def verify_runs(store: Store, refs=(), *, hashes: bool = True, log: Callable[[str], None] = print) -> VerifyResult:
    """``nbprod store verify``: :func:`verify` of the runs ``refs`` name (all when none)."""
    ids = [store.resolve(r) for r in refs] if refs else None
    return verify(store, ids, hashes=hashes, log=log)


def garbage(store: Store, grace_s: float, *, now: float | None = None) -> Garbage:
    """What gc would remove: unreferenced objects older than ``grace_s``."""
    now = time.time() if now is None else now
    run_keys = store.list_keys("runs")
    with_record = sorted(
        {k.split("/")[1] for k in (r["key"] for r in run_keys) if k.endswith("/record.json")}
    )
    unreadable: dict[str, str] = {}
    records = store.read_records([i for i in with_record if RUN_ID.fullmatch(i)], unreadable=unreadable)
    referenced = {Store.object_key(o["sha256"]) for r in records.values() for o in r.objects()}
    referenced |= {nb["key"] for r in records.values() for nb in r.notebooks()}
    referenced |= {key for i in unreadable for key in _salvaged_references(store, i)}
    referenced |= referenced_objects(store)
    candidates = []

    def consider(row: dict[str, Any], why: str) -> None:
        age = None if row["mtime"] is None else now - row["mtime"]
        if age is None or age < grace_s:
            return  # too young (or of unknown age): may belong to a run being recorded
        candidates.append({"key": row["key"], "size": row["size"] or 0, "age_s": round(age), "why": why})

    for row in store.list_keys("objects"):
        if ".tmp-" in row["key"]:
            consider(row, "unfinished upload")
        elif row["key"] not in referenced:
            consider(row, "no record references it")
    recorded = set(records) | set(unreadable)  # an unreadable run keeps its own keys too
    for row in run_keys:
        run_id = row["key"].split("/")[1] if row["key"].count("/") >= 2 else ""
        if ".tmp-" in row["key"]:
            consider(row, "unfinished write")
        elif run_id not in recorded and row["key"] not in referenced:
            consider(row, "run has no record (its recording was cut short)")
    candidates += store.incomplete_uploads(grace_s, now=now)  # S3 multipart uploads never completed
    quarantined = store.list_keys("quarantine")
    return Garbage(
        candidates=sorted(candidates, key=lambda c: c["key"]),
        quarantined=len(quarantined),
        referenced=len(referenced),
        runs=len(records),
        unreadable=unreadable,
    )


def _salvaged_references(store: Store, run_id: str) -> set[str]:
    """The object keys a corrupt record's bytes still name (every sha256 in them):
    gc must not delete what a run it cannot read may reference."""
    data = store.read_key(Store.run_key(run_id, "record.json"))
    return {Store.object_key(sha.decode()) for sha in _SHA.findall(data)}


def collect(store: Store, candidates, log: Callable[[str], None] = print) -> int:
    """Delete the candidates garbage() found; returns the bytes freed."""
    freed = 0
    for number, item in enumerate(candidates, 1):
        store.abort_upload(item["key"], item["upload_id"]) if item.get("upload_id") else store.delete_key(item["key"])
        freed += item["size"]
        if number % 100 == 0 or number == len(candidates):
            log(f"nbprod: gc: {number}/{len(candidates)} deleted")
    return freed


@dataclass(frozen=True)
class Reindexed:
    """What ``store reindex`` did: runs listed now, records that were not listed,
    listed runs without a record (no longer listed), unreadable records (kept
    listed when they were), and the pack written (None: nothing to index)."""

    url: str
    runs: int
    added: int
    dropped: int
    unreadable: list[str]
    pack: str | None


def reindex(store: Store, log: Callable[[str], None] = print) -> Reindexed:
    """Rebuild the index from the records: one pack of every record's summary."""
    snap = store.snapshot(read_loose=True, lenient=True)  # before the records: module docstring of packs
    for key in snap.corrupt:
        log(f"nbprod: warning: {key} in store {store.url} is corrupt: rebuilt from the records")
    listed = {**{i: row for i, row in snap.loose.items() if row}, **snap.packed}
    recorded = store.recorded_ids()
    rows: dict[str, dict[str, Any]] = {}
    unreadable: dict[str, str] = {}
    for start in range(0, len(recorded), BATCH):
        found = store.read_records(recorded[start:start + BATCH], unreadable=unreadable)
        rows.update({run_id: record.summary() for run_id, record in found.items()})
    for run_id, reason in unreadable.items():
        log(f"nbprod: warning: {reason}")
        if run_id in listed:
            rows[run_id] = listed[run_id]
    pack = store.write_pack(rows, snap)
    return Reindexed(url=store.url, runs=len(rows), added=len(set(rows) - set(snap.ids)),
                     dropped=len(set(snap.ids) - set(rows)), unreadable=sorted(unreadable), pack=pack)
