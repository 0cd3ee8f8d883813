"""The job as a crontab line, and the user's crontab read and written with ``crontab``.

Why through the ``crontab`` command and not the spool file: the command is the interface
every cron (Debian's, cronie, BSD) keeps, with the permissions and the daemon's reload it
takes care of. The crontab is read whole (``crontab -l``) and written whole (``crontab -``);
every line that is not nbprod's comes back byte for byte.

A line of nbprod ends with a marker, a shell comment cron passes on to ``/bin/sh``::

    0 2 * * * cd '/abs/project' || exit 2; ... 2>&1 # nbprod-schedule NAME /abs/project

The marker is how ``nbprod schedule ls`` finds the line and ``rm NAME`` removes exactly that
one. A schedule's name is its identity: installing a name again replaces its line (the same
line twice is left alone: one line), and a name already used by another project is refused.
``%`` (a newline for cron) is written as ``\\%``.

Expressions: five fields, or one of cron's nicknames (``@daily``...), checked with croniter;
croniter's extensions that cron does not understand (``L``, ``W``, ``#``, ``?``, ``H``, a seconds
field) and ``@reboot`` (no times to show) are refused in one line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from .job import Job, command

MARK = "# nbprod-schedule"
NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
             "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
EXAMPLE = "write it like '0 2 * * *' (02:00 every day; the fields: minute hour day-of-month month day-of-week)"
_ENTRY = re.compile(r"^\s*(?P<when>@\S+|(?:\S+\s+){4}\S+)\s+(?P<command>.*?)\s+"
                    + re.escape(MARK) + r" (?P<name>\S+) (?P<root>.+?)\s*$")


@dataclass(frozen=True)
class CronEntry:
    """One of nbprod's lines in a crontab."""

    name: str
    schedule: str
    root: str
    line: str


@dataclass(frozen=True)
class Installed:
    """What ``--install`` did: ``added``, ``replaced`` (the name's old line) or ``unchanged``."""

    action: str
    line: str
    replaced: str | None = None


def check_expression(expr: str) -> str:
    """``expr`` with its fields separated by single spaces, or one ConfigError saying why not."""
    from croniter import CroniterBadDateError, CroniterError, croniter

    text = " ".join(str(expr).split())
    fields = text.split(" ") if text else []

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"{expr!r} is not a cron schedule: {why}", hint=EXAMPLE)

    if text.lower() == "@reboot":
        raise refuse("@reboot runs at boot, not at times nbprod can show or systemd can keep")
    if text.startswith("@"):
        if text.lower() not in NICKNAMES:
            raise refuse(f"cron knows {', '.join(sorted(set(NICKNAMES)))}")
        return text.lower()
    if len(fields) != 5:
        raise refuse(f"cron takes 5 fields, this has {len(fields)}")
    plain = re.sub(r"(?i)(?<![a-z])(?:" + "|".join(_NAMES) + r")(?![a-z])", "", text)
    odd = sorted({c for c in plain.upper() if c in "LW#?H"})
    if odd:
        raise refuse(f"{odd[0]!r} is croniter's extension, which cron does not understand")
    try:
        croniter(text).get_next(datetime)
    except CroniterBadDateError:
        raise refuse("it never fires") from None
    except (CroniterError, ValueError, KeyError) as err:
        reason = str(err).replace(f"[{text}]", "").strip().removeprefix("is not acceptable").strip(", ")
        raise refuse(f"{reason} (croniter)" if reason else "croniter cannot parse it") from None
    return text


#: the names cron takes in the month and weekday fields (their letters are not extensions)
_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
          "sun", "mon", "tue", "wed", "thu", "fri", "sat")


def next_runs(expr: str, count: int = 3, start: datetime | None = None) -> list[datetime]:
    """The next ``count`` times ``expr`` fires after ``start`` (default now), local time."""
    from croniter import croniter

    base = (start or datetime.now()).astimezone()
    it = croniter(NICKNAMES.get(expr, expr), base)
    return [it.get_next(datetime) for _ in range(count)]


def crontab_line(expr: str, job: Job) -> str:
    """The line for the user's crontab: schedule, command, marker; ``%`` escaped."""
    text = f"{check_expression(expr)} {command(job)} {MARK} {job.name} {job.root}"
    return text.replace("%", "\\%")


def entries(text: str) -> list[CronEntry]:
    """nbprod's lines in the crontab ``text``."""
    found = []
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match and not line.lstrip().startswith("#"):
            found.append(CronEntry(name=match["name"], schedule=match["when"],
                                   root=match["root"].replace("\\%", "%"), line=line))
    return found


def crontab_program() -> str:
    """The ``crontab`` command's path, or one ConfigError saying how to get it."""
    program = shutil.which("crontab")
    if program is None:
        raise ConfigError("the crontab command is not installed",
                          hint="install cron (Debian, Ubuntu: apt-get install cron), or leave out --install "
                               "and add the printed line to your scheduler yourself")
    return program


def read_crontab() -> str:
    """The user's crontab (``crontab -l``); empty when there is none."""
    done = subprocess.run([crontab_program(), "-l"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        if "no crontab" in done.stderr.lower():
            return ""
        raise ConfigError(f"crontab -l failed: {_last_line(done.stderr)}", hint="see `man crontab`")
    return done.stdout


def write_crontab(text: str) -> None:
    done = subprocess.run([crontab_program(), "-"], input=text, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ConfigError(f"crontab refused the new crontab: {_last_line(done.stderr)}",
                          hint="see `man crontab` (is cron allowed for this user? /etc/cron.allow)")


def install(expr: str, job: Job) -> Installed:
    """Put ``job``'s line into the user's crontab, once (see the module docstring)."""
    line = crontab_line(expr, job)
    text = read_crontab()
    mine = [e for e in entries(text) if e.name == job.name]
    for entry in mine:
        if Path(entry.root) != job.root:
            raise ConfigError(f"schedule {job.name!r} already builds {entry.root}",
                              hint=f"give this one another --name, or `nbprod schedule rm {job.name}` first")
    if [e.line for e in mine] == [line]:
        return Installed("unchanged", line)
    old, lines = {e.line for e in mine}, []
    for existing in text.splitlines():
        if existing not in old:
            lines.append(existing)
        elif line not in lines:  # where the name's old line was
            lines.append(line)
    if line not in lines:
        lines.append(line)
    write_crontab("".join(f"{l}\n" for l in lines))
    return Installed("replaced" if mine else "added", line, replaced=mine[0].line if mine else None)


def remove(name: str) -> CronEntry | None:
    """Take schedule ``name``'s line out of the user's crontab; None when it has none."""
    text = read_crontab()
    mine = [e for e in entries(text) if e.name == name]
    if not mine:
        return None
    gone = {e.line for e in mine}
    write_crontab("".join(f"{l}\n" for l in text.splitlines() if l not in gone))
    return mine[0]


def _last_line(text: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else "no message"
