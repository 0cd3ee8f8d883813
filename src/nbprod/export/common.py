"""What every exporter needs: the project a job runs, the options it passes, the files it writes.

Why shared: an Airflow DAG running ``nbprod task`` in a pod and a Kubernetes CronJob running
``nbprod build`` need the same facts about the project (its folder, entry point, lock file,
local packages, the kernels its notebooks start, the parameters ``--env--NAME`` may set), the
same rules for what a generated file may hold, and the same image. Nothing here knows a target.

Rules every exporter keeps:

- *No credential in any file.* Options that end up in a generated file (plain environment
  values, ``--env--`` parameters, the store URL, the image) are refused when their name says
  secret (:func:`nbprod.redact.is_secret_name`) or their value looks like a credential
  (:func:`nbprod.redact.credential_shapes`). Credentials reach a job only as references to
  the target's secret store.
- *The store outlives the job.* A job's disk is gone after it ran, so the store must be
  ``s3://BUCKET/...``; a folder, ``file://`` or ``memory://`` store is refused.
- *An edited file is kept.* Each file ends with a stamp (the sha256 of what was generated).
  A file that still matches its stamp is replaced freely; one edited since (or written by
  someone else) is kept unless ``force``; nothing is written when one is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import ConfigError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PARAM = re.compile(r"--env--([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?", re.DOTALL)
KERNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # jupyter_client's kernel names
STAMP = re.compile(r"\n# nbprod export: sha256 ([0-9a-f]{64})\n\Z")
PACKAGE_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
#: settings an exporter writes itself (set them through its own options)
OWN_SETTINGS = ("NBPROD_STORE", "NBPROD_REQUIRE_STORE", "NBPROD_BUILD_TIMEOUT")


@dataclass(frozen=True)
class Written:
    """One file an exporter wrote (``changed`` False: it held exactly this already)."""

    path: Path
    changed: bool


@dataclass(frozen=True)
class Project:
    """The project as a job sees it. Paths in ``context`` terms are POSIX and relative.

    ``context``: the folder an image is built from: the git work tree holding the project
    (so the image keeps the commit nbprod records), else the project's own folder.
    """

    root: Path  # the folder of the entry point (absolute)
    entry_point: str  # relative to root
    context: Path  # absolute
    workdir: str  # root relative to context ("." when they are one)
    lock: str  # relative to context
    packages: tuple[str, ...]  # local distributions, relative to context, installed on top of the lock
    kernels: tuple[str, ...]  # the kernels the notebooks start
    params: tuple[str, ...]  # the names --env--NAME may set (the env file's keys)
    git: bool  # the context is a git work tree with a .git folder
    tracked: tuple[str, ...] = field(default=(), repr=False)  # the files git tracks, relative to context


def load_project(entry_point: str | os.PathLike | None = None, *, lock: str = "requirements.lock",
                 packages: tuple[str, ...] | None = None) -> Project:
    """The project of ``entry_point`` (default: the pipeline a build here would load),
    rendered once (no kernel, nothing written) for its kernels and parameters.

    ``lock`` and ``packages`` are relative to the current folder; ``packages`` defaults to
    the project's folder when it holds a pyproject.toml/setup.py, else none."""
    from ..engine.inspect import find_entry_point, inspect_pipeline

    entry = Path(entry_point).resolve() if entry_point else find_entry_point()
    if entry is None or not entry.is_file():
        raise ConfigError(f"no pipeline {entry_point or 'pipeline.yaml'} here or in a folder above",
                          hint="run it in the project's folder, or pass --entry-point PATH/TO/pipeline.yaml")
    info = inspect_pipeline(entry)
    if info.problems:
        raise ConfigError(f"the pipeline does not render: {info.problems[0].message}",
                          hint="`nbprod check` names every problem; a job would fail the same way")
    root = entry.parent
    top = _git(root, "rev-parse", "--show-toplevel")
    context = Path(top).resolve() if top else root
    git = (context / ".git").is_dir()
    tracked = tuple(sorted(filter(None, (_git(context, "ls-files", "-z", raw=True) or "").split("\0"))))

    def inside(path: str | os.PathLike, what: str, must: str) -> str:
        found = Path(path).resolve()
        if not (found.is_file() if must == "file" else found.is_dir()):
            raise ConfigError(f"{what} {path} is not a {must}", hint=f"pass --{what} PATH")
        try:
            return found.relative_to(context).as_posix() or "."
        except ValueError:
            raise ConfigError(f"{what} {path} is outside {context}, the folder the image is built from",
                              hint=f"keep it in {context}") from None

    if packages is None:
        packages = (str(root),) if any((root / name).is_file() for name in PACKAGE_FILES) else ()
    found_packages = tuple(dict.fromkeys(inside(p, "package", "folder") for p in packages))
    for package in found_packages:
        if not any((context / package / name).is_file() for name in PACKAGE_FILES):
            raise ConfigError(f"package {package} holds no pyproject.toml or setup.py",
                              hint="pass --package the folder of a Python distribution")
    kernels = tuple(sorted({t.kernelspec for t in info.tasks if t.kernelspec}))
    for kernel in kernels:
        if not KERNEL.fullmatch(kernel):
            raise ConfigError(f"kernel name {kernel!r} is not one a kernelspec can have",
                              hint="use letters, digits, '.', '_' and '-' in the notebooks' kernelspec")
    return Project(root=root, entry_point=entry.relative_to(root).as_posix(), context=context,
                   workdir=root.relative_to(context).as_posix() or ".", lock=inside(lock, "lock", "file"),
                   packages=found_packages, kernels=kernels or ("python3",), params=tuple(sorted(info.env)),
                   git=git, tracked=tracked)


