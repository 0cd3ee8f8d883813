"""N processes promote at once: exactly one wins, every time, on a folder and on moto's S3 server.

Each worker process promotes its own version (all gated against v1, the production they
start from) as soon as the trial's start file appears; the test then checks that exactly
one promotion event was appended, that production is the winner's version, that every
other worker was refused with the one line naming the move, and that the log's chain holds.
Between trials production is rolled back to v1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from registrykit import KINDS, add_version, open_store

from nbprod.models import log as events
from nbprod.models import registry

WORKERS = 6

WORKER = r"""
import json, sys, time
from pathlib import Path
from nbprod.errors import PromotionConflictError
from nbprod.models import registry
from nbprod.store import Store

url, folder, version, trials = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = Store(url)
for trial in range(trials):
    go = folder / f"go-{trial}"
    while not go.exists():
        time.sleep(0.002)
    try:
        event = registry.promote(store, "penguins", version, reason=f"worker {version} trial {trial}")
        outcome = {"won": True, "n": event["n"]}
    except PromotionConflictError as err:
        outcome = {"won": False, "line": str(err)}
    tmp = folder / f"tmp-{trial}-{version}"
    tmp.write_text(json.dumps(outcome))
    tmp.rename(folder / f"done-{trial}-{version}")  # whole or not at all: the test reads it meanwhile
"""


@pytest.mark.parametrize("kind, trials", [pytest.param("local", 20, id="folder-20"),
                                          pytest.param("s3", 5, id="s3-5")])
def test_exactly_one_of_n_concurrent_promotions_wins(kind, trials, tmp_path, request):
    if kind == "s3":
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto runs in this process
        request.addfinalizer(lambda: logging.getLogger("werkzeug").setLevel(logging.NOTSET))
    store = open_store(kind, tmp_path, request)
    base = add_version(store, 0)
    registry.promote(store, "penguins", base, reason="start")
    candidates = [add_version(store, seed, baseline=base) for seed in range(1, WORKERS + 1)]
    url = store.url
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(tmp_path), str(v), str(trials)],
                              env=env, stderr=subprocess.PIPE, text=True) for v in candidates]
    winners_seen = []
    try:
        time.sleep(1.5)  # every worker imported nbprod and waits for the start file
        for trial in range(trials):
            before = registry.open_registry(store, "penguins").log.n
            (tmp_path / f"go-{trial}").write_text("go")
            outcomes = _wait(tmp_path, trial, candidates, procs)
            winners = [v for v, o in outcomes.items() if o["won"]]
            assert len(winners) == 1, f"trial {trial}: {len(winners)} winners: {outcomes}"
            winner = winners[0]
            winners_seen.append(winner)
            found = registry.open_registry(store, "penguins")
            assert found.aliases["production"] == winner
            appended = found.log.events[before:]
            assert [(e["type"], e["from"], e["to"]) for e in appended] == [("promoted", base, winner)]
            for version, outcome in outcomes.items():
                if version != winner:
                    assert f"production moved from v{base} to v{winner} while you were moving it to v{version}" \
                        in outcome["line"] or f"production is v{winner} now" in outcome["line"], outcome
            registry.rollback(store, "penguins", to=base, reason=f"reset after trial {trial}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()
    assert events.verify(store, "penguins") == []
    print(f"{kind}: {trials} trials x {WORKERS} concurrent promotions, winners {winners_seen}")


def _wait(folder: Path, trial: int, versions: list[int], procs, timeout: float = 120.0) -> dict[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        done = {v: folder / f"done-{trial}-{v}" for v in versions}
        if all(p.exists() for p in done.values()):
            return {v: json.loads(p.read_text()) for v, p in done.items()}
        dead = [p for p in procs if p.poll() not in (None, 0)]
        assert not dead, dead[0].stderr.read()[-3000:]
        assert time.monotonic() < deadline, f"trial {trial}: workers did not finish"
        time.sleep(0.01)
