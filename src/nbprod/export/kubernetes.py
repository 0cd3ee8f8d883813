"""``nbprod export kubernetes``: the project as an image and a CronJob that builds it on a schedule.

What it writes into ``--out`` (default ``deploy/kubernetes/``), every file stamped
(:mod:`nbprod.export.common`: an edited file is kept unless ``--force``):

- ``Dockerfile`` and ``Dockerfile.dockerignore`` (BuildKit reads the ignore file beside the
  Dockerfile): the lock installed in a layer of its own, the project at ``/app`` with its
  ``.git`` (nbprod records the commit each run was built from; ``.git/config``, which may hold
  a remote's token, is left out and written afresh), its local packages, its notebooks'
  kernels, a check that nbprod, s3fs and each kernel are there, and user 10001.
- ``cronjob.yaml`` (batch/v1 CronJob) and ``job.yaml`` (a one-off Job, ``kubectl create -f``):
  one pod running ``nbprod build --entry-point ... --tag kubernetes [--env--NAME VALUE]``.

Choices, and why:

- ``concurrencyPolicy: Forbid``: two builds of one project would fight over its build lock
  and products; a run still going when the next is due makes that one skipped, not doubled.
  ``startingDeadlineSeconds`` (15 min): a run missed by longer (the control plane was down) is
  skipped, never run late in a burst.
- ``restartPolicy: Never``, ``backoffLimit: 1`` and a ``podFailurePolicy``: a failed task
  (exit 1), a bad configuration (2), a check (4) or a reproduction (5) fails the job at once
  (running a deterministic failure again only records it twice); a store that refused (3) is
  tried once more; a pod disrupted by a node drain or preemption is retried without counting.
- ``--timeout`` (6h): ``NBPROD_BUILD_TIMEOUT``, so nbprod stops the build and records it, and
  the pod's ``activeDeadlineSeconds`` 5 minutes later, should nbprod itself hang; without a
  limit a hung build would block every later run (Forbid).
- The store: ``NBPROD_STORE`` must be ``s3://`` (a pod's disk is gone after the run) and
  ``NBPROD_REQUIRE_STORE=1``, so a run that could only be spooled on that disk fails the job.
  Credentials only as ``secretKeyRef`` to ``--secret`` (keys ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, optionally ``AWS_SESSION_TOKEN``), or none with ``--no-secret``
  (a service account bound to a cloud role); the notebooks' own Secrets as ``envFrom``.
  Nothing that looks like a credential is written (:mod:`nbprod.export.common`).
- The pod meets the "restricted" Pod Security Standard: non-root (10001), no privilege
  escalation, every capability dropped, the runtime's seccomp profile. The root filesystem is
  writable: the build writes its products into the project folder. The service account token
  is not mounted unless ``--service-account`` names one. A memory limit equal to the request
  and no CPU limit (a killed kernel is named in the run record; a throttled one is only slow).
- ``terminationGracePeriodSeconds`` 120: time for nbprod to record a run stopped by SIGTERM.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import UID, Project, Written, refuse_credential, shown, stamped

OUT = "deploy/kubernetes"
SCHEDULE = "0 3 * * *"
TIME_ZONE = "Etc/UTC"
SECRET = "nbprod-store"
TIMEOUT = "6h"
CPU, MEMORY = "1", "2Gi"
CONTAINER = "nbprod"
TAG = "kubernetes"
STARTING_DEADLINE_S = 900
GRACE_S = 120
DEADLINE_MARGIN_S = 300
FAIL_JOB_CODES = [1, 2, 4, 5]  # nbprod's exit codes a retry cannot change (errors.py)
SECRET_KEYS = (("AWS_ACCESS_KEY_ID", False), ("AWS_SECRET_ACCESS_KEY", False), ("AWS_SESSION_TOKEN", True))
MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}  # Kubernetes' own
FIELD = re.compile(r"(\*|\?|\d+|[A-Za-z]{3})(-(\d+|[A-Za-z]{3}))?(/\d+)?(,(\*|\d+|[A-Za-z]{3})(-(\d+|[A-Za-z]{3}))?(/\d+)?)*")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
QUANTITY = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/:]*(@sha256:[0-9a-f]{64})?")
MAX_NAME = 52  # a CronJob's name: its Jobs' names add 11 characters, within 63


@dataclass(frozen=True)
class Exported:
    """What :func:`export_kubernetes` wrote, and when the CronJob runs next."""

    written: tuple[Written, ...]
    next_runs: tuple[str, ...]
    build: str  # the docker command that builds the image
    warnings: tuple[str, ...] = ()


def check_schedule(schedule: str, time_zone: str = TIME_ZONE, count: int = 3) -> tuple[str, ...]:
    """The next ``count`` runs of a CronJob ``schedule`` (five fields or a macro Kubernetes
    knows), in ``time_zone``; an expression Kubernetes or croniter would refuse is a ConfigError."""
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--time-zone {time_zone!r} is not a time zone", hint="e.g. Etc/UTC or Europe/Paris") from None
    text = " ".join(schedule.split())
    fields = text.split(" ")
    ok = text in MACROS or (len(fields) == 5 and all(FIELD.fullmatch(f) for f in fields))
    if ok:
        try:
            ok = croniter.is_valid(text) and croniter(text, datetime.now(zone)) is not None
        except Exception:  # croniter raises several kinds for what it cannot parse
            ok = False
    if not ok:
        raise ConfigError(f"--schedule {schedule!r} is not a schedule Kubernetes takes",
                          hint="five fields, minute hour day-of-month month day-of-week (e.g. '0 3 * * *'), "
                               "or @hourly, @daily, @weekly, @monthly")
    runs = croniter(text, datetime.now(zone))
    return tuple(runs.get_next(datetime).strftime("%Y-%m-%d %H:%M %Z") for _ in range(count))


def _name(name: str | None, project: Project) -> str:
    if name is None:
        slug = re.sub(r"[^a-z0-9]+", "-", project.root.name.lower()).strip("-")
        name = f"nbprod-{slug}"[:MAX_NAME].rstrip("-") if slug else "nbprod"
    if len(name) > MAX_NAME or not DNS_LABEL.fullmatch(name):
        raise ConfigError(f"--name {name!r} is not a CronJob name",
                          hint=f"lower-case letters, digits and '-', at most {MAX_NAME} characters")
    return name


def _label(value: str | None, option: str, *, dots: bool = False) -> str | None:
    """A namespace (a DNS label), or with ``dots`` a Secret's or service account's name."""
    rule, most = (DNS_SUBDOMAIN, 253) if dots else (DNS_LABEL, 63)
    if value is not None and (len(value) > most or not rule.fullmatch(value)):
        raise ConfigError(f"{option} {value!r} is not a Kubernetes name",
                          hint=f"lower-case letters, digits and '-'{' and .' if dots else ''}, at most {most} characters")
    return value


def _quantity(value: str, option: str) -> str:
    if not QUANTITY.fullmatch(value):
        raise ConfigError(f"{option} {value!r} is not a Kubernetes quantity", hint="e.g. --cpu 500m --memory 2Gi")
    return value


def command(project: Project, params: list[str], tags: tuple[str, ...] = ()) -> list[str]:
    """The container's command: the nbprod CLI building the project's entry point."""
    from ..schema import TAG as TAG_RULE

    for tag in tags:
        if not TAG_RULE.fullmatch(tag):
            raise ConfigError(f"--tag {tag!r} is not a tag", hint="letters, digits and ._:/=+- (ci, env=prod)")
    labels = [a for tag in dict.fromkeys((TAG, *tags)) for a in ("--tag", refuse_credential("--tag", tag))]
    return ["nbprod", "build", "--entry-point", project.entry_point, *labels, *params]


def pod_template(*, name: str, image: str, argv: list[str], store: str, plain: dict[str, str], secret: str | None,
                 env_secrets: tuple[str, ...], service_account: str | None, cpu: str, memory: str,
                 timeout_s: float | None) -> dict[str, Any]:
    """The pod both manifests run (see the module docstring for each field)."""
    env = [{"name": "NBPROD_STORE", "value": store}, {"name": "NBPROD_REQUIRE_STORE", "value": "1"}]
    if timeout_s:
        env.append({"name": "NBPROD_BUILD_TIMEOUT", "value": str(int(timeout_s))})
    env += [{"name": key, "value": value} for key, value in sorted(plain.items())]
    if secret:
        env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key,
                                                             **({"optional": True} if optional else {})}}}
                for key, optional in SECRET_KEYS]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": argv,
        "env": env,
    }
    if env_secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in env_secrets]
    container["resources"] = {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}
    container["securityContext"] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                    "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": False}
    spec: dict[str, Any] = {"restartPolicy": "Never"}
    if service_account:
        spec["serviceAccountName"] = service_account
    else:
        spec["automountServiceAccountToken"] = False
    if timeout_s:
        spec["activeDeadlineSeconds"] = int(timeout_s) + DEADLINE_MARGIN_S
    spec["terminationGracePeriodSeconds"] = GRACE_S
    spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                               "seccompProfile": {"type": "RuntimeDefault"}}
    spec["containers"] = [container]
    return {"metadata": {"labels": _labels(name)}, "spec": spec}


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "pipeline",
            "app.kubernetes.io/managed-by": "nbprod"}


def _job_spec(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "backoffLimit": 1,
        "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER, "operator": "In",
                                                  "values": FAIL_JOB_CODES}},
        ]},
        "template": pod,
    }


def _metadata(name: str, namespace: str | None, key: str = "name", value: str | None = None) -> dict[str, Any]:
    return {key: value or name, **({"namespace": namespace} if namespace else {}), "labels": _labels(name)}


def cronjob(name: str, namespace: str | None, schedule: str, time_zone: str, pod: dict[str, Any]) -> dict[str, Any]:
    """The CronJob: one build per ``schedule``, never two at once."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _metadata(name, namespace),
        "spec": {
            "schedule": schedule,
            "timeZone": time_zone,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_S,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {"metadata": {"labels": _labels(name)}, "spec": _job_spec(pod)},
        },
    }


