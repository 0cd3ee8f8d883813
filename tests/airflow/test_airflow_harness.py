"""The Airflow harness itself, with trivial DAG files written here (no nbprod export).

What it pins down about Airflow 3.3 (see airflowkit.py for the how):
* ``dags list-import-errors --local`` parses the folder now (empty list for good files);
* ``dags test DAG LOGICAL_DATE -c CONF`` runs every task in-process; ``--conf`` overrides
  ``params`` (``dag_run_conf_overrides_params`` is on by default); retries are honoured
  (after ``retry_delay``: keep it 0 in tests, dags test sleeps it out) and the retry
  sees ``{{ ti.try_number }}`` / ``$AIRFLOW_CTX_TRY_NUMBER`` = 2; a ``trigger_rule=
  "all_done"`` task runs after an upstream failure;
* a real scheduler + dag-processor + api-server (execution API) runs a DAG scheduled
  every minute, and every process is gone afterwards.
"""

from __future__ import annotations

import json
import os
import textwrap
import time

import airflowkit

HEADER = """\
import datetime
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator
"""


def write_dag(airflow, name: str, body: str) -> None:
    (airflow.dags_folder / f"{name}.py").write_text(HEADER + textwrap.dedent(body))


def test_import_errors_good_broken_and_kubernetes(airflow):
    """Good DAG files (one with KubernetesPodOperator from cncf-kubernetes) parse without
    import errors; a broken one is reported with its file and error."""
    write_dag(airflow, "good", """
        with DAG("good", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
            BashOperator(task_id="a", bash_command="echo a")
    """)
    write_dag(airflow, "k8s", """
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        with DAG("k8s", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
            KubernetesPodOperator(task_id="pod", name="pod", image="python:3.11-slim",
                                  cmds=["nbprod"], arguments=["task", "x", "--run-id", "{{ run_id }}"])
    """)
    parsed = airflow.parse()  # Airflow's DagBag, as the dag-processor parses: the DAG ids and errors
    assert sorted(parsed["dags"]) == ["good", "k8s"] and parsed["import_errors"] == {}
    assert parsed["dags"]["k8s"]["tasks"] == ["pod"]
    (airflow.dags_folder / "broken.py").write_text(HEADER + "import no_such_module_nbprod\n")
    errors = airflow.list_import_errors()
    assert [e["filepath"].rsplit("/", 1)[-1] for e in errors] == ["broken.py"]
    assert "no_such_module_nbprod" in errors[0]["error"]


def test_dags_test_two_tasks_params_conf_and_context(airflow, tmp_path):
    """Both tasks of a 2-task DAG succeed; ``-c`` overrides a param default; the task sees
    run_id / dag_id / logical_date / try_number as templates and as AIRFLOW_CTX_* env."""
    out = tmp_path / "out"
    out.mkdir()
    write_dag(airflow, "two", """
        OUT = %r
        with DAG("two", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
                 params={"x": "default-x", "y": "default-y"}):
            a = BashOperator(
                task_id="a",
                bash_command=(
                    'echo "x={{ params.x }} y={{ params.y }} run_id={{ run_id }} dag_id={{ dag.dag_id }} '
                    'ld={{ logical_date }} ts={{ ts }} try={{ ti.try_number }} env_x=$X" > ' + OUT + '/a.txt; '
                    "echo '{{ dag_run.conf | tojson }}' > " + OUT + "/conf.json; "
                    "env | grep ^AIRFLOW_CTX_ | sort > " + OUT + "/a.env"
                ),
                env={"X": "{{ params.x }}"},
                append_env=True,
            )
            b = BashOperator(task_id="b", bash_command="echo b > " + OUT + "/b.txt")
            a >> b
    """ % str(out))
    res = airflow.dags_test("two", conf={"x": "from-conf"}, logical_date="2024-03-04T05:06:00+00:00")
    assert res.proc.returncode == 0, res.output[-6000:]
    assert res.state == "success"
    assert {t: (s.state, s.try_number) for t, s in res.tasks.items()} == {"a": ("success", 1), "b": ("success", 1)}
    assert res.conf == {"x": "from-conf"}
    assert res.run_id.startswith("manual__")  # not derived from the logical date
    line = (out / "a.txt").read_text().strip()
    assert line == (
        f"x=from-conf y=default-y run_id={res.run_id} dag_id=two "
        f"ld=2024-03-04 05:06:00+00:00 ts=2024-03-04T05:06:00+00:00 try=1 env_x=from-conf"
    )
    assert json.loads((out / "conf.json").read_text()) == {"x": "from-conf"}
    ctx = dict(l.split("=", 1) for l in (out / "a.env").read_text().splitlines())
    assert ctx["AIRFLOW_CTX_DAG_ID"] == "two"
    assert ctx["AIRFLOW_CTX_TASK_ID"] == "a"
    assert ctx["AIRFLOW_CTX_DAG_RUN_ID"] == res.run_id
    assert ctx["AIRFLOW_CTX_LOGICAL_DATE"] == "2024-03-04T05:06:00+00:00"
    assert ctx["AIRFLOW_CTX_TRY_NUMBER"] == "1"
    assert (out / "b.txt").read_text() == "b\n"
    print(f"dags test (2 tasks): {res.seconds:.1f} s")


