"""Benchmark: what the store costs on S3 (and a local folder, for comparison).

Starts its own moto ``ThreadedMotoServer`` on 127.0.0.1 (an ephemeral port, in
a child process so the server does not share this interpreter's GIL with the
code being timed), with dummy credentials in ``os.environ`` for itself and its
subprocesses; nothing but loopback is ever contacted. The server counts the
requests it answers, so each figure comes with its request count.

Prints figures (no pass/fail):

1. upload throughput of a run's artifacts to S3: the reference pipeline's
   products (``outputs/data``, ``model``, ``metrics``, ``notebooks`` when
   present) and a deterministic synthetic set (20 files, 10 KB to 20 MB, fixed
   seed), each uploaded into a fresh prefix with ``Store.put_file`` one file at
   a time (as the recorder does, hashing included; and with the hash given),
   with ``Store.put_files`` when the store has it, and with s3fs's own batched
   ``fs.put([files], [paths])``; MB/s (10^6 bytes) of each, median of
   ``--repeat``, and the ratio nbprod / s3fs (goal >= 0.8x);
2. bytes a second identical run adds: ``nbprod build --force`` of the reference
   project (a temporary git repo) twice against ``s3://nbprod-bench/bench``;
   bytes added per prefix (objects/, runs/, summaries/, index/) by each run,
   and which objects run 2 added (goal: none, for unchanged artifacts), with
   the products whose hash differs between the two builds;
3. listing: a local folder and an S3 store filled with ``--runs`` synthetic
   records through ``Store.write_record`` (compaction into packs every 100
   loose summaries, as automatic compaction does), then ``nbprod runs ls`` and
   ``nbprod runs ls --all`` (CLI wall, incl. interpreter start-up, median of
   ``--repeat``), in-process ``Store.summaries(limit=20)``, and what one more
   ``write_record`` costs at that store size. Targets on loopback S3: 1,000
   runs under 1 s, 10,000 under 2 s.

Usage: python benchmarks/bench_store.py [--repeat 3] [--runs 1000,10000] [--skip-build]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "src"))

BUCKET = "nbprod-bench"
MB = 1e6
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench-key-id",
    "AWS_SECRET_ACCESS_KEY": "bench-secret-value",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask 169.254.169.254 for credentials
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
PRODUCT_DIRS = ("data", "model", "metrics", "notebooks")

# The S3 server, run as `python -c SERVER`: moto's ThreadedMotoServer on
# 127.0.0.1:0, its WSGI app wrapped to count requests by kind and bytes in/out
# (GET /__bench/counts[?reset=1] answers them). Stops when stdin closes.
SERVER = r"""
import collections, json, logging, sys, threading
from moto.moto_server import threaded_moto_server as tms

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

lock = threading.Lock()
ops, nbytes = collections.Counter(), collections.Counter()

def classify(environ):
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "").strip("/")
    params = {q.split("=")[0] for q in environ.get("QUERY_STRING", "").split("&") if q}
    what = "object" if "/" in path and path.split("/", 1)[1] else "bucket"
    if method == "GET" and what == "bucket":
        what = "bucket (list)"
    for word in ("delete", "uploads", "uploadId"):
        if word in params:
            what += f" ?{word}"
            break
    return f"{method} {what}"

def wrap(app):
    def counted(environ, start_response):
        if environ.get("PATH_INFO") == "/__bench/counts":
            with lock:
                body = json.dumps({"ops": dict(ops), "in": nbytes["in"], "out": nbytes["out"]}).encode()
                if "reset" in environ.get("QUERY_STRING", ""):
                    ops.clear()
                    nbytes.clear()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        op = classify(environ)
        def respond(status, headers, exc_info=None):
            sent = 0
            if environ["REQUEST_METHOD"] != "HEAD":
                sent = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
            with lock:
                ops[op] += 1
                nbytes["in"] += int(environ.get("CONTENT_LENGTH") or 0)
                nbytes["out"] += sent
            return start_response(status, headers, exc_info)
        return app(environ, respond)
    return counted

