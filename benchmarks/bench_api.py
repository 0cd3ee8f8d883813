"""Benchmark: run history from Python, and what `nbprod --help` costs.

Prints figures (no pass/fail), side by side with what a user would otherwise
write or run, in one run:

1. ``nbprod --help`` (a fresh interpreter, median of ``--repeat``) beside
   ``python -c pass`` (the floor) and ``ploomber --help``;
2. ``nbprod.runs()`` over ``--runs`` runs (default 10,000) in a local folder and
   in an S3 store on a moto server on 127.0.0.1 (real HTTP; started by this
   script, stopped at the end), filled through ``Store.write_record`` with
   compaction into summary packs, as real builds leave them. Beside it: the
   hand-written alternative, every ``record.json`` read with fsspec and
   flattened with ``pandas.json_normalize`` (on S3, for 1,000 runs only and
   scaled: reading 10,000 records one by one is the cost nbprod avoids).
   Also ``nbprod.runs(status=..., params=...)`` (filters) and
   ``nbprod.runs(sort="accuracy")`` (reads one record for the metric's goal).

Usage: python benchmarks/bench_api.py [--repeat 3] [--runs 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_store  # noqa: E402  (its S3 server and its record filler)


def median_wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_call(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def hand_written(store, limit: int | None = None):
    """What a user writes without nbprod.runs(): read every record, flatten it."""
    import pandas as pd

    runs = sorted(store.fs.ls(f"{store.root}/runs", detail=False), reverse=True)  # one LIST per 1,000
    runs = runs[:limit] if limit else runs
    paths = [f"{run.rstrip('/')}/record.json" for run in runs]
    blobs = store.fs.cat(paths)
    return pd.json_normalize([json.loads(b) for b in blobs.values()])


def bench_help(repeat: int) -> None:
    bin_dir = Path(sys.executable).parent
    print("## 1. start-up (fresh interpreter, median of", repeat, ")")
    floor = median_wall([sys.executable, "-c", "pass"], repeat)
    nbprod_help = median_wall([str(bin_dir / "nbprod"), "--help"], repeat)
    ploomber_help = median_wall([str(bin_dir / "ploomber"), "--help"], repeat)
    print(f"python -c pass     {floor:6.3f} s")
    print(f"nbprod --help      {nbprod_help:6.3f} s   (+{nbprod_help - floor:.3f} s over the interpreter)")
    print(f"ploomber --help    {ploomber_help:6.3f} s")
    code = "import time; t=time.perf_counter(); import nbprod.api; print(time.perf_counter()-t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
               for _ in range(repeat)]
    print(f"import nbprod.api  {statistics.median(imports):6.3f} s   (what a notebook's `nbprod.upstream` costs when ploomber injected upstream)")


def bench_runs(label: str, store, runs: int, repeat: int, template, compare_limit: int | None) -> None:
    import nbprod

    filler = bench_store.Filler(store, template, threads=16 if not store.local else 4)
    took = filler.fill(runs, label)
    print(f"\n## 2. {label}: {runs:,} runs (filled in {took:.0f} s)")
    t, frame = median_call(lambda: nbprod.runs(store=store), repeat)
    print(f"nbprod.runs()                           {t:7.3f} s   {len(frame):,} rows x {frame.shape[1]} columns")
    t, frame = median_call(lambda: nbprod.runs(status="succeeded", params={"seed": 42}, limit=20, store=store), repeat)
    print(f"nbprod.runs(status=, params=, limit=20) {t:7.3f} s   {len(frame):,} rows")
    t, frame = median_call(lambda: nbprod.runs(sort="accuracy", limit=5, store=store), repeat)
    print(f"nbprod.runs(sort='accuracy', limit=5)   {t:7.3f} s   {len(frame):,} rows")
    n = compare_limit or runs
    t, frame = median_call(lambda: hand_written(store, compare_limit), 1)
    scaled = f", {t * runs / n:.1f} s scaled to {runs:,}" if compare_limit else ""
    print(f"every record.json + json_normalize      {t:7.3f} s   for {n:,} runs{scaled} (the alternative)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
    from nbprod.store import Store

    bench_help(args.repeat)
    template, origin = bench_store.template_record(None)
    print(f"\n(record template: {origin})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench_runs("local folder", Store(str(work / "store")), args.runs, args.repeat, template, None)
        server = bench_store.S3Server(work)
        try:
            import boto3

            boto3.client("s3", endpoint_url=server.endpoint).create_bucket(Bucket=bench_store.BUCKET)
            s3 = Store(f"s3://{bench_store.BUCKET}/api")
            bench_runs("S3 (moto server on 127.0.0.1)", s3, args.runs, args.repeat, template, min(1000, args.runs))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
