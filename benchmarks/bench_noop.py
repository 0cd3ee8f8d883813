"""Benchmark: a no-op build of the reference project (everything up to date).

What a scheduler polling an unchanged pipeline pays. Prints, side by side:

1. ``ploomber build`` of a copy of the reference project whose pipeline.yaml
   names no nbprod hook (what a user would otherwise run);
2. ``nbprod build`` of the same project: the build lock, the content check of
   every task's inputs, upstream products and own products against what
   nbprod remembered (``.nbprod/tasks.json``), and the nothing-ran policy;
3. the content check alone, in process, with every file's stat unchanged
   (nothing is read) and with every file's stat changed (everything hashed);

each as the median of ``--repeat`` runs. Interpreter start-up is included in
1 and 2 (it is what a user waits for).

Usage: python benchmarks/bench_noop.py [--repeat 5]
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOOK_LINES = ("on_render:", "on_finish:", "on_failure:")


def env_for(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBPROD_")}
    env.update(NBPROD_STORE=str(store), NBPROD_SPOOL=str(store.parent / "spool"),
               PLOOMBER_STATS_ENABLED="false", PLOOMBER_VERSION_CHECK_DISABLED="true",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def copy_project(dest: Path, hooks: bool) -> Path:
    dest.mkdir(parents=True)
    for name in ("notebooks", "pipeline.yaml", "env.yaml", "nbprod.yaml"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dest / name)
    if not hooks:
        spec = dest / "pipeline.yaml"
        spec.write_text("".join(l for l in spec.read_text().splitlines(True) if not l.startswith(HOOK_LINES)))
    return dest


def timed(cmd: list[str], cwd: Path, env: dict[str, str], expect: str | None = None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if expect is not None and expect not in done.stdout + done.stderr:
        raise SystemExit(f"{' '.join(cmd)} did not say {expect!r}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def median(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-noop-") as tmp:
        tmp = Path(tmp)
        env = env_for(tmp / "store")
        plain = copy_project(tmp / "plain", hooks=False)
        recorded = copy_project(tmp / "recorded", hooks=False)
        print("building both copies once (real kernels)...", flush=True)
        subprocess.run(["ploomber", "build"], cwd=plain, env=env, check=True, capture_output=True)
        subprocess.run(["nbprod", "build"], cwd=recorded, env=env, check=True, capture_output=True)

        ploomber_s = median(lambda: timed(["ploomber", "build"], plain, env), args.repeat)
        nbprod_s = median(lambda: timed(["nbprod", "build"], recorded, env, expect="nothing ran"), args.repeat)

        sys.path.insert(0, str(REPO / "src"))
        from nbprod.engine.freshness import Memory

        memory = Memory.load(recorded)
        files = sum(len(t["files"]) for t in memory.tasks.values())
        size = sum(f["size"] or 0 for t in memory.tasks.values() for f in t["files"].values())

        def check(stat_changed: bool) -> float:
            fresh = Memory.load(recorded)
            if stat_changed:
                for task in fresh.tasks.values():
                    for info in task["files"].values():
                        info["stat"] = None
            t0 = time.perf_counter()
            changed = [fresh.changed(name) for name in fresh.tasks]
            elapsed = time.perf_counter() - t0
            assert not any(changed), changed
            return elapsed

        unchanged_s = median(lambda: check(False), args.repeat)
        hashed_s = median(lambda: check(True), args.repeat)

    print(f"no-op build of the reference project ({len(memory.tasks)} tasks, median of {args.repeat}):")
    print(f"  ploomber build (no nbprod hooks)   {ploomber_s:7.2f} s")
    print(f"  nbprod build (lock, content check) {nbprod_s:7.2f} s   ({nbprod_s - ploomber_s:+.2f} s)")
    print(f"content check alone, {files} remembered files, {size / 1024:.0f} KiB:")
    print(f"  stat unchanged (nothing read)      {unchanged_s * 1000:7.2f} ms")
    print(f"  stat changed (every file hashed)   {hashed_s * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
