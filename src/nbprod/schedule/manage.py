"""What each ``nbprod schedule`` command does, one function each, for the CLI to render.

Why here and not in the CLI: making a schedule is several steps (the job from the
project, ``.nbprod.env``, then the crontab line or the units) and ``ls``/``rm`` look in both
schedulers; the CLI parses, calls one of these and prints what it returns.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from . import cron as _cron
from . import systemd as _systemd
from .envfile import EnvFile, write_env_file
from .job import Job, make_job


@dataclass(frozen=True)
class CronScheduled:
    job: Job
    line: str
    next_runs: tuple[str, ...]
    env_file: EnvFile
    installed: _cron.Installed | None = None


@dataclass(frozen=True)
class SystemdScheduled:
    job: Job
    units: _systemd.Units
    env_file: EnvFile
    enabled: bool = False


@dataclass(frozen=True)
class Listed:
    """One schedule on this machine (``kind``: cron or systemd)."""

    name: str
    kind: str
    schedule: str
    root: str
    where: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "schedule": self.schedule, "project": self.root,
                "where": self.where}


@dataclass(frozen=True)
class Removed:
    name: str
    cron_line: str | None
    unit_files: tuple[Path, ...]


def _job(entry, name, extra, log) -> Job:
    return make_job(entry=entry, name=name, extra=list(extra), log=log)


def schedule_cron(expr: str, *, entry: str | None = None, name: str | None = None, extra=(),
                  log: str | None = None, install: bool = False) -> CronScheduled:
    """The crontab line of the project's build (put into the crontab with ``install``)."""
    expr = _cron.check_expression(expr)
    job = _job(entry, name, extra, log)
    if install:
        _cron.crontab_program()  # no crontab: said before anything is written
    line = _cron.crontab_line(expr, job)
    runs = tuple(t.strftime("%Y-%m-%d %H:%M %Z") for t in _cron.next_runs(expr))
    env_file = write_env_file(job.root)
    installed = _cron.install(expr, job) if install else None
    return CronScheduled(job, line, runs, env_file, installed)


def schedule_systemd(expr: str | None = None, *, calendar: str | None = None, entry: str | None = None,
                     name: str | None = None, extra=(), log: str | None = None, out: str | None = None,
                     enable: bool = False) -> SystemdScheduled:
    """The project's build as a user timer and service, written (and enabled with ``enable``)."""
    job = _job(entry, name, extra, log)
    units = _systemd.write_units(job, cron_expr=expr, calendar=calendar, out=out)
    env_file = write_env_file(job.root)
    if enable:
        _systemd.enable(job.name)
    return SystemdScheduled(job, units, env_file, enable)


def listed(out: str | None = None, *, say=None) -> list[Listed]:
    """Every schedule nbprod made on this machine for this user: crontab lines, then timers."""
    found: list[Listed] = []
    try:
        found += [Listed(e.name, "cron", e.schedule, e.root, "crontab") for e in _cron.entries(_cron.read_crontab())]
    except ConfigError as err:
        if say is not None:
            say(f"nbprod: cron schedules not listed: {err}")
    found += [Listed(e.name, "systemd", e.calendar, e.root, str(e.timer)) for e in _systemd.entries(out)]
    return found


def remove(name: str, out: str | None = None) -> Removed:
    """Remove schedule ``name`` (its crontab line, its units); unknown: one ConfigError."""
    entry = _cron.remove(name) if shutil.which("crontab") else None
    line = entry.line if entry else None
    files = tuple(_systemd.remove(name, out))
    if line is None and not files:
        known = sorted({s.name for s in listed(out)})
        raise ConfigError(f"no schedule named {name!r}",
                          hint=f"`nbprod schedule ls` lists them ({', '.join(known)})" if known
                          else "nbprod schedule ls lists none on this machine")
    return Removed(name, line, files)
