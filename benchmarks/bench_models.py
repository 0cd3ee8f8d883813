"""Benchmark: what the model registry costs, on a folder and on moto's S3 server (own process, loopback).

Prints figures (no pass/fail):

1. promote latency: ``registry.promote`` then ``registry.rollback`` in turn on a log of
   ``--events`` sizes (median of ``--repeat``; request counts on S3), side by side with what
   a hand-rolled registry does instead: one PUT of an alias file (``production.json``,
   last writer wins, no history, no guard);
2. ``nbprod models history penguins`` with 1,000 events (CLI wall, incl. interpreter
   start-up; and in-process ``views.history``), and ``nbprod models verify``;
3. the gate on the reference holdout: see ``benchmarks/bench_gates.py``.

Logs are filled by writing chained events directly (the registry's own ``append`` reads the
whole log before each event, which is what part 1 measures).

Usage: python benchmarks/bench_models.py [--repeat 5] [--events 10,100,1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_store import BIN, BUCKET, S3Server, boto, env_for, fmt_ops, log  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))


def fill(store, events: int) -> None:
    """A log of ``events`` events: versions registered and evaluated, production moved now and then."""
    from registrykit import manifest, report

    from nbprod.models import log as chain

    bodies, number, production = [], 0, None
    while len(bodies) < events:
        number += 1
        bodies.append({"type": "registered", "version": number,
                       "manifest": {**manifest(store, seed=number, model=f"model {number}".encode()), "version": number}})
        bodies.append({"type": "evaluated", "version": number, "run_id": None, "evidence": str(number),
                       "gates": report("passed", baseline=production), "verdict": "passed"})
        if number % 5 == 1:
            bodies.append({"type": "promoted", "alias": "production", "from": production, "to": number,
                           "reason": "bench", "baseline": production, "forced": False, "verdict": "passed"})
            production = number
    prev, blobs = None, []
    for n, body in enumerate(bodies[:events], 1):
        data = chain.dumps({**body, "n": n, "prev": prev, "model": "penguins", "actor": "bench@localhost",
                            "time": f"2026-12-01T00:{n // 60 % 60:02d}:{n % 60:02d}.000Z"})
        prev = chain.sha256(data)
        blobs.append((chain.event_key("penguins", n), data))
    blobs += [(f"{chain.prefix('penguins')}/versions/{b['version']}.json", chain.dumps(b["manifest"]))
              for b in bodies[:events] if b["type"] == "registered"]  # as registry.register keeps them
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: store.create_key(*kv), blobs))
    store.write_key(chain.head_key("penguins"), chain.dumps({"n": events, "sha256": prev}))


def bench_promote(label: str, url: str, sizes: list[int], repeat: int, server) -> None:
    from nbprod.models import registry
    from nbprod.store import Store

    print(f"\n## 1. promote latency, {label}")
    print("events in log | promote (median) | rollback (median) | requests per promote | alias file PUT (median)")
    for size in sizes:
        store = Store(f"{url}/promote-{size}")
        fill(store, size)
        found = registry.open_registry(store, "penguins")
        current, other = found.aliases["production"], max(found.versions)
        from registrykit import report

        registry.evaluate(store, "penguins", other, report("passed", baseline=current), run_id=None,
                          evidence="bench-again")
        promotes, rollbacks, requests = [], [], None
        for i in range(repeat):
            if server and i == 0:
                server.counts(reset=True)
            started = time.perf_counter()
            registry.promote(store, "penguins", other, reason="bench")
            promotes.append(time.perf_counter() - started)
            if server and i == 0:
                requests = fmt_ops(server.counts(reset=True))
            started = time.perf_counter()
            registry.rollback(store, "penguins", to=current, reason="bench")
            rollbacks.append(time.perf_counter() - started)
        puts = []
        for _ in range(repeat):
            started = time.perf_counter()
            store.write_key("aliases/production.json", b'{"version": 3}')  # the hand-rolled pointer
            puts.append(time.perf_counter() - started)
        print(f"{size} | {statistics.median(promotes) * 1000:.0f} ms | {statistics.median(rollbacks) * 1000:.0f} ms | "
              f"{requests or '-'} | {statistics.median(puts) * 1000:.1f} ms")


def bench_history(label: str, url: str, work: Path, repeat: int) -> None:
    from nbprod.models import views
    from nbprod.store import Store

    store = Store(f"{url}/history")
    fill(store, 1000)
    env = env_for(store.url, work)
    walls = {}
    for args in (["models", "history", "penguins"], ["models", "history", "penguins", "--json"],
                 ["models", "verify"]):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            done = subprocess.run([str(BIN / "nbprod"), *args], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
        walls[" ".join(args)] = statistics.median(times)
    inside = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows = views.history(store, "penguins")
        inside.append(time.perf_counter() - started)
    assert len(rows) == 1000
    print(f"\n## 2. 1,000 events, {label}")
    for what, seconds in walls.items():
        print(f"nbprod {what}: {seconds:.2f} s (CLI wall)")
    print(f"views.history in process: {statistics.median(inside):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--events", default="10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.events.split(",") if s.strip()]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="nbprod-bench-models-"))
    server = S3Server(work)
    try:
        from nbprod import __version__

        boto().create_bucket(Bucket=BUCKET)
        print(f"# nbprod {__version__} model registry benchmark: python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cpus, moto server {server.endpoint} (own process), median of {args.repeat}, "
              f"load average {os.getloadavg()[0]:.1f}")
        log("folder")
        bench_promote("a local folder", str(work / "store"), sizes, args.repeat, None)
        log("s3")
        bench_promote("moto's S3 server", f"s3://{BUCKET}/bench", sizes, args.repeat, server)
        bench_history("a local folder", str(work / "store"), work, args.repeat)
        bench_history("moto's S3 server", f"s3://{BUCKET}/bench", work, args.repeat)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s, load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