def job(name: str, namespace: str | None, pod: dict[str, Any]) -> dict[str, Any]:
    """A one-off run of the same pod (``kubectl create -f``: a new name each time), kept a week."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(name, namespace, "generateName", f"{name}-manual-"),
        "spec": {"ttlSecondsAfterFinished": 7 * 86400, **_job_spec(pod)},
    }


def dump(manifest: dict[str, Any], header: list[str]) -> str:
    """One manifest as YAML (PyYAML: quoting is its business), with ``#`` header lines."""
    import yaml

    body = yaml.safe_dump(manifest, sort_keys=False, width=1000, allow_unicode=True)
    return stamped("\n".join([*header, body.rstrip("\n")]))


def _given(values: dict[str, Any]) -> list[str]:
    """The options of :func:`export_kubernetes` that differ from their defaults, as typed."""
    import inspect

    argv = []
    for key, param in inspect.signature(export_kubernetes).parameters.items():
        value, option = values.get(key), f"--{key.replace('_', '-')}"
        if key in ("build_args", "force") or value == param.default:
            continue
        if key == "secret" and value is None:
            argv.append("--no-secret")
        elif isinstance(value, tuple):
            singular = {"env_secrets": "--env-secret", "tags": "--tag", "packages": "--package"}.get(key, option)
            argv += [a for v in value for a in (singular, v)]
        elif value is not None:
            argv += [option, str(value)]
    return argv


