"""A write that fails for lack of space leaves no temporary file, in the store or in the spool.

A real failure, no patched ``os.write``: each case runs in a subprocess whose
file-size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored) makes any write
past 64 KiB fail with ``EFBIG``, as a full disk fails with ``ENOSPC``. Before
the fix each failed write left a ``.tmp-`` file behind (and each retry
another).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIMIT = 64 << 10

PRELUDE = f"""
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
from nbprod.errors import StoreError
from nbprod.store import Store
root = Path(sys.argv[1])
"""

CASES = {
    "put_file": "Store(str(root / 'store')).put_file(root / 'big.bin')",
    "put_bytes": "Store(str(root / 'store')).put_bytes((root / 'big.bin').read_bytes())",
    "write_key": "Store(str(root / 'store')).write_key('runs/x/notebooks/t.ipynb', (root / 'big.bin').read_bytes())",
    "create_key": "Store(str(root / 'store')).create_key('index/pack-1.json', (root / 'big.bin').read_bytes())",
    "get_file": "Store(str(root / 'full')).get_file(sys.argv[2], root / 'pulled' / 'big.bin')",
}


def run(code: str, *args: str) -> subprocess.CompletedProcess:
    script = PRELUDE + textwrap.dedent(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBPROD_")}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=120)


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp-" in p.name)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(4 * LIMIT))
    return tmp_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_write_that_runs_out_of_space_leaves_no_temporary_file(case, root):
    from nbprod.store import Store

    sha = Store(str(root / "full")).put_file(root / "big.bin")["sha256"]  # written without the limit
    code = f"""
    for attempt in range(3):  # each retry used to leave one more
        try:
            {CASES[case]}
        except StoreError as err:
            print(err)
        else:
            sys.exit("the write did not fail")
    """
    done = run(code, str(root), sha)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("no space left in store") for line in lines), done.stdout
    assert "EFBIG" in lines[0] and "free space on the disk holding" in lines[0]
    for folder in (root / "store", root / "pulled", root / "full"):
        if folder.exists():
            assert leftovers(folder) == [], case
    assert not (root / "pulled" / "big.bin").exists()


def test_a_recording_that_runs_out_of_space_leaves_nothing_in_the_store_or_the_spool(root):
    """The store folder fails, the spool (on the same disk) fails too: the recording
    fails with one error, and neither folder keeps a temporary file, however often it is tried."""
    code = """
    from nbprod import schema
    from nbprod.record.recorder import record_run
    from nbprod.record.session import Session
    from nbprod.record.taskview import EXECUTED, TaskView
    from nbprod.settings import Settings

    settings = Settings(store=str(root / "store"), spool=str(root / "spool"))
    view = TaskView(name="train", kind="function", outcome=EXECUTED, source=None, params={}, upstream=[],
                    products={"model": str(root / "big.bin")}, notebook=None)
    for attempt in range(2):
        try:
            record_run(Session(root=root, argv=["nbprod", "build"]), [view], schema.SUCCEEDED,
                       settings=settings, say=lambda line, err=False: print(line))
        except StoreError as err:
            print("failed:", err)
    """
    done = run(code, str(root))
    assert done.returncode == 0, done.stderr + done.stdout
    failures = [line for line in done.stdout.splitlines() if line.startswith("failed: no space left in store")]
    assert len(failures) == 2, done.stdout + done.stderr
    assert (root / "store").is_dir() and (root / "spool").is_dir()  # both were tried
    assert leftovers(root / "store") == []
    assert leftovers(root / "spool") == []
