"""Real Apache Airflow 3 for the tests: a venv of its own, one AIRFLOW_HOME per test.

* :func:`airflow_venv` builds (once per lock file) a venv from ``requirements.lock``
  next to this file, with the interpreter that runs the tests: ``python -m venv`` +
  ``pip install --no-deps -r requirements.lock``. It lives under
  ``$NBPROD_AIRFLOW_CACHE`` (default ``~/.cache/nbprod``) as ``airflow-<sha12>-py3XX``,
  is built in a temporary folder next to it and renamed into place (a killed build
  never leaves a half venv behind), under a file lock (two pytest-xdist workers build
  it once).
* :class:`Airflow` is one Airflow installation: its own AIRFLOW_HOME (a written
  ``airflow.cfg``, SQLite metadata DB, loopback only), the CLI with timeouts,
  ``dags test`` with the states read back, and :meth:`Airflow.services`, which runs a
  real scheduler + dag-processor + api-server (execution API) and always stops every
  process it started.

Linux only (``/proc`` is read to find and stop every process).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

LOCK_FILE = Path(__file__).with_name("requirements.lock")
TAG_VAR = "NBPROD_AIRFLOW_TAG"  # every process an Airflow helper starts carries it (and its children)


def _log(msg: str) -> None:
    print(f"[airflowkit] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the venv


def cache_root() -> Path:
    return Path(os.environ.get("NBPROD_AIRFLOW_CACHE") or Path.home() / ".cache" / "nbprod")


def venv_name(lock: Path = LOCK_FILE) -> str:
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    return f"airflow-{digest}-py{sys.version_info.major}{sys.version_info.minor}"


_DONE = "nbprod-airflow-venv.json"  # written last, inside the temporary folder, before the rename


def airflow_venv(lock: Path = LOCK_FILE, root: Path | None = None, python: str | None = None) -> Path:
    """The venv for ``lock`` (built the first time); returns its folder (``.../bin/airflow``)."""
    root = root or cache_root()
    final = root / venv_name(lock)
    if (final / _DONE).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{final.name}.lock"), timeout=3600):
        if (final / _DONE).is_file():  # another worker built it meanwhile
            return final
        if final.exists():  # not ours to explain: no marker, so not a finished venv
            shutil.rmtree(final)
        for stale in root.glob(f".{final.name}.tmp-*"):  # killed builds (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            _build(tmp, final, lock, python or sys.executable)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def _build(tmp: Path, final: Path, lock: Path, python: str) -> None:
    t0 = time.monotonic()
    _log(f"creating the Airflow venv {final} (from {lock.name}); this takes a minute or two")
    subprocess.run([python, "-m", "venv", str(tmp)], check=True, stdout=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    t1 = time.monotonic()
    subprocess.run(
        [str(tmp / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-input", "--progress-bar", "off",
         "-r", str(lock)],
        check=True, env=env, stdout=sys.stderr,
    )
    t2 = time.monotonic()
    subprocess.run([str(tmp / "bin" / "python"), "-m", "pip", "check"], check=True, env=env, stdout=sys.stderr)
    # console scripts and activate files name the folder they were written in: point them at the final one
    old, new = str(tmp).encode(), str(final).encode()
    for script in (tmp / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if old in data:
                script.write_bytes(data.replace(old, new))
    info = {"lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(), "python": sys.version,
            "venv_seconds": round(t1 - t0, 1), "pip_seconds": round(t2 - t1, 1),
            "total_seconds": round(time.monotonic() - t0, 1)}
    (tmp / _DONE).write_text(json.dumps(info, indent=1))
    _log(f"Airflow venv ready in {info['total_seconds']} s (pip install {info['pip_seconds']} s)")


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _starttime(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time, tells a reused pid apart


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tagged_pids(tag: str) -> set[int]:
    """Processes whose environment carries ``TAG_VAR=tag`` (found even once orphaned)."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                env = Path(f"/proc/{entry.name}/environ").read_bytes()
            except OSError:
                continue
            if needle in env.split(b"\0"):
                found.add(int(entry.name))
    return found


def descendants(pids: set[int]) -> set[int]:
    kids = _children()
    seen, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(kids.get(pid, []))
    return seen