def export_kubernetes(image: str, *, schedule: str = SCHEDULE, time_zone: str = TIME_ZONE,
                      store: str | None = None, secret: str | None = SECRET, env_secrets: tuple[str, ...] = (),
                      service_account: str | None = None, set_env: tuple[str, ...] = (),
                      build_args: tuple[str, ...] = (), entry_point: str | None = None,
                      namespace: str | None = None, name: str | None = None, cpu: str = CPU, memory: str = MEMORY,
                      timeout: str = TIMEOUT, tags: tuple[str, ...] = (), lock: str = "requirements.lock",
                      packages: tuple[str, ...] | None = None, python: str | None = None,
                      out: str | os.PathLike = OUT, force: bool = False) -> Exported:
    """Write the Dockerfile, its ignore file, ``cronjob.yaml`` and ``job.yaml`` into ``out``.

    Every option is checked before anything is read or written; each file's header shows
    the command that writes it again (the options that differ from their defaults).
    """
    from ..durations import parse_duration
    from .common import build_params, load_project, plain_env, render_dockerfile, render_dockerignore, s3_store
    from .common import write_files

    given = _given(locals())  # before any option is normalised
    if not IMAGE.fullmatch(image or ""):
        raise ConfigError(f"--image {image!r} is not an image reference", hint="e.g. registry.example.com/team/project:1.0")
    refuse_credential("--image", image)
    next_runs = check_schedule(schedule, time_zone)
    store_url = s3_store(store)
    plain = plain_env(set_env)
    namespace = _label(namespace, "--namespace")
    secret = _label(secret, "--secret", dots=True)
    service_account = _label(service_account, "--service-account", dots=True)
    env_secrets = tuple(_label(s, "--env-secret", dots=True) or "" for s in dict.fromkeys(env_secrets))
    cpu, memory = _quantity(cpu, "--cpu"), _quantity(memory, "--memory")
    timeout_s = parse_duration(timeout, what="--timeout")
    project = load_project(entry_point, lock=lock, packages=packages)
    argv = command(project, build_params(build_args, project), tags)
    name = _name(name, project)

    folder = Path(out)
    dockerfile = folder / "Dockerfile"
    try:
        shown_dockerfile = dockerfile.resolve().relative_to(project.context).as_posix()
    except ValueError:
        shown_dockerfile = str(dockerfile.resolve())
    build = shown(["docker", "build", "-f", shown_dockerfile, "-t", image, "."])
    again = shown(["nbprod", "export", "kubernetes", *given, *build_args, "--force"])
    written_by = [f"# Written by `nbprod export kubernetes`; to change it, edit it or write it again:",
                  f"#   {again}"]
    pod = pod_template(name=name, image=image, argv=argv, store=store_url, plain=plain, secret=secret,
                       env_secrets=env_secrets, service_account=service_account, cpu=cpu, memory=memory,
                       timeout_s=timeout_s)
    creds = (f"# Store credentials: the Secret {secret!r} (keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional "
             "AWS_SESSION_TOKEN), which this file names and never holds." if secret else
             "# Store credentials: none here (--no-secret): the pod's service account or node role.")
    files = {
        dockerfile: render_dockerfile(project, python=python, header=[
            "# The image nbprod's Kubernetes jobs run. Build it in the "
            f"{'repository' if project.git else 'project'}'s root (BuildKit reads Dockerfile.dockerignore beside this file):",
            f"#   {build}", *written_by]),
        folder / "Dockerfile.dockerignore": render_dockerignore(project),
        folder / "cronjob.yaml": dump(cronjob(name, namespace, schedule, time_zone, pod), [
            f"# `nbprod build` of {project.entry_point} on a schedule ({schedule}, {time_zone}), one run at a time.",
            creds, "# Apply: kubectl apply -f cronjob.yaml", *written_by]),
        folder / "job.yaml": dump(job(name, namespace, pod), [
            "# One run now, the same pod as cronjob.yaml.", creds,
            "# Start one: kubectl create -f job.yaml (a new Job each time, deleted a week after it ends)",
            *written_by]),
    }
    warnings = []
    if not project.git:
        warnings.append(f"nbprod: warning: {project.context} has no .git folder: runs in the image are "
                        "recorded without a commit")
    written = write_files(files, force=force, command="nbprod export kubernetes")
    return Exported(written=written, next_runs=next_runs, build=build, warnings=tuple(warnings))
