"""`nbprod export kubernetes`: the manifests validate against every Kubernetes 1.3x schema
kubernetes-validate ships (strict), the pod never runs as root, credentials are only Secret
references (a secret in the caller's environment reaches no file), the container's command is
one `nbprod build` parses, the Dockerfile installs from the lock, and a run in the image (its
build context as the ignore file leaves it) records the project's commit, clean."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from nbprod.cli import main

REPO = Path(__file__).resolve().parents[3]
IMAGE = "registry.example.com/team/penguins:1.0"
STORE = "s3://team-bucket/nbprod"
TOKEN = "ghp_" + "a1B2c3D4" * 5  # a GitHub token's shape, in the fixture's git remote
VERSIONS = ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The reference project with its lock, as a git repository whose remote URL holds a token."""
    dest = tmp_path_factory.mktemp("k8s") / "penguins"
    dest.mkdir()
    for name in ("notebooks", "pipeline.yaml", "env.yaml", "env.ci.yaml", "nbprod.yaml", "requirements.lock"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dest / name)
    (dest / ".gitignore").write_text("outputs/*\n!outputs/.gitkeep\n.venv/\n")
    (dest / "outputs").mkdir()
    (dest / "outputs" / ".gitkeep").write_text("")
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "init")
    _git(dest, "remote", "add", "origin", f"https://ci:{TOKEN}@github.com/team/penguins.git")
    (dest / "outputs" / "store").mkdir()
    (dest / "outputs" / "store" / "junk.json").write_text("{}")
    (dest / ".venv").mkdir()
    (dest / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    return dest


def export(project: Path, out: Path, *args: str, monkeypatch=None) -> Path:
    """``nbprod export kubernetes`` in ``project``, writing into ``out``; raises SystemExit on an error."""
    import os

    here = os.getcwd()
    os.chdir(project)
    try:
        main(["export", "kubernetes", "--image", IMAGE, "--store", STORE, "--out", str(out), *args])
    finally:
        os.chdir(here)
    return out


@pytest.fixture(scope="module")
def written(project, tmp_path_factory) -> Path:
    return export(project, tmp_path_factory.mktemp("out"), "--namespace", "ml", "--env-secret", "notebook-keys",
                  "--set-env", "AWS_ENDPOINT_URL=https://s3.eu-west-1.amazonaws.com", "--env--years", "2008")


def manifests(out: Path) -> dict[str, dict]:
    return {name: yaml.safe_load((out / name).read_text()) for name in ("cronjob.yaml", "job.yaml")}


def pod(manifest: dict) -> dict:
    spec = manifest["spec"]
    return (spec["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else spec)["template"]["spec"]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in dockerfile.splitlines() if not l.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schema_strictly(written, version):
    import kubernetes_validate

    for name, manifest in manifests(written).items():
        kubernetes_validate.validate(manifest, version, strict=True)  # raises ValidationError


def test_the_validation_would_catch_a_wrong_field(written):
    import kubernetes_validate

    manifest = manifests(written)["cronjob.yaml"]
    pod(manifest)["containers"][0]["envFrom"] = [{"secretKeyRef": {"name": "x"}}]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, VERSIONS[0], strict=True)


def test_the_cronjob_runs_one_build_at_a_time_and_never_retries_a_failed_task(written):
    cron = manifests(written)["cronjob.yaml"]
    spec = cron["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("0 3 * * *", "Etc/UTC", "Forbid")
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] <= 1
    fail = [r for r in job["podFailurePolicy"]["rules"] if r["action"] == "FailJob"]
    assert fail[0]["onExitCodes"] == {"containerName": "nbprod", "operator": "In", "values": [1, 2, 4, 5]}
    for manifest in manifests(written).values():
        assert pod(manifest)["restartPolicy"] == "Never"
        assert manifest["metadata"]["namespace"] == "ml"
        env = {e["name"]: e.get("value") for e in pod(manifest)["containers"][0]["env"]}
        assert env["NBPROD_STORE"] == STORE and env["NBPROD_REQUIRE_STORE"] == "1"
        assert int(env["NBPROD_BUILD_TIMEOUT"]) < pod(manifest)["activeDeadlineSeconds"]
    assert manifests(written)["job.yaml"]["metadata"]["generateName"].endswith("-manual-")


def test_the_pod_and_the_image_run_as_the_same_non_root_user(written):
    steps = instructions((written / "Dockerfile").read_text())
    users = [args for op, args in steps if op == "USER"]
    assert users and steps.index(("USER", users[-1])) > max(i for i, (op, _) in enumerate(steps) if op == "RUN")
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert any(op == "RUN" and f"useradd --uid {uid} " in args for op, args in steps)
    for manifest in manifests(written).values():
        spec = pod(manifest)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == int(uid) and spec["securityContext"]["runAsGroup"] != 0
        container = spec["containers"][0]["securityContext"]
        assert container["allowPrivilegeEscalation"] is False and container["capabilities"]["drop"] == ["ALL"]
        assert spec["automountServiceAccountToken"] is False


def test_credentials_are_only_references_to_secrets(written, project, tmp_path):
    for manifest in manifests(written).values():
        container = pod(manifest)["containers"][0]
        from_secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert from_secrets["AWS_ACCESS_KEY_ID"] == {"name": "nbprod-store", "key": "AWS_ACCESS_KEY_ID"}
        assert from_secrets["AWS_SECRET_ACCESS_KEY"] == {"name": "nbprod-store", "key": "AWS_SECRET_ACCESS_KEY"}
        assert from_secrets["AWS_SESSION_TOKEN"]["optional"] is True
        plain = {e["name"] for e in container["env"] if "value" in e}
        assert plain == {"NBPROD_STORE", "NBPROD_REQUIRE_STORE", "NBPROD_BUILD_TIMEOUT", "AWS_ENDPOINT_URL"}
        assert container["envFrom"] == [{"secretRef": {"name": "notebook-keys"}}]
    role = export(project, tmp_path / "role", "--no-secret", "--service-account", "penguins-s3")
    spec = pod(manifests(role)["cronjob.yaml"])
    assert not [e for e in spec["containers"][0]["env"] if "valueFrom" in e]
    assert spec["serviceAccountName"] == "penguins-s3" and "automountServiceAccountToken" not in spec


def test_a_secret_in_the_callers_environment_reaches_no_file(project, tmp_path, monkeypatch):
    from nbprod.redact import Redactor

    secrets = {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7ABCDEFG",
               "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLETOKENvalue123", "API_TOKEN": "tok-0123456789abcdef"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NBPROD_STORE", STORE)
    out = export(project, tmp_path / "out", "--set-env", "AWS_REGION=eu-west-1")
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["Dockerfile", "Dockerfile.dockerignore", "cronjob.yaml", "job.yaml"]
    redactor = Redactor(secrets)
    for path in files:
        text = path.read_text()
        assert redactor.text(text) == text, path.name
        assert not any(value in text for value in secrets.values()), path.name


@pytest.mark.parametrize("args, says", [
    (["--set-env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI"], "--set-env AWS_SECRET_ACCESS_KEY: its name says"),
    (["--set-env", "DATABASE_URL=postgres://app:hunter2hunter2@db/x"], "holds a password in a URL"),
    (["--set-env", "KEYID=AKIAIOSFODNN7ABCDEFG"], "--set-env KEYID: its name says"),
    (["--set-env", "ID=AKIAIOSFODNN7ABCDEFG"], "holds an AWS access key id"),
    (["--env--source", "https://x/data.csv?token=abcdef0123456789"], "--env--source holds a token in a URL"),
    (["--store", "s3://bucket/x?x-amz-security-token=abcdefgh12345678"], "the store URL holds a token"),
    (["--set-env", "NBPROD_STORE=s3://b"], "is set by the exporter"),
    (["--env--nope", "1"], "unknown parameter --env--nope: the pipeline's parameters are C, seed"),
    (["--partially", "train"], "unexpected argument '--partially'"),
    (["--store", "outputs/store"], "is not on S3: pass --store s3://"),
    (["--store", "file:///tmp/store"], "is not on S3"),
    (["--store", "memory://runs"], "is not on S3"),
    (["--store", "s3://"], "names no bucket"),
    (["--schedule", "61 * * * *"], "--schedule '61 * * * *' is not a schedule Kubernetes takes"),
    (["--schedule", "*/5 * * * * *"], "is not a schedule"),  # croniter takes seconds, Kubernetes does not
    (["--schedule", "0 3 L * *"], "is not a schedule"),
    (["--schedule", "0 3 * * MON#1"], "is not a schedule"),
    (["--schedule", "@every 5m"], "is not a schedule"),
    (["--schedule", "TZ=UTC 0 3 * * *"], "is not a schedule"),
    (["--time-zone", "Mars/Olympus"], "is not a time zone"),
    (["--name", "Penguins_Nightly"], "is not a CronJob name"),
    (["--namespace", "a.b"], "is not a Kubernetes name"),
    (["--memory", "2GB"], "is not a Kubernetes quantity"),
    (["--timeout", "soon"], "is not a duration"),
    (["--image", "registry.example.com/a b"], "is not an image reference"),
    (["--lock", "missing.lock"], "lock missing.lock is not a file"),
    (["--package", "notebooks"], "package notebooks holds no pyproject.toml"),
])
def test_a_bad_or_secret_option_is_one_line_exit_2_and_nothing_is_written(project, tmp_path, capsys, args, says):
    with pytest.raises(SystemExit) as exited:
        export(project, tmp_path / "out", *args)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.count("\n") == 1 and err.startswith("nbprod: error: ") and says in err, err
    assert not (tmp_path / "out").exists()
    assert "hunter2hunter2" not in err and "AKIAIOSFODNN7ABCDEFG" not in err and "abcdef0123456789" not in err


def test_no_store_at_all_is_refused(project, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NBPROD_STORE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["export", "kubernetes", "--image", IMAGE, "--out", str(tmp_path), "--entry-point",
              str(project / "pipeline.yaml"), "--lock", str(project / "requirements.lock")])
    assert exited.value.code == 2 and "no store given and NBPROD_STORE is not set" in capsys.readouterr().err


@pytest.mark.parametrize("schedule", ["@daily", "*/15 * * * *", "0 6 * * MON-FRI", "30 2 1,15 * *", "0 0 1 JAN *"])
def test_schedules_kubernetes_takes_are_taken(schedule):
    from nbprod.export.kubernetes import check_schedule

    assert len(check_schedule(schedule, "Europe/Paris")) == 3


def test_the_container_runs_a_command_nbprod_build_parses(written, project, monkeypatch):
    from ploomber import DAG

    from nbprod.cli.build import build
    from nbprod.engine import dag as engine_dag

    argv = pod(manifests(written)["cronjob.yaml"])["containers"][0]["command"]
    assert argv[:2] == ["nbprod", "build"]
    ctx = build.make_context("build", list(argv[2:]))  # nbprod's own options
    assert ctx.params["tags"] == ("kubernetes",)
    built = []
    monkeypatch.setattr(DAG, "build", lambda self, *a, **k: built.append(self))  # parse and load, never run
    monkeypatch.chdir(project)
    engine_dag.build(list(ctx.params["ploomber_args"]))  # ploomber's own parser, as `nbprod build` runs it
    assert built and built[0]["ingest"].params["years"] == 2008  # --env--years 2008 reached the task
    from nbprod.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown option --bogus"):
        engine_dag.build([*ctx.params["ploomber_args"], "--bogus"])  # the check can fail


def test_the_dockerfile_installs_the_lock_then_the_project_and_its_kernels(written):
    steps = instructions((written / "Dockerfile").read_text())
    ops = [op for op, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim-bookworm")
    lock = steps.index(("COPY", "requirements.lock /tmp/requirements.lock"))
    assert steps[lock + 1] == ("RUN", "pip install -r /tmp/requirements.lock")
    project_copy = next(i for i, (op, args) in enumerate(steps) if op == "COPY" and args.endswith(". /app"))
    assert lock < project_copy < ops.index("USER")
    final = steps[project_copy + 1][1]
    assert "python -m ipykernel install --sys-prefix --name python3" in final and "pip check" in final
    assert "get_kernel_spec(k) for k in ('python3',)" in final and "import s3fs" in final
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "PLOOMBER_STATS_ENABLED=false" in env and "PLOOMBER_VERSION_CHECK_DISABLED=true" in env
    assert ("WORKDIR", "/app") in steps and steps[-1] == ("CMD", '["nbprod", "build", "--entry-point", "pipeline.yaml"]')


def test_this_repositorys_packages_are_installed_on_top_of_the_lock(tmp_path, monkeypatch):
    from nbprod.export.common import load_project, render_dockerfile

    monkeypatch.chdir(REPO)
    found = load_project(packages=(".", "src/penguins"))
    assert found.packages == (".", "src/penguins") and found.lock == "requirements.lock"
    assert "RUN pip install --no-deps -e . -e src/penguins" in render_dockerfile(found)


def _left_out(ignore: str, path: str) -> bool:
    """Docker's rule, for the lines nbprod writes: the last line that matches a path or one
    of its folders decides; ``!`` keeps; ``**/`` is any depth."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    decided = False
    for line in ignore.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep, pattern = line.startswith("!"), line.lstrip("!")
        if pattern.startswith("**/"):
            hit = any(PurePosixPath(p).match(pattern[3:]) for p in prefixes)
        else:
            hit = any(p == pattern for p in prefixes)
        if hit:
            decided = not keep
    return decided


def test_a_run_in_the_image_records_the_projects_commit_clean_and_no_token(project, tmp_path):
    """The image's /app, as COPY makes it from the ignore file, then the Dockerfile's git step."""
    from nbprod.record.provenance import git_info

    out = export(project, project / "deploy" / "kubernetes")
    _git(project, "add", "deploy")
    _git(project, "commit", "-q", "-m", "deploy")  # what a user does before building the image
    ignore = (out / "Dockerfile.dockerignore").read_text()
    app = tmp_path / "app"
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        rel = path.relative_to(project).as_posix()
        if not _left_out(ignore, rel):
            (app / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, app / rel)
    assert not (app / ".venv").exists() and not (app / "outputs" / "store").exists()
    assert (app / "outputs" / ".gitkeep").exists()
    assert "if [ -d .git ]; then git init --quiet; fi" in (out / "Dockerfile").read_text()
    subprocess.run("if [ -d .git ]; then git init --quiet; fi", shell=True, cwd=app, check=True)
    info = git_info(app)
    assert info["commit"] == _git(project, "rev-parse", "HEAD") and info["dirty"] is False
    assert not any(TOKEN in p.read_text(errors="replace") for p in app.joinpath(".git").rglob("*") if p.is_file()
                   and p.stat().st_size < 1 << 20)


def test_the_ignore_file_leaves_out_no_file_this_repository_tracks():
    from nbprod.export.common import Project, render_dockerignore

    tracked = tuple(_git(REPO, "ls-files").splitlines())
    ignore = render_dockerignore(Project(root=REPO, entry_point="pipeline.yaml", context=REPO, workdir=".",
                                         lock="requirements.lock", packages=(".",), kernels=("python3",), params=(),
                                         git=True, tracked=tracked))
    assert [p for p in tracked if _left_out(ignore, p)] == []
    assert _left_out(ignore, ".git/config") and _left_out(ignore, "outputs/store/runs/x.json")
    assert _left_out(ignore, "src/nbprod/__pycache__/x.pyc") and not _left_out(ignore, ".git/HEAD")


def test_an_edited_file_is_kept_unless_forced_and_the_header_writes_it_again(project, tmp_path, capsys):
    out = export(project, tmp_path / "out", "--schedule", "@hourly", "--tag", "nightly")
    capsys.readouterr()
    export(project, out, "--schedule", "@hourly", "--tag", "nightly")
    assert capsys.readouterr().out.count("nbprod: unchanged: ") == 4
    export(project, out, "--schedule", "@daily")  # not edited: replaced without --force
    assert "schedule: '@daily'" in (out / "cronjob.yaml").read_text()
    job = out / "job.yaml"
    job.write_text(job.read_text().replace("cpu: '1'", "cpu: '4'"))
    before = {p.name: p.read_text() for p in out.iterdir()}
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        export(project, out, "--schedule", "@weekly")
    assert exited.value.code == 2 and f"{job} was edited since" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in out.iterdir()} == before  # all or nothing
    export(project, out, "--schedule", "@weekly", "--force")
    again = re.search(r"^#   (nbprod export kubernetes .*)$", (out / "cronjob.yaml").read_text(), re.M).group(1)
    capsys.readouterr()
    import os

    here = os.getcwd()
    os.chdir(project)
    try:
        main(shlex.split(again)[1:])
    finally:
        os.chdir(here)
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "nbprod: unchanged: " in line].__len__() == 4, lines
    assert "--schedule @weekly" in again and "--force" in again


def test_the_command_prints_what_it_wrote_and_the_next_runs(project, tmp_path, capsys):
    export(project, tmp_path / "out", "--schedule", "0 3 * * *", "--time-zone", "Europe/Paris")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"nbprod: wrote {tmp_path / 'out' / 'Dockerfile'}"
    assert re.fullmatch(r"nbprod: next runs: (\d{4}-\d\d-\d\d 03:00 CES?T(, )?){3}", out[4]), out[4]
    assert "docker build -f" in out[5]
