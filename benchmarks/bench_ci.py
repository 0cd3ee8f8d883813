"""Benchmark: what CI pays for the reference project, beside what a user would otherwise run.

Prints, each as the median of ``--repeat`` runs of a copy of the reference project
(a git repository of its own; interpreter start-up included, it is what CI waits for):

1. ``nbprod check`` (no kernel), first with nothing kept (it renders the pipeline) and
   again (the render kept in .nbprod/render.json: no ploomber import), beside
   ``ploomber status`` (ploomber's own render, the other way to learn that a pipeline
   loads) and ``python -c "import ploomber"`` (the floor of a render);
2. ``nbprod build --smoke`` beside ``ploomber build --force`` (the full parameters);
3. ``nbprod reproduce latest`` of the last run beside the forced build it repeats.

``--only check`` skips the builds (seconds instead of minutes).

Usage: python benchmarks/bench_ci.py [--repeat 3] [--only check]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_noop import REPO, copy_project as copy_reference, env_for  # one copy of the set-up


def copy_project(dest: Path) -> Path:
    """The reference project (with its hooks and env.ci.yaml) as a git repository of its own."""
    copy_reference(dest, hooks=True)
    shutil.copy2(REPO / "env.ci.yaml", dest / "env.ci.yaml")
    (dest / ".gitignore").write_text("outputs/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    return dest


def timed(args: list[str], cwd: Path, env: dict[str, str], repeat: int, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["check"], help="only the check figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbprod-bench-ci-") as tmp:
        project = copy_project(Path(tmp) / "project")
        env = env_for(Path(tmp) / "store")
        kept = project / ".nbprod" / "render.json"
        rows = [
            ("`nbprod check`, first (renders the pipeline)",
             timed(["nbprod", "check"], project, env, args.repeat, before=lambda: kept.unlink(missing_ok=True))),
            ("`nbprod check`, again (the kept render)", timed(["nbprod", "check"], project, env, args.repeat)),
            ("`ploomber status`", timed(["ploomber", "status"], project, env, args.repeat)),
            ("`python -c 'import ploomber'`", timed([sys.executable, "-c", "import ploomber"], project, env,
                                                    args.repeat)),
        ]
        if args.only != "check":
            rows += [
                ("`nbprod build --smoke` (env.ci.yaml)", timed(["nbprod", "build", "--smoke"], project, env,
                                                               args.repeat)),
                ("`ploomber build --force` (env.yaml)", timed(["ploomber", "build", "--force"], project, env,
                                                              args.repeat)),
                ("`nbprod reproduce latest`", timed(["nbprod", "reproduce", "latest"], project, env, 1)),
            ]
    print(f"| what | median of {args.repeat} |\n|---|---|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.2f} s |")


if __name__ == "__main__":
    main()
