"""``nbprod schedule cron|systemd|ls|rm``: the pipeline as a scheduled job on this machine."""

from __future__ import annotations

import click

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": False}
_COMMON_HELP = """
    The job cds into the project, reads .nbprod.env there (written now: the NBPROD_*
    settings of this shell, never credentials; your edits are kept), runs this venv's
    `nbprod build --tag schedule=NAME` and appends everything to the log (default
    .nbprod/logs/schedule-NAME.log). A run that starts while another build of the
    project runs exits 2 at once (the build lock) and records nothing.
"""


def _options(command):
    for decorator in reversed([
        click.option("-e", "--entry-point", "entry", metavar="PATH", help="The pipeline file [pipeline.yaml, here or above]."),
        click.option("--name", metavar="NAME", help="The schedule's name [the project folder's]."),
        click.option("--log", metavar="PATH", help="The log the job appends to [.nbprod/logs/schedule-NAME.log]."),
        click.argument("env_args", nargs=-1, type=click.UNPROCESSED, metavar="[--env--NAME VALUE]..."),
    ]):
        command = decorator(command)
    return command


def _say_env_file(env_file) -> None:
    from . import say

    done = "wrote" if env_file.created else ("added to" if env_file.added else "unchanged:")
    say(f"nbprod: {done} {env_file.path}" + (f" ({', '.join(env_file.added)})" if env_file.added else ""))
    for name in env_file.kept:
        say(f"nbprod: {env_file.path.name} keeps its own {name}, not this shell's: edit the file to change it")
    for name, why in env_file.skipped:
        say(f"nbprod: {name} left out of {env_file.path.name}: it holds {why}; give the job credentials yourself")
    if env_file.ignored_by:
        say(f"nbprod: added {env_file.path.name} to {env_file.ignored_by} (commit that)")
    if env_file.tracked:
        say(f"nbprod: warning: git tracks {env_file.path.name}: `git rm --cached {env_file.path.name}`")


@click.group()
def schedule() -> None:
    """Schedule the pipeline on this machine (cron, systemd timers)."""


@schedule.command("cron", context_settings=_PASS_THROUGH)
@click.argument("expression", metavar="SCHEDULE")
@_options
@click.option("--install", is_flag=True, help="Add the line to your crontab (with `crontab`), once.")
def schedule_cron(expression: str, entry: str | None, name: str | None, log: str | None,
                  env_args: tuple[str, ...], install: bool) -> None:
    """Print the crontab line that builds the pipeline at SCHEDULE (a cron expression,
    quoted: "0 2 * * *"), or add it with --install. Parameters: --env--NAME VALUE.
    """
    from ..schedule.manage import schedule_cron as make
    from . import say

    done = make(expression, entry=entry, name=name, extra=env_args, log=log, install=install)
    click.echo(done.line)
    say(f"nbprod: next runs: {', '.join(done.next_runs)}")
    say(f"nbprod: log: {done.job.log_file}")
    _say_env_file(done.env_file)
    if done.installed is not None:
        say(f"nbprod: crontab: {done.installed.action} schedule {done.job.name!r}"
            + (" (one line already)" if done.installed.action == "unchanged" else ""))


schedule_cron.help += _COMMON_HELP  # type: ignore[operator]


@schedule.command("systemd", context_settings=_PASS_THROUGH)
@click.argument("expression", metavar="[SCHEDULE]", required=False)
@click.option("--on-calendar", "calendar", metavar="EXPR",
              help="A systemd calendar expression ('*-*-* 02:00:00') instead of a cron SCHEDULE.")
@_options
@click.option("--out", metavar="DIR", help="Where to write the units [~/.config/systemd/user].")
@click.option("--enable", is_flag=True, help="Then `systemctl --user daemon-reload` and `enable --now` the timer.")
def schedule_systemd(expression: str | None, calendar: str | None, entry: str | None, name: str | None,
                     log: str | None, env_args: tuple[str, ...], out: str | None, enable: bool) -> None:
    """Write nbprod-NAME.service and nbprod-NAME.timer (user units, Persistent=true) that
    build the pipeline at SCHEDULE (a cron expression, converted) or --on-calendar EXPR.
    Parameters: --env--NAME VALUE.
    """
    from ..schedule.manage import schedule_systemd as make
    from . import say

    if expression is not None and expression.startswith("--env--"):  # no SCHEDULE, only parameters
        env_args, expression = (expression, *env_args), None
    done = make(expression, calendar=calendar, entry=entry, name=name, extra=env_args, log=log, out=out,
                enable=enable)
    click.echo(f"nbprod: {'wrote' if done.units.changed else 'unchanged:'} {done.units.service}")
    click.echo(f"nbprod: {'wrote' if done.units.changed else 'unchanged:'} {done.units.timer}")
    say(f"nbprod: OnCalendar={done.units.calendar}")
    if done.units.next_runs:
        say(f"nbprod: next runs: {', '.join(done.units.next_runs)}")
    say(f"nbprod: log: {done.job.log_file}")
    _say_env_file(done.env_file)
    if done.enabled:
        say(f"nbprod: enabled {done.units.timer.name} (systemctl --user list-timers shows it)")
    else:
        say(f"nbprod: start it: systemctl --user daemon-reload && systemctl --user enable --now {done.units.timer.name}")


schedule_systemd.help += _COMMON_HELP  # type: ignore[operator]


@schedule.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--out", metavar="DIR", help="The folder of the systemd units [~/.config/systemd/user].")
def schedule_ls(as_json: bool, out: str | None) -> None:
    """The schedules nbprod made for this user: crontab lines and systemd timers."""
    import json

    from ..schedule.manage import listed
    from . import say

    found = listed(out, say=say)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in found], indent=2))
        return
    if not found:
        click.echo("no schedules (make one with `nbprod schedule cron` or `nbprod schedule systemd`)")
        return
    rows = [("NAME", "KIND", "SCHEDULE", "PROJECT")] + [(s.name, s.kind, s.schedule, s.root) for s in found]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


@schedule.command("rm")
@click.argument("name")
@click.option("--out", metavar="DIR", help="The folder of the systemd units [~/.config/systemd/user].")
def schedule_rm(name: str, out: str | None) -> None:
    """Remove schedule NAME: its crontab line and its systemd units (the log and .nbprod.env stay)."""
    from ..schedule.manage import remove

    done = remove(name, out)
    if done.cron_line:
        click.echo(f"nbprod: removed schedule {name!r} from the crontab")
    for path in done.unit_files:
        click.echo(f"nbprod: removed {path}")
