"""``nbprod store verify`` and ``nbprod store gc``: trust what is in the store, and prune it.

verify: every object a record references (products, large scraps) and every
executed notebook it names must exist with the recorded size and hash. Reads
are streamed and hashed, never trusted by name; a listed run without its
record is reported too. Objects shared by many runs are checked once.

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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import IntegrityError
from ..schema import RUN_ID
from .core import Store
from .pointers import referenced_objects

WORKERS = 8  # concurrent object checks (S3 requests are latency-bound)


@dataclass(frozen=True)
class VerifyResult:
    """What ``store verify`` found: ``problems`` are ``{run_id, task, what, key, problem}``."""

    url: str
    runs: int
    objects: int
    bytes: int
    problems: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def checked(self) -> str:
        return f"{self.runs} runs, {self.objects} objects ({self.bytes / 1e6:.2f} MB)"

    def raise_for_problems(self) -> None:
        """An :class:`IntegrityError` (exit 3) when anything is missing or corrupt."""
        if self.problems:
            bad = len({p["key"] for p in self.problems})
            raise IntegrityError(
                f"store {self.url}: {bad} of {self.objects} objects missing or corrupt in {self.checked}",
                hint="re-run the runs named above to store them again",
                url=self.url,
            )


@dataclass(frozen=True)
class Garbage:
    """What gc would remove: ``candidates`` are ``{key, size, age_s, why}``."""

    candidates: list[dict[str, Any]]
    quarantined: int
    referenced: int
    runs: int

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
    """Check runs' objects (every one a record references, once, streamed and hashed)."""
    ids = run_ids if run_ids is not None else store.run_ids()
    records = store.read_records(ids)
    problems: list[dict[str, Any]] = [
        {"run_id": i, "task": None, "what": "record", "key": Store.run_key(i, "record.json"), "problem": "missing"}
        for i in ids
        if i not in records
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
        if item["size"] is not None and size != item["size"]:
            return item, f"size {size} bytes, recorded {item['size']}", size
        if hashes and item["sha256"]:
            actual, _ = store.hash_key(item["key"])
            if actual != item["sha256"]:
                return item, f"corrupt: sha256 {actual[:12]}..., recorded {item['sha256'][:12]}...", size
        return item, None, size

    total = 0
    items = list(checks.values())
    step = max(1, len(items) // 10)
    with ThreadPoolExecutor(max_workers=WORKERS if not store.local else 2) as pool:
        for number, (item, problem, size) in enumerate(pool.map(examine, items), 1):
            total += size
            if problem:
                for run_id, task, what in users[item["key"]]:
                    problems.append(
                        {"run_id": run_id, "task": task, "what": what, "key": item["key"], "problem": problem}
                    )
            if number % step == 0 or number == len(items):
                log(f"nbprod: verify: {number}/{len(items)} objects checked")
    return VerifyResult(url=store.url, runs=len(ids), objects=len(items), bytes=total, problems=problems)


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
    records = store.read_records([i for i in with_record if RUN_ID.fullmatch(i)])
    referenced = {Store.object_key(o["sha256"]) for r in records.values() for o in r.objects()}
    referenced |= {nb["key"] for r in records.values() for nb in r.notebooks()}
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
    recorded = set(records)
    for row in run_keys:
        run_id = row["key"].split("/")[1] if row["key"].count("/") >= 2 else ""
        if ".tmp-" in row["key"]:
            consider(row, "unfinished write")
        elif run_id not in recorded and row["key"] not in referenced:
            consider(row, "run has no record (its recording was cut short)")
    quarantined = store.list_keys("quarantine")
    return Garbage(
        candidates=sorted(candidates, key=lambda c: c["key"]),
        quarantined=len(quarantined),
        referenced=len(referenced),
        runs=len(records),
    )


def collect(store: Store, candidates, log: Callable[[str], None] = print) -> int:
    """Delete the candidates garbage() found; returns the bytes freed."""
    freed = 0
    for number, item in enumerate(candidates, 1):
        store.delete_key(item["key"])
        freed += item["size"]
        if number % 100 == 0 or number == len(candidates):
            log(f"nbprod: gc: {number}/{len(candidates)} deleted")
    return freed