make_server = tms.make_server
tms.make_server = lambda host, port, app, *a, **kw: make_server(host, port, wrap(app), *a, **kw)
server = tms.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(json.dumps(server.get_host_and_port()), flush=True)
sys.stdin.read()
server.stop()
"""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- the S3 server ----------------------------------------------------------------


class S3Server:
    def __init__(self, work: Path):
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(key, None)
        os.environ.update(S3_ENV)
        # no user config / credentials files: only the dummy values above
        (work / "aws").mkdir(exist_ok=True)
        os.environ["AWS_CONFIG_FILE"] = str(work / "aws" / "config")
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(work / "aws" / "credentials")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: the moto server did not start (pip install 'moto[server]')")
        host, port = json.loads(line)
        assert host == "127.0.0.1", host
        self.endpoint = f"http://127.0.0.1:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint

    def counts(self, reset: bool = True) -> dict:
        url = f"{self.endpoint}/__bench/counts" + ("?reset=1" if reset else "")
        with urllib.request.urlopen(url) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def boto():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def listing(client, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` with its size (boto3 directly: no cache)."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = obj["Size"]
    return found


def fmt_ops(counts: dict, per: int = 1) -> str:
    """``N requests (a GET object, b HEAD object, ...)``, divided by ``per`` calls."""
    ops = counts.get("ops", {})
    total = sum(ops.values())
    parts = ", ".join(f"{n / per:.3g} {op}" for op, n in sorted(ops.items(), key=lambda kv: -kv[1]))
    unit = "" if per == 1 else " per call"
    return f"{total / per:.3g} requests{unit} ({parts})"


def env_for(store: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBPROD_", "PLOOMBER_"))}
    env.update(
        NBPROD_STORE=store,
        NBPROD_SPOOL=str(work / "spool"),
        PLOOMBER_STATS_ENABLED="false",
        PLOOMBER_VERSION_CHECK_DISABLED="true",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return elapsed


# -- 1. upload throughput -------------------------------------------------------------


def reference_products() -> list[Path]:
    root = REPO / "outputs"
    files = []
    for name in PRODUCT_DIRS:
        if (root / name).is_dir():
            files += sorted(p for p in (root / name).rglob("*") if p.is_file() and not p.name.startswith("."))
    return files


def synthetic_products(folder: Path, count: int = 20, smallest: int = 10_000, largest: int = 20_000_000) -> list[Path]:
    """``count`` incompressible files, sizes spaced geometrically, fixed seed."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261124)
    files = []
    for i in range(count):
        size = int(smallest * (largest / smallest) ** (i / (count - 1)))
        path = folder / f"artifact-{i:02d}.bin"
        path.write_bytes(rng.randbytes(size))
        files.append(path)
    return files


