"""``nbprod export airflow|kubernetes``: the pipeline written out for another orchestrator."""

from __future__ import annotations

import click


@click.group()
def export() -> None:
    """Write the pipeline out for Airflow or Kubernetes."""


@export.command("airflow")
@click.option("-e", "--entry-point", metavar="PATH",
              help="The pipeline [pipeline.shared.yaml beside the pipeline.yaml a build here finds, else that one].")
@click.option("--schedule", metavar="CRON", help="When Airflow runs the DAG (five cron fields or @daily) [only when triggered].")
@click.option("--dag-id", metavar="ID", help="The DAG's id [the project folder's name].")
@click.option("--out", default="dags", show_default=True, type=click.Path(file_okay=False),
              help="The folder to write <dag-id>.py into (Airflow's dags_folder).")
@click.option("--retries", default=1, show_default=True, type=click.IntRange(min=0), help="Retries of each task.")
@click.option("--retry-delay", "retry_delay_s", default=30, show_default=True, type=click.IntRange(min=0),
              metavar="SECONDS", help="Seconds before a retry.")
@click.option("--clone", metavar="GIT_URL",
              help="Each task runs in a fresh clone of this repository at the current commit, not in the project's folder.")
@click.option("--kubernetes", metavar="IMAGE",
              help="Each task is a KubernetesPodOperator pod of IMAGE (see `nbprod export kubernetes`).")
@click.option("--namespace", metavar="NS", help="With --kubernetes: the pods' namespace [default].")
@click.option("--secret", metavar="NAME", help="With --kubernetes: a Secret whose keys the pods get (AWS credentials).")
@click.option("--store", metavar="s3://BUCKET/PREFIX", help="With --kubernetes: the store [NBPROD_STORE].")
@click.option("--force", is_flag=True, help="Replace a DAG file edited since it was written.")
def export_airflow(entry_point, schedule, dag_id, out, retries, retry_delay_s, clone, kubernetes, namespace, secret,
                   store, force) -> None:
    """Write an Airflow 3 DAG file: one task per pipeline task, each running `nbprod task NAME`
    (upstream products from the store), and a last task, nbprod_run, that records the DAG run as
    one nbprod run. The pipeline's parameters are the DAG's params. Settings and credentials come
    from the workers' environment (NBPROD_STORE must be an s3:// store they all reach)."""
    from ..export.airflow import export_airflow as write

    done = write(out=out, force=force, entry_point=entry_point, schedule=schedule, dag_id=dag_id, retries=retries,
                 retry_delay_s=retry_delay_s, clone=clone, kubernetes=kubernetes, namespace=namespace,
                 secret=secret, store=store)
    click.echo(f"nbprod: {'wrote' if done.written.changed else 'unchanged:'} {done.written.path} "
               f"(DAG {done.dag_id}: {', '.join(done.tasks)}, then nbprod_run; "
               f"{'schedule ' + done.schedule if done.schedule else 'run when triggered'})")
    for line in done.warnings:
        click.echo(f"nbprod: warning: {line}", err=True)


@export.command("kubernetes", context_settings={"ignore_unknown_options": True})
@click.option("--image", required=True, metavar="IMAGE", help="The image the jobs run (built from the Dockerfile written).")
@click.option("--schedule", default="0 3 * * *", show_default=True, metavar="CRON",
              help="When the CronJob builds: five cron fields or @hourly/@daily/@weekly/@monthly.")
@click.option("--time-zone", default="Etc/UTC", show_default=True, metavar="TZ", help="The schedule's time zone.")
@click.option("--store", metavar="s3://BUCKET/PREFIX", help="The store the runs are recorded into [NBPROD_STORE].")
@click.option("--secret", default="nbprod-store", show_default=True, metavar="NAME",
              help="The Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (referenced, never copied).")
@click.option("--no-secret", is_flag=True, help="No credential Secret: the pod's service account or node role.")
@click.option("--service-account", metavar="NAME", help="The pod's service account (e.g. one bound to a cloud role).")
@click.option("--env-secret", "env_secrets", multiple=True, metavar="NAME",
              help="A Secret whose every key the notebooks get as an environment variable (repeatable).")
@click.option("--set-env", multiple=True, metavar="NAME=VALUE",
              help="A plain environment value, never a secret (repeatable): AWS_ENDPOINT_URL, AWS_REGION, NBPROD_*.")
@click.option("-e", "--entry-point", metavar="PATH", help="The pipeline to build [the one `nbprod build` finds here].")
@click.option("--namespace", metavar="NS", help="The namespace [kubectl's current one].")
@click.option("--name", metavar="NAME", help="The CronJob's name [nbprod-<project folder>].")
@click.option("--cpu", default="1", show_default=True, help="CPU requested.")
@click.option("--memory", default="2Gi", show_default=True, help="Memory requested, and the limit.")
@click.option("--timeout", default="6h", show_default=True, metavar="DURATION",
              help="Longest build (NBPROD_BUILD_TIMEOUT; the pod is stopped 5 min later); 0: none.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag each run, besides 'kubernetes' (repeatable).")
@click.option("--lock", default="requirements.lock", show_default=True, metavar="PATH", help="The pinned requirements.")
@click.option("--package", "packages", multiple=True, metavar="PATH",
              help="A local distribution installed on top of the lock (repeatable) [the project, if it is one].")
@click.option("--python", metavar="X.Y", help="The image's Python [this one's].")
@click.option("--out", default="deploy/kubernetes", show_default=True, type=click.Path(file_okay=False),
              help="The folder to write into.")
@click.option("--force", is_flag=True, help="Overwrite files edited since they were written.")
@click.argument("build_args", nargs=-1, type=click.UNPROCESSED, metavar="[--env--NAME VALUE]...")
def kubernetes(build_args: tuple[str, ...], no_secret: bool, secret: str, packages: tuple[str, ...],
               **options) -> None:
    """Write a Dockerfile and a CronJob (plus a one-off Job) that run `nbprod build`
    in Kubernetes, recording into an S3 store.

    Parameters for the build follow the options: --env--NAME VALUE. Credentials
    are only ever named (a Secret), never written.
    """
    from ..export.kubernetes import export_kubernetes

    done = export_kubernetes(secret=None if no_secret else secret, packages=packages or None,
                             build_args=build_args, **options)
    for line in done.warnings:
        click.echo(line, err=True)
    for written in done.written:
        click.echo(f"nbprod: {'wrote' if written.changed else 'unchanged:'} {written.path}")
    click.echo(f"nbprod: next runs: {', '.join(done.next_runs)}")
    click.echo(f"nbprod: build and push the image ({done.build}), then kubectl apply -f the cronjob.yaml")
