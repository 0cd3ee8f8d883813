"""`nbprod schedule cron`: the expression checked (croniter), the crontab line, `--install`,
`ls` and `rm` through the real `crontab` (in a sandbox: schedule_sandbox), and the exact
line run in cron's bare environment against the reference project: it builds and records a
run, and a second run meanwhile exits 2 with the build lock's line and records nothing."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

import pytest
from conftest import git_init
from schedule_sandbox import BIN, bare_run, cron_command, crontab_sandbox, nbprod, user_env  # noqa: F401

from nbprod.errors import ConfigError
from nbprod.schedule.cron import check_expression, crontab_line, entries, next_runs
from nbprod.schedule.job import Job


@pytest.mark.parametrize("expr, why", [
    ("61 * * * *", "out of range"),
    ("0 2 * *", "cron takes 5 fields, this has 4"),
    ("0 0 2 * * *", "cron takes 5 fields, this has 6"),
    ("0 2 L * *", "'L' is croniter's extension"),
    ("0 2 * * 5#2", "'#' is croniter's extension"),
    ("0 0 30 feb *", "it never fires"),
    ("@reboot", "@reboot runs at boot"),
    ("@sometimes", "cron knows @annually"),
    ("every day", "cron takes 5 fields"),
])
def test_an_expression_cron_would_not_take_is_one_line(expr, why):
    with pytest.raises(ConfigError, match=why) as caught:
        check_expression(expr)
    assert "\n" not in str(caught.value) and "0 2 * * *" in str(caught.value)


@pytest.mark.parametrize("expr", ["0 2 * * *", "*/15 6-18 * * mon-fri", "5 4 * jan,jul sun,thu", "@daily", "0 0 1 * *"])
def test_expressions_cron_takes_are_kept(expr):
    assert check_expression(f"  {expr} ") == expr


def test_next_runs_are_the_times_cron_would_start_it():
    start = datetime(2026, 3, 6, 23, 0, tzinfo=timezone.utc)  # a Friday
    runs = next_runs("30 6 * * mon-fri", start=start)
    assert [(t.weekday(), t.hour, t.minute) for t in runs] == [(0, 6, 30), (1, 6, 30), (2, 6, 30)]


def test_the_cli_refuses_a_bad_expression_in_one_line_with_exit_2(reference_project):
    done = nbprod("schedule", "cron", "0 25 * * *", cwd=reference_project)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["nbprod: error: '0 25 * * *' is not a cron schedule: out of range (croniter): "
                                        "write it like '0 2 * * *' (02:00 every day; the fields: minute hour "
                                        "day-of-month month day-of-week)"]
    assert not (reference_project / ".nbprod.env").exists()


def test_the_line_is_schedule_command_and_marker_with_percent_escaped(tmp_path):
    root = tmp_path / "100% sure"
    job = Job(name="n1", root=root, entry=None, program=("/venv/bin/nbprod",))
    line = crontab_line("0 2 * * *", job)
    assert line.startswith("0 2 * * * cd '") and line.endswith(f" # nbprod-schedule n1 {tmp_path}/100\\% sure")
    assert "100\\% sure" in line and "100% sure" not in line
    assert cron_command(line).startswith(f"cd '{root}' || exit 2;")
    found = entries(f"MAILTO=me\n{line}\n# {line}\n0 1 * * * other # nbprod-schedule-not\n")
    assert [(e.name, e.schedule, e.root) for e in found] == [("n1", "0 2 * * *", str(root))]


def test_printing_the_line_writes_env_file_and_says_next_runs_and_log(reference_project, store):
    done = nbprod("schedule", "cron", "0 2 * * *", "--env--seed", "7", cwd=reference_project,
                  env=user_env(NBPROD_STORE=str(store)))
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert "\n" not in line and line.startswith("0 2 * * * cd ")
    assert f"exec {BIN / 'nbprod'} build --tag schedule=project --env--seed 7;" in line
    said = done.stderr.splitlines()
    assert said[0].startswith("nbprod: next runs: ") and said[0].count(":00 ") >= 2
    assert said[1] == f"nbprod: log: {reference_project}/.nbprod/logs/schedule-project.log"
    assert f"NBPROD_STORE={store}" in (reference_project / ".nbprod.env").read_text()


def test_no_crontab_command_is_one_line_with_exit_2(reference_project):
    done = nbprod("schedule", "cron", "0 2 * * *", "--install", cwd=reference_project,
                  env=user_env(PATH=str(BIN)))
    assert done.returncode == 2 and done.stderr.splitlines()[-1] == (
        "nbprod: error: the crontab command is not installed: install cron (Debian, Ubuntu: apt-get install cron), "
        "or leave out --install and add the printed line to your scheduler yourself")
    assert done.stdout == "" and not (reference_project / ".nbprod.env").exists()


def test_install_is_idempotent_keeps_other_lines_and_rm_removes_exactly_one(reference_project, tmp_path,
                                                                             crontab_sandbox):
    box = crontab_sandbox
    theirs = "MAILTO=ops@example.invalid\n# a comment\n*/5 * * * * /usr/bin/true  # theirs\n"
    assert box.crontab("-", input=theirs).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "pipeline.yaml").write_text("tasks: []\n")

    def install(*args, cwd=reference_project):
        return nbprod("schedule", "cron", *args, "--install", cwd=cwd, prefix=box.prefix)

    first = install("0 2 * * *")
    assert first.returncode == 0, first.stderr
    assert "nbprod: crontab: added schedule 'project'" in first.stderr
    assert box.text() == theirs + first.stdout
    again = install("0 2 * * *")
    assert "unchanged" in again.stderr and box.text() == theirs + first.stdout  # one line
    assert install("0 3 * * *", "--name", "hourly").returncode == 0
    moved = install("30 4 * * *")  # the same name: its line replaced, in place of the old one
    assert "replaced" in moved.stderr
    assert box.text() == theirs + moved.stdout + install("0 3 * * *", "--name", "hourly").stdout
    clash = install("0 5 * * *", "--name", "hourly", cwd=other)
    assert clash.returncode == 2 and clash.stderr.splitlines()[-1].startswith(
        f"nbprod: error: schedule 'hourly' already builds {reference_project}: give this one another --name")

    listed = nbprod("schedule", "ls", "--json", "--out", str(tmp_path / "units"), cwd=tmp_path, prefix=box.prefix)
    assert [(s["name"], s["kind"], s["schedule"], s["project"]) for s in json.loads(listed.stdout)] == [
        ("project", "cron", "30 4 * * *", str(reference_project)), ("hourly", "cron", "0 3 * * *", str(reference_project))]
    table = nbprod("schedule", "ls", "--out", str(tmp_path / "units"), cwd=tmp_path, prefix=box.prefix).stdout
    assert table.splitlines()[0].split() == ["NAME", "KIND", "SCHEDULE", "PROJECT"]

    gone = nbprod("schedule", "rm", "project", "--out", str(tmp_path / "units"), cwd=tmp_path, prefix=box.prefix)
    assert gone.stdout == "nbprod: removed schedule 'project' from the crontab\n"
    left = box.text()
    assert left.startswith(theirs) and "# nbprod-schedule hourly " in left and "# nbprod-schedule project " not in left
    unknown = nbprod("schedule", "rm", "project", "--out", str(tmp_path / "units"), cwd=tmp_path, prefix=box.prefix)
    assert unknown.returncode == 2 and unknown.stderr.splitlines() == [
        "nbprod: error: no schedule named 'project': `nbprod schedule ls` lists them (hourly)"]


@pytest.mark.e2e
def test_the_exact_line_builds_and_records_in_crons_bare_environment_and_an_overlapping_run_exits_2(
        reference_project, store, tmp_path):
    git_init(reference_project)
    # what the user has in their shell: the store; what they add to .nbprod.env themselves: ploomber's settings
    scheduled = nbprod("schedule", "cron", "0 2 * * *", cwd=reference_project, env=user_env(NBPROD_STORE=str(store)))
    assert scheduled.returncode == 0, scheduled.stderr
    with open(reference_project / ".nbprod.env", "a") as env_file:
        env_file.write("PLOOMBER_STATS_ENABLED=false\nPLOOMBER_VERSION_CHECK_DISABLED=true\n")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam",
                    "ignore .nbprod.env"], cwd=reference_project, check=True)
    command = cron_command(scheduled.stdout.strip())
    home = tmp_path / "home"
    log = reference_project / ".nbprod" / "logs" / "schedule-project.log"

    first = bare_run(command, home)
    try:
        holder = reference_project / ".nbprod" / "build.lock.json"
        deadline = time.monotonic() + 300
        while not holder.exists():
            assert first.poll() is None, f"the first run ended ({first.returncode}) before taking the lock:\n" \
                                         + (log.read_text()[-3000:] if log.exists() else "no log")
            assert time.monotonic() < deadline, "the first run never took the build lock"
            time.sleep(0.2)
        second = bare_run(command, home)
        assert second.wait(timeout=300) == 2
        assert first.poll() is None  # it did not wait for the first run to finish
        assert first.wait(timeout=900) == 0, log.read_text()[-4000:]
    finally:
        if first.poll() is None:
            first.kill()
    text = log.read_text()
    refused = [l for l in text.splitlines() if "another build of this project is running" in l]
    # one line of its own (no progress bars in the log), naming the first run (exec: the pid
    # cron started is nbprod's)
    assert len(refused) == 1 and refused[0].startswith(
        f"nbprod: error: another build of this project is running (pid {first.pid} on "), refused
    assert "\r" not in text and "Executing:" not in text
    assert "NBPROD_LOCK_TIMEOUT" in refused[0] and "Traceback" not in text
    assert text.count("nbprod schedule project: started ") == 2

    runs = nbprod("runs", "ls", "--json", "--all", cwd=reference_project, env=user_env(NBPROD_STORE=str(store)))
    found = json.loads(runs.stdout)
    assert len(found) == 1 and found[0]["status"] == "succeeded", found
    assert found[0]["tags"] == ["schedule=project"]
    record = json.loads(nbprod("runs", "show", found[0]["run_id"], "--json", cwd=reference_project,
                               env=user_env(NBPROD_STORE=str(store))).stdout)
    assert record["git"]["commit"] and record["git"]["dirty"] is False  # git found, the log is not in the tree
    assert not any((home / ".cache" / "nbprod" / "spool").glob("**/*.json"))  # the refused run left nothing
