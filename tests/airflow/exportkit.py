"""The reference project exported for a real Airflow: in git (each task clones it), its store on
moto's S3 server, the DAG in the Airflow's dags folder; nbprod's own CLI to read the runs back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
DAG_ID = "penguins"


def git_init(path: Path) -> None:
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=path,
                       check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "init")


def nbprod(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLOOMBER_")}
    env.update(PLOOMBER_STATS_ENABLED="false", PLOOMBER_VERSION_CHECK_DISABLED="true",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run([str(BIN / "nbprod"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"nbprod {' '.join(args)} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def export(project: Path, dags: Path, *options: str) -> subprocess.CompletedProcess:
    """The reference project (with pipeline.shared.yaml, whose File client shares products) in
    git, exported with --clone: every Airflow task runs in a fresh clone of it."""
    shutil.copy2(REPO / "pipeline.shared.yaml", project)
    git_init(project)
    return nbprod("export", "airflow", "--dag-id", DAG_ID, "--out", str(dags), "--clone", project.as_uri(),
                  "--retry-delay", "0", *options, cwd=project)


def runs(project: Path) -> list[dict]:
    return json.loads(nbprod("runs", "ls", "--all", "--json", cwd=project).stdout)


def record(project: Path, run_id: str) -> dict:
    return json.loads(nbprod("runs", "show", run_id, "--json", cwd=project).stdout)


def said(output: str) -> str:
    """What nbprod and the notebooks said in a DAG run (Airflow's log is long)."""
    keep = ("nbprod", "Error", "error", "Traceback", "exited", "refused", "task_id=")
    return "\n".join(line[-600:] for line in output.splitlines() if any(k in line for k in keep))[-12000:]


KILL_ONCE = '''#!{python}
"""NBPROD_BIN for the test: attempt 1 of task {task} is killed with SIGKILL (the build and its
kernel, as the OOM killer or a lost worker would) once it has said it started; else nbprod."""
import glob, os, signal, subprocess, sys, time

import s3fs

NBPROD = {nbprod!r}
args = sys.argv[1:]
if args[:2] == ["task", {task!r}] and os.environ.get("NBPROD_ATTEMPT") == "1":
    child = subprocess.Popen([NBPROD, *args], start_new_session=True)
    fs = s3fs.S3FileSystem()
    deadline = time.time() + 900
    while time.time() < deadline and child.poll() is None:
        fs.invalidate_cache()
        if fs.glob({marker!r}):
            break
        time.sleep(0.5)
    os.killpg(child.pid, signal.SIGKILL)
    sys.exit(137)
os.execv(NBPROD, [NBPROD, *args])
'''


def kill_once(folder: Path, task: str, bucket_prefix: str) -> Path:
    """A wrapper for NBPROD_BIN that kills attempt 1 of ``task`` (see KILL_ONCE)."""
    path = folder / "nbprod-kill-once"
    path.write_text(KILL_ONCE.format(python=sys.executable, nbprod=str(BIN / "nbprod"), task=task,
                                     marker=f"{bucket_prefix}/parts/*/{task}/0001.started.json"))
    path.chmod(0o755)
    return path
