"""Benchmark: what `nbprod report` costs on a local store of many runs.

Fills a local store with ``--runs`` synthetic runs written the way the recorder
writes them (``Store.write_record`` after ``put_bytes`` of a small executed notebook
with code, a stream, an HTML table, a PNG and a scrap; a data frame artifact; a
``metrics_spec`` with two headline metrics; every 7th run failed), then prints
figures (no pass/fail):

1. the full build of the site (every run page, notebook page and compare page),
   in a fresh process, as ``build_site`` reports it (nbconvert's import included);
2. a rebuild with nothing new (the index only);
3. an incremental build after ONE new run (goal: under 2 s for 1,000 runs),
   ``--repeat`` times (a new run each time), both as ``build_site`` in a fresh
   process and as the wall time of the whole ``nbprod report`` command
   (interpreter start-up and imports included); median and max.

Usage: python benchmarks/bench_report.py [--runs 1000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "src"))

from nbprod.schema import RunRecord, TaskRecord, new_run_id  # noqa: E402
from nbprod.store import Store  # noqa: E402

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPEC = [{"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0},
        {"name": "log_loss", "goal": "min", "headline": True, "tolerance": 0.001}]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def notebook(i: int, accuracy: float) -> bytes:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(f"seed = {i}\nmode = 'ok'", execution_count=1)
    params.metadata["tags"] = ["parameters"]
    work = nbformat.v4.new_code_cell(
        "import pandas as pd\nimport scrapbook as sb\ndf = pd.DataFrame({'a': range(3)})\n"
        f"sb.glue('accuracy', {accuracy})\ndf", execution_count=2)
    work.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"training run {i}\n"),
        nbformat.v4.new_output("display_data", data={"application/scrapbook.scrap.json+json": {"name": "accuracy", "data": accuracy}},
                               metadata={"scrapbook": {"name": "accuracy", "data": True, "display": False}}),
        nbformat.v4.new_output("execute_result", execution_count=2, data={
            "text/html": "<table><thead><tr><th></th><th>a</th></tr></thead><tbody>"
                         + "".join(f"<tr><th>{r}</th><td>{r}</td></tr>" for r in range(3)) + "</tbody></table>",
            "text/plain": "   a\n0  0\n1  1\n2  2"}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Run {i}\nSynthetic."), params, work]
    return nbformat.writes(nb).encode()


def add_run(store: Store, i: int) -> None:
    moment = BASE + timedelta(minutes=10 * i)
    failed = i % 7 == 3
    accuracy = round(0.8 + 0.1 * (i % 50) / 50, 4)
    nb = store.put_bytes(notebook(i, accuracy))
    frame = store.put_bytes(json.dumps({"columns": ["k", "v"], "index": [0, 1], "data": [["a", i], ["b", 2 * i]]}).encode())
    scraps = {"table": {"encoder": "pandas", "type": "dataframe", "shape": [2, 2],
                        "artifact": {"sha256": frame["sha256"], "size": frame["size"]}}}
    if not failed:
        scraps["accuracy"] = {"value": accuracy, "encoder": "json"}
        scraps["log_loss"] = {"value": round(1 - accuracy, 4), "encoder": "json"}
    record = RunRecord(
        run_id=new_run_id(moment), status="failed" if failed else "succeeded", started_at=moment.isoformat(),
        duration_s=42.0, user="bench", host="bench-host", command=["nbprod", "build"],
        git={"commit": f"{i:040x}", "branch": "main", "dirty": False}, python={"version": "3.11"},
        packages={"pandas": "2.2", "scikit-learn": "1.5"},
        tasks=[TaskRecord(name="train", kind="notebook", status="failed" if failed else "succeeded",
                          params={"seed": i, "mode": "ok"}, scraps=scraps, duration_s=40.0,
                          notebook={"key": nb["key"], "sha256": nb["sha256"], "size": nb["size"]})],
        metrics_spec=SPEC,
    )
    store.write_record(record)


def build_in_fresh_process(url: str, *extra: str) -> dict:
    """build_site in a new interpreter, as `nbprod report` runs it; returns its stats."""
    code = ("import json, sys; from nbprod.store import Store; from nbprod.report import build_site; "
            "print(json.dumps(build_site(Store(sys.argv[1]), force='--force' in sys.argv, log=lambda line: None)))")
    done = subprocess.run([sys.executable, "-c", code, url, *extra], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_report(url: str, work: Path) -> float:
    env = {**os.environ, "NBPROD_STORE": url, "NBPROD_SPOOL": str(work / "spool"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    subprocess.run(["nbprod", "report"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="build in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nbprod-bench-report-"))
    url = str(work / "store")
    try:
        store = Store(url)
        started = time.perf_counter()
        for i in range(args.runs):
            add_run(store, i)
        print(f"filled a local store with {args.runs} runs in {time.perf_counter() - started:.1f} s")

        full = build_in_fresh_process(url, "--force")
        print(f"full build, {full['runs']} runs: {full['seconds']:.1f} s "
              f"({full['pages']} pages, {1000 * full['seconds'] / max(full['runs'], 1):.0f} ms a run)")
        size = sum(p.stat().st_size for p in (work / "store" / "site").rglob("*") if p.is_file())
        print(f"  site size: {size / 1e6:.1f} MB")

        noop = build_in_fresh_process(url)
        print(f"rebuild, nothing new: {noop['seconds']:.2f} s ({noop['pages']} page written: the index)")

        inner, walls = [], []
        for n in range(args.repeat):
            add_run(store, args.runs + 2 * n)
            stats = build_in_fresh_process(url)
            assert stats["rendered"] == 1, stats
            inner.append(stats["seconds"])
            add_run(store, args.runs + 2 * n + 1)
            walls.append(cli_report(url, work))
        print(f"incremental build after one new run among {args.runs}: build_site "
              f"median {statistics.median(inner):.2f} s, max {max(inner):.2f} s (goal < 2 s; fresh process, "
              f"nbconvert import included)")
        print(f"  `nbprod report` wall, interpreter start-up included: median {statistics.median(walls):.2f} s, "
              f"max {max(walls):.2f} s")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