def bench_upload(server: S3Server, label: str, files: list[Path], repeat: int) -> None:
    import s3fs

    from nbprod.files import sha256_file
    from nbprod.store import Store

    total = sum(p.stat().st_size for p in files)
    hashes = {p: sha256_file(p) for p in files}
    s3 = s3fs.S3FileSystem(skip_instance_cache=True)
    client = boto()

    def s3fs_put(prefix: str, files: list[Path]) -> None:
        s3.put([str(p) for p in files], [f"{BUCKET}/{prefix}/{p.name}" for p in files])

    def nbprod_put(prefix: str, files: list[Path]) -> None:
        store = Store(f"s3://{BUCKET}/{prefix}")
        for p in files:
            store.put_file(p)

    def nbprod_put_hashed(prefix: str, files: list[Path]) -> None:
        store = Store(f"s3://{BUCKET}/{prefix}")
        for p in files:
            store.put_file(p, hashes[p])

    def nbprod_put_files(prefix: str, files: list[Path]) -> None:
        Store(f"s3://{BUCKET}/{prefix}").put_files([(p, None) for p in files])

    methods = {
        "s3fs fs.put([files], [paths]) (batched)": s3fs_put,
        "nbprod Store.put_file, one at a time": nbprod_put,
        "nbprod Store.put_file, sha256 given": nbprod_put_hashed,
    }
    if hasattr(Store, "put_files"):
        methods["nbprod Store.put_files (batched)"] = nbprod_put_files

    # warm-up (connections, clients), not timed
    for i, (name, fn) in enumerate(list(methods.items())):
        try:
            fn(f"upload/warmup-{i}", files[:2])
        except TypeError as err:  # put_files with a signature this benchmark does not know
            print(f"({name} not measured: {err})")
            del methods[name]
    times: dict[str, list[float]] = {name: [] for name in methods}
    requests: dict[str, dict] = {}
    again: dict[str, list[float]] = {}
    requests_again: dict[str, dict] = {}
    for rep in range(repeat):
        for i, (name, fn) in enumerate(methods.items()):
            prefix = f"upload/{label}-{rep}-{i}"
            server.counts(reset=True)
            t0 = time.perf_counter()
            fn(prefix, files)
            times[name].append(time.perf_counter() - t0)
            requests[name] = server.counts(reset=True)
            stored = listing(client, prefix + "/")
            if sum(stored.values()) != total or len(stored) != len(files):
                log(f"{name}: stored {len(stored)} objects, {sum(stored.values())} bytes (expected {total})")
            # the same files again (a second identical run): s3fs sends every byte
            # again, nbprod only asks whether each object is there
            server.counts(reset=True)
            t0 = time.perf_counter()
            fn(prefix, files)
            again.setdefault(name, []).append(time.perf_counter() - t0)
            requests_again[name] = server.counts(reset=True)
    s3.rm(f"{BUCKET}/upload", recursive=True)

    t0 = time.perf_counter()
    for p in files:
        sha256_file(p)
    hash_s = time.perf_counter() - t0

    print(f"\n## 1. upload: {label}: {len(files)} files, {total / MB:.2f} MB "
          f"(largest {max(p.stat().st_size for p in files) / MB:.2f} MB), median of {repeat}")
    base = statistics.median(times[next(iter(methods))])
    width = max(map(len, methods))
    for name in methods:
        t = statistics.median(times[name])
        print(f"{name:<{width}}  {t:7.3f} s  {total / MB / t:8.1f} MB/s  "
              f"{base / t:5.2f}x of s3fs   {fmt_ops(requests[name])}")
    print(f"{'sha256 of the files alone (in put_file)':<{width}}  {hash_s:7.3f} s  {total / MB / hash_s:8.1f} MB/s")
    ratio = base / statistics.median(times["nbprod Store.put_file, one at a time"])
    verdict = "meets" if ratio >= 0.8 else "MISSES"
    print(f"nbprod put_file / s3fs batched: {ratio:.2f}x ({verdict} the >= 0.8x goal)")
    per_file = sum(requests["nbprod Store.put_file, one at a time"]["ops"].values()) / len(files)
    print(f"  Store.put_file one at a time: {per_file:.1f} requests per new file in a row "
          f"({fmt_ops(requests['nbprod Store.put_file, one at a time'])}); fs.put sends its PUTs concurrently")
    if "nbprod Store.put_files (batched)" in methods:
        r = base / statistics.median(times["nbprod Store.put_files (batched)"])
        print(f"nbprod put_files / s3fs batched: {r:.2f}x ({'meets' if r >= 0.8 else 'MISSES'} the >= 0.8x goal)")
    else:
        print("  (Store.put_files does not exist: not measured)")
    print("the same files uploaded again (all already stored):")
    for name in methods:
        print(f"  {name:<{width}}  {statistics.median(again[name]):7.3f} s   {fmt_ops(requests_again[name])}")


# -- 2. bytes added by a second identical run -----------------------------------------------


def git_init(path: Path) -> None:
    def git(*args):
        subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
                       cwd=path, check=True, capture_output=True, text=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "bench")


def by_prefix(keys: dict[str, int], root: str) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for key, size in keys.items():
        top = key[len(root):].split("/", 1)[0] + "/"
        row = out.setdefault(top, [0, 0])
        row[0] += 1
        row[1] += size
    return {k: (v[0], v[1]) for k, v in out.items()}


