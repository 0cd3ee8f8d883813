"""Benchmark: what running notebooks as a recorded pipeline costs.

Prints figures (no pass/fail):

1. wall time of ``ploomber build --force`` of the reference project against
   the same code (the notebooks' code cells, concatenated) run as one plain
   Python script, and their ratio;
2. time nbprod spends recording a run (collect scraps + hash + store), as
   measured inside the hook (``recording_s`` in the record);
3. ``nbprod runs ls`` with 1,000 runs in the store (CLI wall time, including
   interpreter start-up), ``--all`` and the in-process listing.

Usage: python benchmarks/bench_pipeline.py [--repeat 3] [--runs 1000]
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
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def env_for(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NBPROD_STORE=str(store),
        PLOOMBER_STATS_ENABLED="false",
        PLOOMBER_VERSION_CHECK_DISABLED="true",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def plain_script(project: Path) -> Path:
    """The four notebooks' code cells, in pipeline order, as one script."""
    import nbformat

    parts = ["# generated: the reference notebooks' code as one plain script"]
    for name in ("ingest", "validate", "train", "evaluate"):
        nb = nbformat.read(str(project / "notebooks" / f"{name}.ipynb"), as_version=4)
        parts.append(f"# ---- {name}")
        parts += [c.source for c in nb.cells if c.cell_type == "code"]
    path = project / "plain_pipeline.py"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nbprod-bench-"))
    project = work / "project"
    project.mkdir()
    for name in ("notebooks", "pipeline.yaml", "env.yaml"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, project / name)
    store = work / "store"
    env = env_for(store)

    print(f"# nbprod benchmark ({args.repeat} repeats, median), python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    timed(["ploomber", "build"], project, env)  # warm caches (imports, kernelspec)
    builds = [timed(["ploomber", "build", "--force"], project, env) for _ in range(args.repeat)]
    script = plain_script(project)
    plains = [timed([sys.executable, str(script)], project, env) for _ in range(args.repeat)]
    build_s, plain_s = statistics.median(builds), statistics.median(plains)
    print(f"ploomber build --force (4 notebook tasks): {build_s:.2f} s")
    print(f"same code as one plain python script:      {plain_s:.2f} s")
    print(f"ratio build / script:                      {build_s / plain_s:.1f}x")

    sys.path.insert(0, str(REPO / "src"))
    from nbprod.store import Store
    from nbprod import schema as records

    st = Store(str(store))
    recorded = [st.read_record(i) for i in st.run_ids()]
    rec_s = [r.recording_s for r in recorded if r.recording_s is not None]
    print(f"recording per run (collect + hash + store): median {statistics.median(rec_s):.3f} s, "
          f"max {max(rec_s):.3f} s over {len(rec_s)} runs "
          f"({statistics.median(rec_s) / build_s:.1%} of the build)")

    # runs ls over N stored runs
    big = work / "store-many"
    many = Store(str(big))
    template = recorded[0]
    t0 = time.perf_counter()
    base = records.utcnow()
    from datetime import timedelta

    for i in range(args.runs):
        many.write_record(replace(template, run_id=records.new_run_id(base + timedelta(seconds=i))))
    print(f"wrote {args.runs} run records in {time.perf_counter() - t0:.1f} s")
    env_many = env_for(big)
    ls = statistics.median(timed(["nbprod", "runs", "ls"], work, env_many) for _ in range(args.repeat))
    ls_all = statistics.median(timed(["nbprod", "runs", "ls", "--all"], work, env_many) for _ in range(args.repeat))
    show = statistics.median(timed(["nbprod", "runs", "show", "latest"], work, env_many) for _ in range(args.repeat))
    t0 = time.perf_counter()
    rows = many.summaries()
    inproc = time.perf_counter() - t0
    print(f"nbprod runs ls (newest 20) with {args.runs} runs:  {ls:.3f} s (CLI, incl. start-up)")
    print(f"nbprod runs ls --all with {args.runs} runs:        {ls_all:.3f} s (CLI, incl. start-up)")
    print(f"nbprod runs show latest with {args.runs} runs:     {show:.3f} s (CLI, incl. start-up)")
    print(f"Store.summaries() of {len(rows)} runs in-process:  {inproc:.3f} s")
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "nbprod"), "--help"], check=True, capture_output=True)
    print(f"nbprod --help:                                 {time.perf_counter() - t0:.3f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