def _git(cwd: Path, *args: str, raw: bool = False) -> str | None:
    from ..vcs import git

    out = git(cwd, *args, raw_paths=raw)
    return out.rstrip("\n") if out is not None and not raw else out


def refuse_credential(what: str, value: str) -> str:
    """``value``, unless it looks like a credential (then a one-line error naming ``what``)."""
    from ..redact import credential_shapes

    shapes = credential_shapes(value)
    if shapes:
        raise ConfigError(f"{what} holds {shapes[0]}, which nbprod never writes into a file",
                          hint="keep credentials in a Secret and pass its name (--secret, --env-secret)")
    return value


def s3_store(url: str | None) -> str:
    """The store a job records into: an ``s3://BUCKET[/PREFIX]`` URL (default: NBPROD_STORE)."""
    url = (url or os.environ.get("NBPROD_STORE", "")).strip()
    hint = "pass --store s3://BUCKET/PREFIX (a job's disk is gone after it ran)"
    if not url:
        raise ConfigError("no store given and NBPROD_STORE is not set", hint=hint)
    if not url.startswith("s3://"):
        raise ConfigError(f"the store {url} is not on S3", hint=hint)
    if not url[len("s3://"):].split("/", 1)[0]:
        raise ConfigError(f"the store {url} names no bucket", hint="pass --store s3://BUCKET/PREFIX")
    return refuse_credential("the store URL", url)