class ProcessSet:
    """Every process started under one tag: the started ones, their descendants, and any
    process (orphaned or in a new session) that inherited the tag."""

    def __init__(self, tag: str):
        self.tag = tag
        self.started: list[subprocess.Popen] = []
        self.known: dict[int, str | None] = {}  # pid -> start time

    def add(self, proc: subprocess.Popen) -> None:
        self.started.append(proc)
        self.refresh()

    def refresh(self) -> set[int]:
        live = descendants({p.pid for p in self.started if p.poll() is None}) | tagged_pids(self.tag)
        for pid in live:
            self.known.setdefault(pid, _starttime(pid))
        return self.alive()

    def alive(self) -> set[int]:
        out = set()
        for pid, start in self.known.items():
            st = _starttime(pid)
            if st is not None and st == start and not _is_zombie(pid):
                out.add(pid)
        return out

    def _signal(self, sig: int, pids: set[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def stop(self, grace: float = 5.0) -> set[int]:
        """Stop the started processes in reverse order of start, each with SIGTERM to its
        process group and up to ``grace`` seconds to exit (graceful shutdown), then
        SIGKILL whatever of the whole set is left (descendants in other groups and
        sessions, tagged orphans). Returns the pids still alive afterwards (none)."""
        self.refresh()
        for p in reversed(self.started):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGTERM)
                deadline = time.monotonic() + grace
                while p.poll() is None and time.monotonic() < deadline:
                    self.refresh()
                    time.sleep(0.1)
                if p.poll() is None:
                    _log(f"pid {p.pid} ({' '.join(map(str, p.args[1:3]))}) ignored SIGTERM for {grace} s: SIGKILL")
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(p.pid, signal.SIGKILL)
        for _ in range(10):
            left = self.refresh()
            if not left:
                break
            self._signal(signal.SIGKILL, left)
            time.sleep(0.2)
        for p in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        return self.refresh()


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


# --------------------------------------------------------------------------- one Airflow


@dataclass
class TaskState:
    task_id: str
    state: str | None
    try_number: int
    tries: list[str | None] = field(default_factory=list)  # state of every try, oldest first


@dataclass
class DagTestResult:
    proc: subprocess.CompletedProcess
    seconds: float
    run_id: str | None
    state: str | None
    logical_date: str | None
    conf: dict | None
    tasks: dict[str, TaskState]

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr


class AirflowError(AssertionError):
    pass


class Airflow:
    """One Airflow installation: ``home`` (AIRFLOW_HOME with airflow.cfg and airflow.db)
    reading DAG files from ``dags_folder``, run with the venv ``venv``."""

    def __init__(self, venv: Path, home: Path, dags_folder: Path, settings: dict | None = None):
        self.venv = Path(venv)
        self.home = Path(home)
        self.dags_folder = Path(dags_folder)
        self.db = self.home / "airflow.db"
        self.api_port = free_port()
        self.tag = uuid.uuid4().hex
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.logs = self.home / "proc-logs"
        self.logs.mkdir(exist_ok=True)
        self.settings = self.default_settings()
        for section, values in (settings or {}).items():
            self.settings.setdefault(section, {}).update(values)
        self.write_config()

    # -- configuration
    def default_settings(self) -> dict[str, dict[str, object]]:
        api = f"http://127.0.0.1:{self.api_port}"
        return {
            "core": {
                "dags_folder": self.dags_folder,
                "executor": "LocalExecutor",
                "load_examples": False,
                "parallelism": 4,
                "dags_are_paused_at_creation": False,
                "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "execution_api_server_url": f"{api}/execution/",
            },
            "database": {"sql_alchemy_conn": f"sqlite:///{self.db}"},
            "logging": {"base_log_folder": self.home / "logs", "worker_log_server_port": free_port()},
            "api": {"host": "127.0.0.1", "port": self.api_port, "base_url": api, "workers": 1,
                    "secret_key": secrets.token_urlsafe(16), "expose_config": False},
            "api_auth": {"jwt_secret": secrets.token_urlsafe(64)},
            "scheduler": {"enable_health_check": False, "scheduler_health_check_server_host": "127.0.0.1"},
            "dag_processor": {"refresh_interval": 5, "min_file_process_interval": 30, "parsing_processes": 1,
                              "print_stats_interval": 600},
            "triggerer": {"triggerer_health_check_server_host": "127.0.0.1"},
        }

    def write_config(self) -> None:
        lines = []
        for section, values in self.settings.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {v}" for k, v in values.items()]
            lines.append("")
        (self.home / "airflow.cfg").write_text("\n".join(lines))

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"))}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW_CONFIG=str(self.home / "airflow.cfg"),
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(self.venv),
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
            **{TAG_VAR: self.tag},
        )
        return env

    # -- the CLI
    def run(self, *args: str, timeout: float = 180, check: bool = True, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
        """``airflow ARGS`` in its own process group; killed (whole group) on timeout."""
        cmd = [str(self.venv / "bin" / "airflow"), *map(str, args)]
        procs = ProcessSet(self.tag + "-cli-" + uuid.uuid4().hex[:6])
        full_env = {**self.env, **(env or {}), TAG_VAR: procs.tag}
        proc = subprocess.Popen(cmd, cwd=cwd or self.home, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        procs.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            procs.stop(grace=2)
            out, err = proc.communicate()
            raise AirflowError(f"{' '.join(cmd[1:])} timed out after {timeout} s\n"
                               f"STDOUT:\n{out[-4000:]}\nSTDERR:\n{err[-8000:]}") from None
        finally:
            procs.stop(grace=2)  # nothing it started outlives it
        done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        if check and done.returncode != 0:
            raise AirflowError(f"{' '.join(cmd[1:])} exited {done.returncode}\n"
                               f"STDOUT:\n{out[-4000:]}\nSTDERR:\n{err[-8000:]}")
        return done

    def migrate(self, timeout: float = 300) -> float:
        t0 = time.monotonic()
        self.run("db", "migrate", timeout=timeout)
        return time.monotonic() - t0

    def list_import_errors(self, timeout: float = 120) -> list[dict]:
        """Import errors of the DAG files, parsed now (``dags list-import-errors --local``;
        without ``--local`` it reads what a dag-processor stored in the DB)."""
        done = self.run("dags", "list-import-errors", "--local", "-o", "json", timeout=timeout, check=False)
        errors = _json_tail(done.stdout)
        if done.returncode != (1 if errors else 0):  # it exits 1 when there are import errors
            raise AirflowError(f"list-import-errors exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return errors

    def parse(self, timeout: float = 120) -> dict:
        """Parse the DAG folder as the dag-processor does (Airflow's DagBag), in one process:
        ``{"dags": {dag_id: {"tasks": [...], "fileloc": ...}}, "import_errors": {file: text}}``."""
        script = (
            "import json, sys\n"
            "from airflow.dag_processing.dagbag import DagBag\n"
            "bag = DagBag(sys.argv[1])\n"
            "print('@@JSON@@' + json.dumps({'dags': {i: {'tasks': sorted(d.task_dict), 'fileloc': d.fileloc}\n"
            "    for i, d in bag.dags.items()}, 'import_errors': bag.import_errors}))\n"
        )
        done = self.run_python("-c", script, str(self.dags_folder), timeout=timeout)
        return json.loads(done.stdout.rsplit("@@JSON@@", 1)[1])

    def run_python(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """The venv's python with this Airflow's environment."""
        cmd = [str(self.venv / "bin" / "python"), *args]
        done = subprocess.run(cmd, cwd=self.home, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AirflowError(f"python {' '.join(args)[:200]} exited {done.returncode}\n"
                               f"STDOUT:\n{done.stdout[-4000:]}\nSTDERR:\n{done.stderr[-8000:]}")
        return done

    def dags_test(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None,
                  timeout: float = 300, check: bool = False, extra: tuple[str, ...] = ()) -> DagTestResult:
        """``airflow dags test DAG_ID [LOGICAL_DATE] [-c CONF]``; the run and its tasks read back."""
        args = ["dags", "test", dag_id]
        if logical_date is not None:
            args.append(logical_date)
        if conf is not None:
            args += ["-c", json.dumps(conf)]
        before = {r["run_id"] for r in self.dag_runs(dag_id)}
        t0 = time.monotonic()
        proc = self.run(*args, *extra, timeout=timeout, check=check)
        seconds = time.monotonic() - t0
        new = [r for r in self.dag_runs(dag_id) if r["run_id"] not in before]
        run = new[-1] if new else None
        tasks = self.task_states(dag_id, run["run_id"]) if run else {}
        return DagTestResult(proc, seconds, run and run["run_id"], run and run["state"],
                             run and run["logical_date"], run and run["conf"], tasks)

    # -- the metadata DB, read directly (sqlite3: no 5 s CLI start per question)
    def _query(self, sql: str, *params) -> list[sqlite3.Row]:
        if not self.db.exists():
            return []
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        con.row_factory = sqlite3.Row
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            con.close()

    def dag_runs(self, dag_id: str) -> list[dict]:
        rows = self._query("SELECT run_id, state, run_type, logical_date, conf, start_date, end_date "
                           "FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id)
        out = []
        for r in rows:
            d = dict(r)
            d["conf"] = _loads(d["conf"])
            out.append(d)
        return out

    def task_states(self, dag_id: str, run_id: str) -> dict[str, TaskState]:
        tasks = {}
        for r in self._query("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?"
                             " ORDER BY task_id", dag_id, run_id):
            tasks[r["task_id"]] = TaskState(r["task_id"], r["state"], r["try_number"])
        for r in self._query("SELECT task_id, state, try_number FROM task_instance_history WHERE dag_id = ? "
                             "AND run_id = ? ORDER BY try_number", dag_id, run_id):
            if r["task_id"] in tasks:
                tasks[r["task_id"]].tries.append(r["state"])
        for t in tasks.values():
            t.tries.append(t.state)
        return tasks

    def task_states_cli(self, dag_id: str, run_id: str) -> list[dict]:
        """The same through the CLI (``airflow tasks states-for-dag-run DAG RUN_ID -o json``)."""
        return _json_tail(self.run("tasks", "states-for-dag-run", dag_id, run_id, "-o", "json").stdout)

    # -- a real scheduler
    @contextlib.contextmanager
    def services(self, api_server: bool = True, triggerer: bool = False):
        """Scheduler (LocalExecutor) + dag-processor + api-server (execution API only,
        127.0.0.1), each in its own process group with its log in ``home/proc-logs``.
        On exit (also on error) every process they started is stopped and checked gone."""
        procs = ProcessSet(self.tag)
        services = Services(self, procs)
        try:
            if api_server:
                services.start("api-server", "api-server", "--apps", "execution", "-H", "127.0.0.1",
                               "-p", str(self.api_port), "-w", "1")
            services.start("dag-processor", "dag-processor")
            if api_server:
                # tasks started before it listens retry their first API call with backoff (~20 s lost)
                services.wait_listening("api-server", self.api_port)
            services.start("scheduler", "scheduler", "--skip-serve-logs")
            if triggerer:
                services.start("triggerer", "triggerer", "--skip-serve-logs")
            yield services
        finally:
            t0 = time.monotonic()
            left = procs.stop()
            services.stop_seconds = time.monotonic() - t0
            services.stopped = True
            if left:
                raise AirflowError(f"processes still alive after stop: {sorted(left)}")


class Services:
    def __init__(self, airflow: Airflow, procs: ProcessSet):
        self.airflow = airflow
        self.procs = procs
        self.by_name: dict[str, subprocess.Popen] = {}
        self.stopped = False
        self.stop_seconds: float | None = None
        self.started_at = time.monotonic()

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.airflow.logs / f"{name}.log", "ab")
        proc = subprocess.Popen([str(self.airflow.venv / "bin" / "airflow"), *args], cwd=self.airflow.home,
                                env=self.airflow.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.by_name[name] = proc
        self.procs.add(proc)
        return proc

    def wait_listening(self, name: str, port: int, timeout: float = 90) -> float:
        t0 = time.monotonic()
        while True:
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return time.monotonic() - t0
            if self.by_name[name].poll() is not None:
                raise AirflowError(f"{name} exited {self.by_name[name].returncode}\n{self.log(name)}")
            if time.monotonic() - t0 > timeout:
                raise AirflowError(f"{name} not listening on 127.0.0.1:{port} after {timeout} s\n{self.log(name)}")
            time.sleep(0.3)

    def pids(self) -> set[int]:
        return self.procs.refresh()

    def log(self, name: str, tail: int = 6000) -> str:
        path = self.airflow.logs / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"----- {n}.log\n{self.log(n, tail)}" for n in self.by_name)

    def wait_for_run(self, dag_id: str, run_type: str = "scheduled", timeout: float = 180,
                     states: tuple[str, ...] = ("success", "failed")) -> dict:
        """Poll the DB until a ``run_type`` run of ``dag_id`` is in one of ``states``."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [r for r in self.airflow.dag_runs(dag_id) if r["run_type"] == run_type]
            done = [r for r in runs if r["state"] in states]
            if done:
                return done[0]
            dead = {n: p.returncode for n, p in self.by_name.items() if p.poll() is not None}
            if dead:
                raise AirflowError(f"Airflow process(es) exited: {dead}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AirflowError(f"no {run_type} run of {dag_id} in {states} within {timeout} s; "
                                   f"runs: {runs}\n{self.logs()}")
            time.sleep(1)


def _loads(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _json_tail(stdout: str):
    """The JSON document in a CLI's stdout (log lines may come before and after it)."""
    decoder = json.JSONDecoder()
    for line_start in [0] + [i + 1 for i, ch in enumerate(stdout) if ch == "\n"]:
        if stdout[line_start:line_start + 1] in ("[", "{"):
            try:
                return decoder.raw_decode(stdout, line_start)[0]
            except ValueError:
                continue
    raise AirflowError(f"no JSON in output:\n{stdout[-4000:]}")