def test_dags_test_retries_and_all_done(airflow, tmp_path):
    """retries=1: a task exiting 1 on try 1 and a task whose bash is SIGKILLed on try 1
    both succeed on try 2; a task failing for good does not stop an ``all_done`` task."""
    out = tmp_path / "out"
    out.mkdir()
    write_dag(airflow, "retry", f"""
        with DAG("retry", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
                 default_args={{"retries": 1, "retry_delay": datetime.timedelta(seconds=0)}}):
            flaky = BashOperator(
                task_id="flaky",
                bash_command='echo "{{{{ ti.try_number }}}} $AIRFLOW_CTX_TRY_NUMBER" >> {out}/flaky; '
                             'test "{{{{ ti.try_number }}}}" != 1',
            )
            killed = BashOperator(
                task_id="killed",
                bash_command='echo "$AIRFLOW_CTX_TRY_NUMBER" >> {out}/killed; '
                             'if [ "$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then kill -KILL $$; fi',
            )
            fails = BashOperator(task_id="fails", bash_command="exit 1", retries=0)
            final = BashOperator(task_id="final", bash_command="echo final > {out}/final",
                                 trigger_rule="all_done")
            [flaky, killed, fails] >> final
    """)
    res = airflow.dags_test("retry")
    states = {t: (s.state, s.try_number, s.tries) for t, s in res.tasks.items()}
    assert states == {
        # try 1 is archived in task_instance_history as "failed" (the TI went up_for_retry)
        "flaky": ("success", 2, ["failed", "success"]),
        "killed": ("success", 2, ["failed", "success"]),
        "fails": ("failed", 1, ["failed"]),
        "final": ("success", 1, ["success"]),
    }, res.output[-6000:]
    assert (out / "flaky").read_text() == "1 1\n2 2\n"
    assert (out / "killed").read_text() == "1\n2\n"
    assert (out / "final").exists()
    # the run's state comes from its leaves: the all_done leaf succeeded, so the run
    # (and `dags test`'s exit code) is success although `fails` failed
    assert res.state == "success" and res.proc.returncode == 0
    print(f"dags test (retries): {res.seconds:.1f} s")


def test_scheduler_runs_a_dag_scheduled_every_minute(airflow, tmp_path):
    """scheduler + dag-processor + api-server pick up a ``* * * * *`` DAG and complete a
    scheduled run; afterwards no process they started is alive."""
    out = tmp_path / "out"
    out.mkdir()
    write_dag(airflow, "every_minute", f"""
        with DAG("every_minute", schedule="* * * * *", catchup=False,
                 start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), params={{"x": "default-x"}},
                 default_args={{"retries": 1, "retry_delay": datetime.timedelta(seconds=0)}}):
            a = BashOperator(
                task_id="a",
                bash_command='echo "$AIRFLOW_CTX_TRY_NUMBER {{{{ run_id }}}} {{{{ params.x }}}}" >> {out}/a; '
                             # the task process itself (bash's parent) dies on try 1
                             'if [ "$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then kill -KILL $PPID; exit 1; fi',
            )
            b = BashOperator(task_id="b", bash_command="echo b >> {out}/b")
            a >> b
    """)
    t0 = time.monotonic()
    with airflow.services() as services:
        run = services.wait_for_run("every_minute", timeout=180)
        seconds = time.monotonic() - t0
        pids = services.pids()
        assert pids, "no Airflow processes seen"
    assert services.stopped
    assert run["state"] == "success", services.logs()
    tasks = airflow.task_states("every_minute", run["run_id"])
    assert {t: s.state for t, s in tasks.items()} == {"a": "success", "b": "success"}
    # the first run (catchup=False: the latest past minute) is created at start; more may follow
    lines = [l for l in (out / "a").read_text().splitlines() if f" {run['run_id']} " in l]
    assert lines == [f"1 {run['run_id']} default-x", f"2 {run['run_id']} default-x"]
    assert tasks["a"].try_number == 2
    assert run["run_id"].startswith("scheduled__")
    left = {p for p in pids if os.path.exists(f"/proc/{p}")} | airflowkit.tagged_pids(airflow.tag)
    assert not left, left
    print(f"scheduler: first scheduled run done after {seconds:.1f} s; stop took {services.stop_seconds:.1f} s; "
          f"{len(pids)} processes; run {json.dumps(run, default=str)}")