def plain_env(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``NAME=VALUE`` options as a mapping: values that are not secrets (an endpoint, a region,
    an NBPROD_* setting). A secret's name or a credential's shape is refused."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not ENV_NAME.fullmatch(name):
            raise ConfigError(f"--set-env {pair!r} is not NAME=VALUE", hint="e.g. --set-env AWS_REGION=eu-west-1")
        _refuse_secret_name(name, "--set-env")
        if name in OWN_SETTINGS:
            raise ConfigError(f"--set-env {name} is set by the exporter",
                              hint="use --store and --timeout instead")
        found[name] = refuse_credential(f"--set-env {name}", value)
    return found


def _refuse_secret_name(name: str, option: str) -> None:
    from ..redact import is_secret_name

    if is_secret_name(name):
        raise ConfigError(f"{option} {name}: its name says it holds a secret, which nbprod never writes "
                          "into a file", hint="put it in a Secret and pass --env-secret SECRET_NAME")


def build_params(args: tuple[str, ...] | list[str], project: Project) -> list[str]:
    """The ``--env--NAME VALUE`` pairs a job passes to ``nbprod build``, as ``[--env--NAME,
    VALUE, ...]``; names the env file does not declare, secrets and anything else refused."""
    out: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        match = PARAM.fullmatch(arg)
        if not match:
            raise ConfigError(f"unexpected argument {arg!r}", hint="only --env--NAME VALUE is passed to nbprod build")
        name, value = match.group(1), match.group(2)
        if value is None:
            if not rest or rest[0].startswith("--env--"):
                raise ConfigError(f"--env--{name} needs a value", hint=f"e.g. --env--{name} VALUE")
            value = rest.pop(0)
        if name not in project.params:
            declared = ", ".join(project.params) or "none"
            raise ConfigError(f"unknown parameter --env--{name}: the pipeline's parameters are {declared}",
                              hint="use one of those names, or add the parameter to env.yaml")
        _refuse_secret_name(name, "--env--")
        out += [f"--env--{name}", refuse_credential(f"--env--{name}", value)]
    return out


def shown(argv: list[str]) -> str:
    """A command line as a shell would take it back."""
    return " ".join(shlex.quote(a) for a in argv)


def stamped(text: str) -> str:
    """``text`` with its stamp as the last line (a ``#`` comment: Dockerfile, ignore file, YAML)."""
    body = text if text.endswith("\n") else text + "\n"
    return f"{body}\n# nbprod export: sha256 {hashlib.sha256(body.encode()).hexdigest()}\n"


def edited(old: str) -> bool:
    """Whether a file is not what an exporter wrote: no stamp, or changed since."""
    match = STAMP.search(old)
    return match is None or hashlib.sha256(old[:match.start()].encode()).hexdigest() != match.group(1)


def write_files(files: dict[Path, str], *, force: bool = False, command: str = "nbprod export") -> tuple[Written, ...]:
    """Write each (already stamped) file, all or none: a file edited since it was written
    (:func:`edited`) is refused unless ``force``, and then nothing is written."""
    from ..files import atomic_write

    kept = []
    for path, text in files.items():
        if path.is_dir():
            raise ConfigError(f"{path} is a folder", hint="pass --out the folder to write into")
        if path.exists() and not force:
            old = path.read_text(encoding="utf-8", errors="replace")
            if old != text and edited(old):
                kept.append(path)
    if kept:
        raise ConfigError(f"{', '.join(map(str, kept))} {'was' if len(kept) == 1 else 'were'} edited since "
                          f"`{command}` wrote {'it' if len(kept) == 1 else 'them'}",
                          hint="pass --force to overwrite, or move the edits elsewhere")
    written = []
    for path, text in files.items():
        same = path.is_file() and path.read_bytes() == text.encode()
        if not same:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text.encode())
        written.append(Written(path, changed=not same))
    return tuple(written)


# -- the project's image ---------------------------------------------------------------------

UID = 10001  # the image's user; a pod runs as it (runAsUser), never as root
APP = "/app"
#: left out of the image: .git's config, FETCH_HEAD and logs may hold a remote's token
#: (an https URL, actions/checkout's extraheader), the rest is local state or caches
IGNORED = (".git/config", ".git/FETCH_HEAD", ".git/hooks", ".git/logs", ".venv", "venv", "**/__pycache__",
           "**/.ipynb_checkpoints", ".pytest_cache", "**/*.egg-info", "build", "dist", "outputs", ".nbprod",
           ".env", ".nbprod.env", ".aws", ".docker")
MAX_EXCEPTIONS = 200