def referenced(record) -> dict[str, dict]:
    """sha256 -> {task, what} for every object a record references."""
    found: dict[str, dict] = {}
    for task in record.tasks:
        for product in task.products:
            found.setdefault(product.get("sha256"), {"task": task.name, "what": f"product {product.get('name')} ({product.get('path')})"})
        for name, scrap in task.scraps.items():
            artifact = scrap.get("artifact") if isinstance(scrap, dict) else None
            if artifact:
                found.setdefault(artifact.get("sha256"), {"task": task.name, "what": f"scrap {name}"})
    return found


def bench_rebuild(server: S3Server, work: Path):
    """Returns the second build's record (a template for part 3), or None."""
    from nbprod.store import Store

    project = work / "project"
    project.mkdir()
    for name in ("notebooks", "pipeline.yaml", "env.yaml"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(src, project / name)
    (project / ".gitignore").write_text("outputs/\n")
    git_init(project)
    url = f"s3://{BUCKET}/bench"
    env = env_for(url, work)
    client = boto()
    root = "bench/"

    print("\n## 2. bytes added by a second identical run (nbprod build --force, reference project, S3)")
    snapshots = [listing(client, root)]
    walls, requests = [], []
    for i in (1, 2):
        log(f"build {i} ...")
        server.counts(reset=True)
        walls.append(timed(["nbprod", "build", "--force"], project, env))
        requests.append(server.counts(reset=True))
        snapshots.append(listing(client, root))
    spooled = [p for p in (work / "spool").rglob("*") if p.is_file()] if (work / "spool").exists() else []
    if spooled:
        print(f"WARNING: {len(spooled)} files in the local spool: a build did not reach the store")

    store = Store(url)
    ids = store.run_ids()
    records = [store.read_record(i) for i in sorted(ids)[-2:]]
    prefixes = ("objects/", "runs/", "summaries/", "index/")
    print(f"{'':9}{'wall':>8}" + "".join(f"{p:>22}" for p in prefixes) + f"{'deleted':>18}  requests")
    for i in (1, 2):
        before, after = snapshots[i - 1], snapshots[i]
        added = {k: s for k, s in after.items() if k not in before or before[k] != s}
        deleted = {k: s for k, s in before.items() if k not in after}
        rows = by_prefix(added, root)
        cells = "".join(f"{f'{rows.get(p, (0, 0))[1]:,} B ({rows.get(p, (0, 0))[0]})':>22}" for p in prefixes)
        other = sorted(set(rows) - set(prefixes))
        extra = f"  other: {', '.join(f'{p} {rows[p][1]:,} B' for p in other)}" if other else ""
        print(f"run {i}:{walls[i - 1]:9.1f} s" + cells + f"{f'{sum(deleted.values()):,} B ({len(deleted)})':>18}"
              f"  {sum(requests[i - 1]['ops'].values())}{extra}")
    print("(bytes added, objects added in parentheses; 'deleted' = loose summaries / packs removed by compaction)")

    before, after = snapshots[1], snapshots[2]
    new_objects = {k: s for k, s in after.items() if k.startswith(root + "objects/") and k not in before}
    print(f"objects/ added by run 2: {sum(new_objects.values()):,} bytes in {len(new_objects)} objects "
          f"({'goal met: nothing unchanged was stored again' if not new_objects else 'goal: 0 bytes'})")
    if len(records) == 2:
        first, second = records
        what = referenced(second)
        notebooks = {t.notebook.get("sha256") for t in second.tasks if t.notebook}
        for key, size in sorted(new_objects.items()):
            sha = key.split("/")[-2] + key.split("/")[-1]
            obj = what.get(sha, {})
            executed = " = the executed notebook (cell timings differ per run)" if sha in notebooks else ""
            print(f"  {size:>10,} B  {obj.get('task', '?')}: {obj.get('what', 'not referenced by run 2')}{executed}  ({sha[:12]})")
        old = {(t.name, p["name"]): p["sha256"] for t in first.tasks for p in t.products}
        new = {(t.name, p["name"]): p["sha256"] for t in second.tasks for p in t.products}
        changed = sorted(k for k in new if old.get(k) != new[k])
        same = sorted(k for k in new if old.get(k) == new[k])
        print(f"products identical in both builds: {', '.join(f'{t}.{n}' for t, n in same) or 'none'}")
        print(f"products that differ between builds (determinism): "
              f"{', '.join(f'{t}.{n}' for t, n in changed) or 'none'}")
        nbs = [t.notebook for t in second.tasks if t.notebook]
        per_run = sum(n.get("size") or 0 for n in nbs if str(n.get("key", "")).startswith("runs/"))
        by_content = sum(n.get("size") or 0 for n in nbs if str(n.get("key", "")).startswith("objects/"))
        print(f"run 2's executed notebooks: {by_content:,} B by content under objects/, {per_run:,} B under runs/<id>/; "
              f"record.json {snapshots[2].get(f'{root}runs/{second.run_id}/record.json', 0):,} B")
        return second
    return None


# -- 3. listing --------------------------------------------------------------------------


def template_record(from_build):
    from nbprod import schema as records
    from nbprod.store import Store

    if from_build is not None:
        return from_build, "the second build's record"
    local = REPO / "outputs" / "store"
    if (local / "summaries").is_dir() or (local / "index").is_dir():
        try:
            st = Store(str(local))
            ids = st.run_ids()
            if ids:
                return st.read_record(ids[0]), f"{local.relative_to(REPO)} record {ids[0]}"
        except Exception as err:  # an old or foreign record: fall back
            log(f"cannot use {local}: {err}")
    task = records.TaskRecord(name="train", kind="notebook", status=records.TASK_SUCCEEDED,
                              scraps={"accuracy": {"value": 0.97}})
    return records.RunRecord(run_id=records.new_run_id(), status=records.SUCCEEDED,
                             started_at=records.isoformat(records.utcnow()), duration_s=20.0,
                             tasks=[task]), "a minimal synthetic record"


class Filler:
    """Adds synthetic runs to a store through ``Store.write_record``.

    Writes are concurrent (threads) with compaction held back, then
    ``compact(force=True)`` each time ``COMPACT_AT`` loose summaries exist:
    the same packs automatic compaction makes, without every write reading
    the packs (which is what ``write_record``'s own compaction check does).
    """

    def __init__(self, store, template, threads: int):
        from nbprod import schema as records

        self.store = store
        self.template = template
        self.threads = threads
        self.base = records.utcnow() - timedelta(days=400)
        self.next = 0
        self.count = len(store.run_ids())
        self.loose = len(store._index()[1])

    def new_record(self):
        from nbprod import schema as records

        self.next += 1
        return replace(self.template, run_id=records.new_run_id(self.base + timedelta(seconds=self.next)))

    def fill(self, target: int, label: str) -> float:
        from nbprod.store import Store
        from nbprod.store.index import COMPACT_AT

        store = self.store
        store.compact = lambda force=False: None  # held back; forced below
        t0 = time.perf_counter()
        last = t0
        try:
            with ThreadPoolExecutor(self.threads) as pool:
                while self.count < target:
                    batch = [self.new_record() for _ in range(min(COMPACT_AT - self.loose, target - self.count))]
                    list(pool.map(store.write_record, batch))
                    self.count += len(batch)
                    self.loose += len(batch)
                    if self.loose >= COMPACT_AT:
                        Store.compact(store, force=True)
                        self.loose = 0
                    if time.perf_counter() - last > 5:
                        last = time.perf_counter()
                        log(f"{label}: {self.count:,}/{target:,} runs, {last - t0:.0f} s")
        finally:
            del store.compact
        return time.perf_counter() - t0

    def write_cost(self, n: int = 10) -> list[float]:
        """Seconds per plain ``write_record`` (its own compaction check included)."""
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.store.write_record(self.new_record())
            out.append(time.perf_counter() - t0)
            self.count += 1
            self.loose += 1
        return out


def bench_listing(server: S3Server, work: Path, sizes: list[int], repeat: int, template, origin: str) -> None:
    from nbprod.store import Store

    print(f"\n## 3. listing (template: {origin}; {len(json.dumps(template.to_dict(), default=str)):,} B record, "
          f"{len(json.dumps(template.summary(), default=str)):,} B summary); CLI = median of {repeat}, incl. start-up")
    help_s = statistics.median(timed(["nbprod", "--help"], work, env_for(str(work), work)) for _ in range(repeat))
    imp_s = statistics.median(timed([sys.executable, "-c", "import s3fs"], work, env_for(str(work), work))
                              for _ in range(repeat))
    print(f"nbprod --help (interpreter + click start-up): {help_s:.3f} s; python -c 'import s3fs': {imp_s:.3f} s")
    targets = {1000: 1.0, 10000: 2.0}
    for kind in ("local", "s3"):
        url = str(work / "store-many") if kind == "local" else f"s3://{BUCKET}/many"
        store = Store(url)
        filler = Filler(store, template, threads=4 if kind == "local" else 16)
        env = env_for(url, work)
        for n in sizes:
            add = n - filler.count
            fill_s = filler.fill(n, f"{kind} fill")
            server.counts(reset=True)
            ls = statistics.median(timed(["nbprod", "runs", "ls"], work, env) for _ in range(repeat))
            ls_req = server.counts(reset=True)
            ls_all = statistics.median(timed(["nbprod", "runs", "ls", "--all"], work, env) for _ in range(repeat))
            fresh = Store(url)
            inproc = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                rows = fresh.summaries(limit=20)
                inproc.append(time.perf_counter() - t0)
            assert len(rows) == min(20, filler.count), len(rows)
            all_rows = fresh.summaries()
            if len(all_rows) != filler.count:
                print(f"WARNING: summaries() lists {len(all_rows)} runs, {filler.count} written")
            server.counts(reset=True)
            write = filler.write_cost()
            wr_req = server.counts(reset=True)
            packs = [k for k in store.list_keys("index")]
            pack_bytes = sorted((k["size"] or 0 for k in packs), reverse=True)[:2]
            goal = targets.get(n)
            verdict = f" (target < {goal:g} s: {'met' if ls < goal else 'MISSED'})" if kind == "s3" and goal else ""
            print(f"\n{kind}, {n:,} runs: filled {add:,} runs in {fill_s:.1f} s "
                  f"({add / fill_s if fill_s else 0:.0f} runs/s, {filler.threads} threads); "
                  f"{len(packs)} packs, newest two {', '.join(f'{b / MB:.2f} MB' for b in pack_bytes)}")
            print(f"  nbprod runs ls (newest 20):     {ls:.3f} s{verdict}")
            print(f"  nbprod runs ls --all:           {ls_all:.3f} s")
            print(f"  Store.summaries(limit=20):      {statistics.median(inproc):.3f} s in-process "
                  f"(first {inproc[0]:.3f} s)")
            print(f"  one more write_record:          {statistics.median(write) * 1000:.1f} ms "
                  f"(median of {len(write)}; it lists the store and reads the newest packs to decide on compaction)")
            if kind == "s3":
                print(f"  requests: runs ls {fmt_ops(ls_req, repeat)}; moto sent {ls_req['out'] / repeat / MB:.2f} MB per ls")
                print(f"  requests: write_record {fmt_ops(wr_req, len(write))}; "
                      f"moto sent {wr_req['out'] / len(write) / MB:.2f} MB per write")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", default="1000,10000", help="comma-separated store sizes for part 3")
    parser.add_argument("--skip-build", action="store_true", help="skip part 2 (two pipeline builds)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.runs.split(",") if s.strip())

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="nbprod-bench-store-"))
    server = S3Server(work)
    try:
        import s3fs

        from nbprod import __version__

        boto().create_bucket(Bucket=BUCKET)
        print(f"# nbprod {__version__} store benchmark: python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
              f"s3fs {s3fs.__version__}, moto server {server.endpoint} (own process), median of {args.repeat}, "
              f"load average {os.getloadavg()[0]:.1f}")
        ref = reference_products()
        if ref:
            bench_upload(server, "reference products (outputs/)", ref, args.repeat)
        else:
            print("\n(no outputs/ products: reference set skipped)")
        bench_upload(server, "synthetic set", synthetic_products(work / "synthetic"), args.repeat)
        shutil.rmtree(work / "synthetic", ignore_errors=True)

        second = None
        if not args.skip_build:
            second = bench_rebuild(server, work)
        template, origin = template_record(second)
        bench_listing(server, work, sizes, args.repeat, template, origin)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s, load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
