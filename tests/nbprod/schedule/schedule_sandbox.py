"""Helpers of the schedule tests: nbprod run as a user runs it, a crontab that is not the
machine's, and a command line as cron and systemd hand it to ``/bin/sh``.

The crontab sandbox: the real ``crontab`` binary, run by the real user, inside a mount
namespace (``unshare --mount``) where ``/var/spool/cron/crontabs`` is a folder of the test
(bind-mounted over it). What the binary writes lands there; the machine's crontabs, and the
cron daemon reading them, never see it. It needs root (CI runs as root) and ``cron``
installed; elsewhere those tests are skipped, except under CI=true, where a missing piece
fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
NBPROD = str(BIN / "nbprod")
SPOOL = Path("/var/spool/cron/crontabs")


def user_env(**extra: str) -> dict[str, str]:
    """The test's environment without nbprod's and ploomber's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBPROD_", "PLOOMBER_"))}
    env.update(PLOOMBER_STATS_ENABLED="false", PLOOMBER_VERSION_CHECK_DISABLED="true",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}")
    env.update(extra)
    return env


def nbprod(*args: str, cwd: Path, env: dict[str, str] | None = None, prefix: tuple[str, ...] = (),
           timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, NBPROD, *args], cwd=cwd, env=env or user_env(), capture_output=True,
                          text=True, timeout=timeout)


def cron_command(line: str) -> str:
    """What cron hands ``/bin/sh -c`` for a crontab line: the five time fields cut off, ``\\%``
    made ``%`` (an unescaped ``%`` would end the command: there must be none)."""
    fields = line.split(None, 5)
    assert len(fields) == 6 and not fields[0].startswith("@"), line
    command = fields[5]
    assert not re.search(r"(?<!\\)%", command), f"an unescaped % would cut the command: {command}"
    return command.replace("\\%", "%")


def exec_start(service: str) -> list[str]:
    """``ExecStart=``'s argv as systemd reads it (systemd.service(5), "Command lines"): words
    split on blanks, "..." quoting with C escapes, then ``$$`` -> ``$`` and ``%%`` -> ``%``."""
    value = re.search(r"^ExecStart=(.*)$", service, re.MULTILINE).group(1)
    words, word, quoted, i = [], None, False, 0
    escapes = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "\\":
                i += 1
                word += escapes[value[i]]
            elif c == '"':
                quoted = False
            else:
                word += c
        elif c == '"':
            quoted, word = True, word or ""
        elif c in " \t":
            if word is not None:
                words.append(word)
            word = None
        else:
            word = (word or "") + c
        i += 1
    assert not quoted, value
    if word is not None:
        words.append(word)
    # specifiers and variables are expanded after unquoting; only their doubled forms may appear
    for w in words:
        assert not re.search(r"(?<!%)%(?!%)", w.replace("%%", "")), w
        assert not re.search(r"\$(?!\$)", w.replace("$$", "")), w
    return [w.replace("$$", "$").replace("%%", "%") for w in words]


def bare_run(command: str, home: Path, **popen) -> subprocess.Popen:
    """``command`` as cron runs it, with nothing of this environment: ``env -i HOME=...``."""
    from conftest import default_signals

    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(["env", "-i", f"HOME={home}", "/bin/sh", "-c", command], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_signals, **popen)


class CrontabSandbox:
    """The real ``crontab``, writing into ``folder`` instead of the machine's spool."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir()
        real = SPOOL.stat()
        os.chown(folder, real.st_uid, real.st_gid)
        os.chmod(folder, real.st_mode & 0o7777)

    @property
    def prefix(self) -> tuple[str, ...]:
        """Runs the rest of an argv in a mount namespace where the spool is ``folder``."""
        return ("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                'mount --bind "$0" /var/spool/cron/crontabs && exec "$@"', str(self.folder))

    def crontab(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, "crontab", *args], input=input, capture_output=True, text=True,
                              timeout=60)

    def text(self) -> str:
        done = self.crontab("-l")
        return done.stdout if done.returncode == 0 else ""


def _sandbox_problem() -> str | None:
    if shutil.which("crontab") is None:
        return "crontab is not installed (apt-get install --no-install-recommends cron)"
    if not SPOOL.is_dir():
        return f"{SPOOL} is missing"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "the crontab sandbox needs root and unshare (a mount namespace)"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"no mount namespace here: {probe.stderr.decode(errors='replace').strip()}"
    return None


@pytest.fixture
def crontab_sandbox(tmp_path) -> CrontabSandbox:
    problem = _sandbox_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    real_before = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    yield CrontabSandbox(tmp_path / "crontabs")
    real_after = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    assert (real_after.returncode, real_after.stdout) == (real_before.returncode, real_before.stdout), \
        "the machine's own crontab changed"
