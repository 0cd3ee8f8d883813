"""`nbprod schedule systemd`: cron expressions converted to OnCalendar (checked against
systemd's own calendar: the same times as croniter's), the units (Persistent=true, verified
by systemd-analyze), `ls`/`rm` of timers, and the service's ExecStart, unquoted as systemd
does, run under `env -i`: it builds and records a run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from conftest import git_init, write_notebook
from schedule_sandbox import BIN, bare_run, exec_start, nbprod, user_env

from nbprod.errors import ConfigError
from nbprod.schedule.cron import next_runs
from nbprod.schedule.job import Job, command
from nbprod.schedule.systemd import on_calendar, systemd_quote, unit_texts

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
BASE = datetime(2026, 2, 25, 13, 7, tzinfo=timezone.utc)


def systemd_times(calendar: str, count: int = 6) -> list[str]:
    done = subprocess.run([ANALYZE, "calendar", f"--iterations={count}", "--base-time",
                           BASE.strftime("%Y-%m-%d %H:%M:%S UTC"), calendar], capture_output=True, text=True,
                          env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    return [re.sub(r"^\w+ ", "", t).removesuffix(" UTC")
            for t in re.findall(r"(?:Next elapse|Iter\. #\d+):\s*(.+)", done.stdout)]


@needs_analyze
@pytest.mark.parametrize("expr", [
    "0 2 * * *", "*/15 * * * *", "5,35 */6 * * *", "0 9-17 * * mon-fri", "30 6 * * 1,3,5", "0 0 1 * *",
    "0 0 */2 * *", "0 12 1 jan,jul *", "0-30/10 8 * * *", "59 23 31 * *", "0 0 * * 0", "0 0 * * 7", "7 * * * sat,sun",
    "@hourly", "@weekly", "@monthly", "@yearly", "0 5 * 2-4 *",
])
def test_a_converted_expression_fires_at_the_same_times_in_systemd_as_in_cron(expr):
    calendar = on_calendar(expr)
    cron = [t.strftime("%Y-%m-%d %H:%M:%S") for t in next_runs(expr, count=6, start=BASE)]
    assert systemd_times(calendar) == cron, calendar


@pytest.mark.parametrize("expr, why", [
    ("0 2 1 * mon", "restricts both the day of month and the weekday"),
    ("61 * * * *", "out of range"),
])
def test_what_does_not_convert_is_refused_in_one_line(expr, why):
    with pytest.raises(ConfigError, match=why) as caught:
        on_calendar(expr)
    assert "\n" not in str(caught.value)


def test_systemd_quote_is_undone_by_systemds_unquoting():
    nasty = """cd '/a b' && echo "$(date -u) 100% \\ back" $HOME '"' ; true"""
    assert exec_start(f"ExecStart=/bin/sh -c {systemd_quote(nasty)}\n") == ["/bin/sh", "-c", nasty]


@needs_analyze
def test_the_units_are_verified_persistent_and_run_the_jobs_line(reference_project, tmp_path):
    out = tmp_path / "units"
    done = nbprod("schedule", "systemd", "30 2 * * *", "--out", str(out), "--env--seed", "7",
                  cwd=reference_project)
    assert done.returncode == 0, done.stderr
    service, timer = out / "nbprod-project.service", out / "nbprod-project.timer"
    assert done.stdout.splitlines() == [f"nbprod: wrote {service}", f"nbprod: wrote {timer}"]
    assert "nbprod: OnCalendar=*-*-* 02:30:00" in done.stderr and "nbprod: next runs: " in done.stderr
    text = timer.read_text()
    assert "\nOnCalendar=*-*-* 02:30:00\nPersistent=true\n" in text and "WantedBy=timers.target" in text
    job = Job(name="project", root=reference_project, entry=None, env=(("seed", "7"),))
    assert exec_start(service.read_text()) == ["/bin/sh", "-c", command(job)]
    verify = subprocess.run([ANALYZE, "verify", str(service), str(timer)], capture_output=True, text=True)
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")

    again = nbprod("schedule", "systemd", "--on-calendar", "*-*-* 02:30", "--out", str(out), "--env--seed", "7",
                   cwd=reference_project)
    assert again.stdout.splitlines()[0] == f"nbprod: unchanged: {service}"  # systemd's normalized form kept

    listed = json.loads(nbprod("schedule", "ls", "--json", "--out", str(out), cwd=tmp_path,
                               env=user_env(PATH=str(BIN))).stdout)
    assert listed == [{"name": "project", "kind": "systemd", "schedule": "*-*-* 02:30:00",
                       "project": str(reference_project), "where": str(timer)}]
    wants = out / "timers.target.wants"
    wants.mkdir()
    (wants / timer.name).symlink_to(timer)  # as `systemctl --user enable` leaves it
    gone = nbprod("schedule", "rm", "project", "--out", str(out), cwd=tmp_path, env=user_env(PATH=str(BIN)))
    assert gone.stdout.splitlines() == [f"nbprod: removed {timer}", f"nbprod: removed {service}"]
    assert list(out.rglob("*")) == [wants]


@needs_analyze
@pytest.mark.parametrize("args, why", [
    (["--on-calendar", "every day"], "--on-calendar 'every day' is not a systemd calendar expression"),
    (["0 2 1 * mon"], "restricts both the day of month and the weekday"),
    ([], "no schedule given"),
    (["0 2 * * *", "--on-calendar", "daily"], "both a cron expression and --on-calendar given"),
])
def test_the_cli_refuses_a_schedule_in_one_line_with_exit_2(reference_project, tmp_path, args, why):
    done = nbprod("schedule", "systemd", *args, "--out", str(tmp_path / "units"), cwd=reference_project)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and why in done.stderr, done.stderr
    assert not (tmp_path / "units").exists()


def test_a_name_held_by_another_project_is_refused(reference_project, tmp_path):
    job = Job(name="nightly", root=tmp_path / "elsewhere", entry=None)
    out = tmp_path / "units"
    out.mkdir()
    service, timer = unit_texts(job, "*-*-* 02:00:00")
    (out / "nbprod-nightly.timer").write_text(timer)
    done = nbprod("schedule", "systemd", "0 2 * * *", "--name", "nightly", "--out", str(out), cwd=reference_project)
    assert done.returncode == 2 and f"schedule 'nightly' already builds {tmp_path / 'elsewhere'}" in done.stderr


@pytest.mark.e2e
def test_the_services_exec_start_builds_and_records_under_env_i(tmp_path, store):
    """The same line as cron's, through systemd's quoting, on a one-notebook project."""
    root = tmp_path / "tiny project"
    write_notebook(root / "hello.ipynb", "upstream = None\nproduct = None\nword = 'x'",
                   "import pathlib\npathlib.Path(product['data']).write_text(word * 3)")
    (root / "pipeline.yaml").write_text("tasks:\n  - source: hello.ipynb\n"
                                        "    product: {nb: out/hello.ipynb, data: out/hello.txt}\n"
                                        "    params: {word: '{{word}}'}\n")
    (root / "env.yaml").write_text("word: a\n")
    (root / ".gitignore").write_text("out/\n")
    out = tmp_path / "units"
    done = nbprod("schedule", "systemd", "@daily", "--out", str(out), "--env--word", "it's",
                  cwd=root, env=user_env(NBPROD_STORE=str(store)))
    assert done.returncode == 0, done.stderr
    with open(root / ".nbprod.env", "a") as env_file:
        env_file.write("PLOOMBER_STATS_ENABLED=false\nPLOOMBER_VERSION_CHECK_DISABLED=true\n")
    git_init(root)
    argv = exec_start((out / "nbprod-tiny-project.service").read_text())
    assert argv[:2] == ["/bin/sh", "-c"]
    run = bare_run(argv[2], tmp_path / "home")
    log = root / ".nbprod" / "logs" / "schedule-tiny-project.log"
    assert run.wait(timeout=600) == 0, log.read_text()[-4000:]
    assert (root / "out" / "hello.txt").read_text() == "it'sit'sit's"
    found = json.loads(nbprod("runs", "ls", "--json", cwd=root, env=user_env(NBPROD_STORE=str(store))).stdout)
    assert [(r["status"], r["tags"]) for r in found] == [("succeeded", ["schedule=tiny-project"])]
