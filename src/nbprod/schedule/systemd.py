"""The job as a systemd user timer: ``nbprod-NAME.service`` and ``nbprod-NAME.timer``.

Why a timer beside cron: ``Persistent=true`` runs a build the machine slept or was off
through once it is back, and ``journalctl --user -u nbprod-NAME`` keeps each run's exit.

The service runs the very command line cron would (:func:`nbprod.schedule.job.command`) as
``ExecStart=/bin/sh -c "..."``, escaped for systemd (``$`` as ``$$``, ``%`` as ``%%``,
backslashes and quotes C-escaped), so both schedulers build the same way and one test of
that line under ``env -i`` covers both. Units go to ``~/.config/systemd/user/`` (or
``$XDG_CONFIG_HOME/systemd/user``; ``--out DIR``), each with a marker comment
(``# nbprod-schedule NAME /abs/project``) that ``nbprod schedule ls`` and ``rm`` read.

The schedule: an ``OnCalendar=`` expression, or a cron expression converted when it maps
one to one (lists, ranges and steps of minutes, hours, days, months, weekdays); one that
restricts both the day of month and the weekday is refused, because cron runs it when
either matches and systemd only when both do. ``systemd-analyze calendar`` checks the
expression and ``systemd-analyze verify`` the units before they are written, where that
command is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..files import atomic_write
from .cron import MARK, NICKNAMES, check_expression
from .job import Job, command

WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")  # cron's 0..6
#: (the field's smallest and largest value) for minute, hour, day of month, month
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12))
_MARKED = re.compile("^" + re.escape(MARK) + r" (?P<name>\S+) (?P<root>.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Units:
    """The two units of a schedule, written (``changed``: their bytes differ from before)."""

    name: str
    calendar: str
    service: Path
    timer: Path
    changed: bool
    next_runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimerEntry:
    name: str
    calendar: str
    root: str
    timer: Path


def units_dir(out: str | os.PathLike | None = None) -> Path:
    if out:
        return Path(os.path.abspath(out))
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "systemd" / "user"


def unit_name(name: str) -> str:
    return f"nbprod-{name}"


def on_calendar(cron_expr: str) -> str:
    """The ``OnCalendar=`` expression that fires when the cron expression does."""
    from croniter import croniter

    expr = check_expression(cron_expr)
    raw = NICKNAMES.get(expr, expr).split()
    if raw[2] != "*" and raw[4] != "*":
        raise ConfigError(f"{cron_expr!r} restricts both the day of month and the weekday: cron runs it when "
                          "either matches, systemd only when both do",
                          hint="give the systemd expression yourself with --on-calendar (see `man systemd.time`)")
    fields = croniter(NICKNAMES.get(expr, expr)).expanded
    minute, hour, day, month = (_field(values, low, high) for values, (low, high) in zip(fields, _BOUNDS))
    weekdays = "" if fields[4] == ["*"] else ",".join(WEEKDAYS[d % 7] for d in sorted({d % 7 for d in fields[4]}))
    when = f"*-{month}-{day} {hour}:{minute}:00"
    return f"{weekdays} {when}" if weekdays else when


def _field(values: list, low: int, high: int) -> str:
    if values == ["*"] or sorted(values) == list(range(low, high + 1)):
        return "*"
    values = sorted(int(v) for v in values)
    if len(values) > 2:
        step = values[1] - values[0]
        if all(b - a == step for a, b in zip(values, values[1:])):
            if values[-1] + step > high:
                return f"{values[0]:02d}/{step}" if step > 1 else f"{values[0]:02d}..{values[-1]:02d}"
            if step == 1:
                return f"{values[0]:02d}..{values[-1]:02d}"
    return ",".join(f"{v:02d}" for v in values)


def check_calendar(expr: str) -> tuple[str, tuple[str, ...]]:
    """(systemd's normalized form, the next 3 times) from ``systemd-analyze calendar``;
    ``(expr, ())`` when that command is not installed. One ConfigError when it refuses."""
    if "\n" in expr or not expr.strip():
        raise ConfigError(f"--on-calendar {expr!r} is empty or holds a line break", hint="see `man systemd.time`")
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return expr.strip(), ()
    done = subprocess.run([analyze, "calendar", "--iterations=3", expr], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ConfigError(f"--on-calendar {expr!r} is not a systemd calendar expression",
                          hint="see `man systemd.time`, e.g. '*-*-* 02:00:00' or 'Mon..Fri 06:30'")
    normalized = re.search(r"Normalized form:\s*(.+)", done.stdout)
    times = re.findall(r"(?:Next elapse|Iter\. #\d+):\s*(.+)", done.stdout)
    return (normalized.group(1).strip() if normalized else expr.strip()), tuple(t.strip() for t in times)


def systemd_quote(text: str) -> str:
    """``text`` as one double-quoted word of an ``Exec*=`` line: systemd removes what this adds."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'"{escaped}"'


def unit_texts(job: Job, calendar: str) -> tuple[str, str]:
    """(the .service, the .timer) for ``job`` at ``calendar``."""
    marker = f"{MARK} {job.name} {job.root}"
    about = f"nbprod schedule {job.name}: build {job.root}".replace("%", "%%")
    service = (f"{marker}\n# Written by `nbprod schedule systemd`; the log: {job.log_file}\n"
               f"[Unit]\nDescription={about}\n\n"
               f"[Service]\nType=oneshot\nExecStart=/bin/sh -c {systemd_quote(command(job))}\n")
    timer = (f"{marker}\n# Written by `nbprod schedule systemd`\n"
             f"[Unit]\nDescription={about} (timer)\n\n"
             f"[Timer]\nOnCalendar={calendar}\nPersistent=true\nUnit={unit_name(job.name)}.service\n\n"
             f"[Install]\nWantedBy=timers.target\n")
    return service, timer


def write_units(job: Job, *, cron_expr: str | None = None, calendar: str | None = None,
                out: str | os.PathLike | None = None) -> Units:
    """Write the two units of ``job`` (checked first), at ``calendar`` or ``cron_expr``."""
    if not (cron_expr or calendar):
        raise ConfigError("no schedule given", hint="give a cron expression, or --on-calendar EXPR")
    if cron_expr and calendar:
        raise ConfigError("both a cron expression and --on-calendar given", hint="give one of them")
    calendar = calendar or on_calendar(cron_expr)
    normalized, runs = check_calendar(calendar)
    service, timer = unit_texts(job, normalized)
    folder = units_dir(out)
    base = unit_name(job.name)
    paths = (folder / f"{base}.service", folder / f"{base}.timer")
    _verify(base, service, timer)
    for path in paths:
        other = _marked(path)
        if other and Path(other[1]) != job.root:
            raise ConfigError(f"schedule {job.name!r} already builds {other[1]} ({path})",
                              hint=f"give this one another --name, or `nbprod schedule rm {job.name}` first")
    changed = False
    for path, text in zip(paths, (service, timer)):
        if not path.exists() or path.read_text() != text:
            atomic_write(path, text.encode())
            changed = True
    return Units(job.name, normalized, paths[0], paths[1], changed, runs)


def _verify(base: str, service: str, timer: str) -> None:
    """``systemd-analyze verify`` on a copy of the units: anything it says is a ConfigError."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    with tempfile.TemporaryDirectory(prefix="nbprod-units-") as tmp:
        files = [Path(tmp) / f"{base}.service", Path(tmp) / f"{base}.timer"]
        files[0].write_text(service)
        files[1].write_text(timer)
        done = subprocess.run([analyze, "verify", *map(str, files)], capture_output=True, text=True, timeout=120)
    said = [l.strip() for l in (done.stderr + done.stdout).splitlines() if l.strip()]
    if done.returncode != 0 or said:
        raise ConfigError(f"systemd-analyze verify refused the units: {said[0] if said else done.returncode}",
                          hint="report it as a bug of nbprod schedule")


def enable(name: str) -> None:
    """``systemctl --user daemon-reload`` then ``enable --now`` the timer."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise ConfigError("systemctl is not installed", hint="the units are written; start them on a systemd machine")
    for args in (["daemon-reload"], ["enable", "--now", f"{unit_name(name)}.timer"]):
        done = subprocess.run([systemctl, "--user", *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            lines = [l for l in done.stderr.splitlines() if l.strip()] or ["no message"]
            raise ConfigError(f"systemctl --user {' '.join(args)} failed: {lines[-1].strip()}",
                              hint="the units are written; is a user systemd running (a login session, or "
                                   "`loginctl enable-linger $USER`)?")


def _marked(path: Path) -> tuple[str, str] | None:
    try:
        match = _MARKED.search(path.read_text())
    except OSError:
        return None
    return (match["name"], match["root"]) if match else None


def entries(out: str | os.PathLike | None = None) -> list[TimerEntry]:
    """nbprod's timers in the units folder."""
    found = []
    for timer in sorted(units_dir(out).glob("nbprod-*.timer")):
        marked = _marked(timer)
        calendar = re.search(r"^OnCalendar=(.*)$", timer.read_text(), re.MULTILINE)
        if marked and timer.name == f"{unit_name(marked[0])}.timer":
            found.append(TimerEntry(marked[0], calendar.group(1) if calendar else "?", marked[1], timer))
    return found


def remove(name: str, out: str | os.PathLike | None = None) -> list[Path]:
    """Stop and disable the timer when a user systemd runs (best effort), remove both units
    and the timers.target.wants link; the paths removed."""
    folder = units_dir(out)
    base = unit_name(name)
    paths = [p for p in (folder / f"{base}.timer", folder / f"{base}.service") if _marked(p)]
    if not paths:
        return []
    systemctl = shutil.which("systemctl")
    if systemctl is not None and out is None:
        subprocess.run([systemctl, "--user", "disable", "--now", f"{base}.timer"], capture_output=True, timeout=120)
    wants = folder / "timers.target.wants" / f"{base}.timer"
    if wants.is_symlink():
        wants.unlink()
    for path in paths:
        path.unlink()
    if systemctl is not None and out is None:
        subprocess.run([systemctl, "--user", "daemon-reload"], capture_output=True, timeout=120)
    return paths
