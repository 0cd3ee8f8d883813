"""Run ids unique across processes: forked ones (multiprocessing, ploomber's parallel
executor), started ones (separate builds, other machines), all in the same second."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone

from nbprod.schema import RUN_ID, new_run_id

MOMENT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)  # every id in one second: only the suffix differs
PROCESSES, IDS = 8, 20  # a chance of ~1e-4 that random bases overlap; a shared base repeats every id


def _ids(_: int) -> tuple[int, list[str]]:
    return os.getpid(), [new_run_id(MOMENT) for _ in range(IDS)]


def test_forked_processes_do_not_repeat_their_parents_ids():
    parent = [new_run_id(MOMENT) for _ in range(IDS)]  # the parent has drawn its base before forking
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        results = list(pool.map(_ids, range(PROCESSES * 4)))
    pids = {pid for pid, _ in results}
    ids = parent + [i for _, batch in results for i in batch]
    assert len(pids) > 1  # really several processes
    assert len(set(ids)) == len(ids), f"{len(ids) - len(set(ids))} repeated ids"
    assert all(RUN_ID.fullmatch(i) for i in ids)


def test_separately_started_processes_make_distinct_ids():
    code = ("from datetime import datetime, timezone\nfrom nbprod.schema import new_run_id\n"
            f"print(*(new_run_id(datetime(2026, 12, 1, 12, tzinfo=timezone.utc)) for _ in range({IDS})))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    ids = [i for p in procs for i in p.communicate(timeout=120)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    assert len(ids) == PROCESSES * IDS and len(set(ids)) == len(ids)


def test_one_process_never_repeats_an_id():
    ids = [new_run_id(MOMENT) for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