def ignore_matches(pattern: str, path: str) -> bool:
    """Whether a ``.dockerignore`` line of :data:`IGNORED` leaves ``path`` (POSIX, relative) out."""
    parts = path.split("/")
    if pattern.startswith("**/"):
        name = pattern[3:]
        return any(PurePosixPath(part).match(name) for part in parts)
    return path == pattern or path.startswith(pattern + "/")


def render_dockerignore(project: Project) -> str:
    """The image's ignore file: :data:`IGNORED`, but never a file git tracks (leaving one out
    would make every run in the image record a dirty tree)."""
    lines = ["# What the image leaves out (nbprod export). Files git tracks are kept (the `!` lines),",
             "# so a run in the image records the same commit and clean state as the work tree."]
    for pattern in IGNORED:
        kept = [p for p in project.tracked if ignore_matches(pattern, p)]
        if len(kept) > MAX_EXCEPTIONS:
            continue  # a tracked folder: keep it whole
        lines += [pattern, *(f"!{p}" for p in kept)]
    return stamped("\n".join(lines))


def render_dockerfile(project: Project, *, python: str | None = None, header: list[str] | None = None) -> str:
    """The image a job runs: the lock installed, the project at /app (with .git), its local
    packages, its kernels, a non-root user."""
    python = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    if not re.fullmatch(r"3\.\d{1,2}", python):
        raise ConfigError(f"--python {python!r} is not a Python version", hint="e.g. --python 3.11")
    workdir = APP if project.workdir == "." else f"{APP}/{project.workdir}"
    kernels = " && ".join(f"python -m ipykernel install --sys-prefix --name {shlex.quote(k)}" for k in project.kernels)
    names = ", ".join(repr(k) for k in project.kernels)
    install = [f"pip install --no-deps {' '.join('-e ' + shlex.quote(p) for p in project.packages)}"] \
        if project.packages else []
    steps = [
        *install,
        # a fresh .git/config (the build context's is left out: it may hold a token)
        "if [ -d .git ]; then git init --quiet; fi",
        kernels,
        "pip check",
        "nbprod --version",
        "python -c \"import s3fs; from jupyter_client.kernelspec import get_kernel_spec; "
        f"[get_kernel_spec(k) for k in ({names},)]\"",
    ]
    lines = [
        "# syntax=docker/dockerfile:1",
        *(header or []),
        f"FROM python:{python}-slim-bookworm",
        "",
        "ENV PYTHONUNBUFFERED=1 \\\n    PIP_NO_CACHE_DIR=1 \\\n    PIP_DISABLE_PIP_VERSION_CHECK=1 \\\n"
        "    PIP_ROOT_USER_ACTION=ignore \\\n    PLOOMBER_STATS_ENABLED=false \\\n"
        "    PLOOMBER_VERSION_CHECK_DISABLED=true \\\n    MPLBACKEND=Agg",
        "",
        "# git: nbprod records the commit each run was built from; the user the jobs run as",
        "RUN apt-get update \\\n && apt-get install -y --no-install-recommends git \\\n"
        " && rm -rf /var/lib/apt/lists/* \\\n"
        f" && groupadd --gid {UID} nbprod \\\n"
        f" && useradd --uid {UID} --gid {UID} --create-home --shell /usr/sbin/nologin nbprod \\\n"
        f" && git config --system --add safe.directory {APP}",
        "",
        "# everything pinned by the lock, in a layer of its own (rebuilt only when the lock changes)",
        f"COPY {project.lock} /tmp/requirements.lock",
        "RUN pip install -r /tmp/requirements.lock",
        "",
        f"WORKDIR {APP}",
        f"COPY --chown={UID}:{UID} . {APP}",
        "# the project's own packages, its notebooks' kernels, and a check that nothing is missing",
        "RUN " + " \\\n && ".join(steps),
        "",
        f"USER {UID}:{UID}",
        f"WORKDIR {workdir}",
        f'CMD ["nbprod", "build", "--entry-point", {_json(project.entry_point)}]',
    ]
    return stamped("\n".join(lines))


def _json(text: str) -> str:
    import json

    return json.dumps(text)
