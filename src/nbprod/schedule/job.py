"""The shell command a scheduled build runs, the same for cron and for systemd.

Why one command for both: cron starts a job with almost nothing (``/bin/sh``, ``HOME``,
``PATH=/usr/bin:/bin``, no virtualenv, the home folder as its working directory) and a
systemd user unit with little more. Everything the build needs is therefore in the line
itself, so that it can be read, pasted and tested (``env -i HOME=... /bin/sh -c LINE``)
as it is::

    cd '/abs/project' || exit 2; mkdir -p '/abs/project/.nbprod/logs'; { echo "...started $(date -u)";
    PATH='/abs/venv/bin':/usr/local/bin:/usr/bin:/bin; TQDM_DISABLE=1; export PATH TQDM_DISABLE;
    if [ -f .nbprod.env ]; then set -a; . ./.nbprod.env; set +a; fi;
    exec '/abs/venv/bin/nbprod' build --tag schedule=NAME [-e FILE] [--env--NAME VALUE ...];
    } >> '/abs/project/.nbprod/logs/schedule-NAME.log' 2>&1

- the venv's own ``nbprod`` by absolute path (``sys.executable``'s folder), and that folder
  first on ``PATH``, so papermill, its kernel and ``git`` (provenance) are found;
- ``cd`` into the project (the folder of its ``pipeline.yaml``): the default store, the
  products and the build lock belong to it;
- ``TQDM_DISABLE=1``: no progress bars (carriage returns, not lines) in the log; an empty
  ``TQDM_DISABLE=`` in ``.nbprod.env`` brings them back;
- the settings from ``.nbprod.env`` beside the project (:mod:`.envfile`), exported;
- everything appended to a log, by default in ``.nbprod/logs/`` (git-ignored with the rest
  of ``.nbprod/``, so a log never makes the tree look dirty to the run's provenance);
- ``exec``: the job's exit status is nbprod's (0 built, 1 a task failed, 2 usage or the
  build lock is held by another run, 3 store);
- every run tagged ``schedule=NAME`` (``nbprod runs ls --tag schedule=NAME``).

Overlapping runs need nothing here: the build takes the project's build lock
(:mod:`nbprod.engine.buildlock`), so a second run exits 2 at once with one line.

Nothing that holds a credential goes into the line: a ``--env--NAME VALUE`` whose name
says secret or whose value looks like a credential (:mod:`nbprod.redact`) is refused.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..redact import credential_shapes, secret_values

#: the PATH a job runs with, after the venv's bin folder (cron's own is /usr/bin:/bin)
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LOG_DIR = Path(".nbprod") / "logs"
_ENV_ARG = re.compile(r"--env--([A-Za-z0-9_]+)(?:=(.*))?", re.DOTALL)


@dataclass(frozen=True)
class Job:
    """What one scheduled build runs: the project, its entry point, parameters and log."""

    name: str
    root: Path                               # the project's folder (absolute)
    entry: str | None                        # -e for `nbprod build`, relative to root; None: pipeline.yaml
    env: tuple[tuple[str, str], ...] = ()    # --env--NAME VALUE pairs, in order
    log: Path | None = None                  # absolute; None: .nbprod/logs/schedule-NAME.log
    program: tuple[str, ...] = ()            # the nbprod command (absolute); (): this venv's

    @property
    def log_file(self) -> Path:
        return self.log or self.root / LOG_DIR / f"schedule-{self.name}.log"

    @property
    def nbprod(self) -> tuple[str, ...]:
        return self.program or venv_nbprod()

    def build_argv(self) -> list[str]:
        argv = [*self.nbprod, "build", "--tag", f"schedule={self.name}"]
        if self.entry:
            argv += ["-e", self.entry]
        for name, value in self.env:
            argv += [f"--env--{name}", value]
        return argv


def venv_nbprod() -> tuple[str, ...]:
    """This interpreter's ``nbprod`` script by absolute path (a venv's python is a symlink:
    not resolved, or the venv would be lost), else ``python -m nbprod.cli``."""
    python = os.path.abspath(sys.executable)
    script = os.path.join(os.path.dirname(python), "nbprod")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return (script,)
    return (python, "-m", "nbprod.cli")


def command(job: Job) -> str:
    """The ``/bin/sh`` command line that runs ``job`` (see the module docstring)."""
    q = shlex.quote
    bin_dir = os.path.dirname(job.nbprod[0])
    log = job.log_file
    body = "; ".join([
        f'echo "nbprod schedule {job.name}: started $(date -u)"',
        f"PATH={q(bin_dir)}:{SYSTEM_PATH}",
        "TQDM_DISABLE=1",
        "export PATH TQDM_DISABLE",
        "if [ -f .nbprod.env ]; then set -a; . ./.nbprod.env; set +a; fi",
        "exec " + " ".join(q(a) for a in job.build_argv()),
    ])
    return f"cd {q(str(job.root))} || exit 2; mkdir -p {q(str(log.parent))}; {{ {body}; }} >> {q(str(log))} 2>&1"


def make_job(*, entry: str | None = None, name: str | None = None, extra: list[str] | tuple[str, ...] = (),
             log: str | None = None, cwd: str | os.PathLike | None = None,
             environ: dict[str, str] | None = None) -> Job:
    """The job for the project of ``entry`` (a pipeline file; default: ``ENTRY_POINT`` or the
    nearest ``pipeline.yaml`` from ``cwd`` up), with ``extra`` ``--env--NAME VALUE`` arguments."""
    from ..settings import project_folder

    here = Path(cwd or os.getcwd())
    env = os.environ if environ is None else environ
    if not entry and env.get("ENTRY_POINT", "").strip() and Path(env["ENTRY_POINT"]).is_file():
        entry = env["ENTRY_POINT"]  # ploomber's own variable, as `nbprod build` would take it
    if entry:
        path = Path(os.path.abspath(here / entry))
        if not path.is_file():
            raise ConfigError(f"-e {entry}: no such file",
                              hint="give the path of the pipeline's YAML file (e.g. pipeline.yaml)")
    else:
        found = project_folder({}, here)
        if found is None:
            raise ConfigError(f"no pipeline.yaml in {here} or above",
                              hint="run `nbprod schedule` in the project, or give -e PATH")
        path = Path(os.path.abspath(found)) / "pipeline.yaml"
    root, relative = path.parent, path.name
    job = Job(
        name=check_name(name or default_name(root, relative)),
        root=root,
        entry=None if relative == "pipeline.yaml" else relative,
        env=env_pairs(extra),
        log=Path(os.path.abspath(here / log)) if log else None,
    )
    for text in (str(job.root), str(job.log_file), *job.nbprod):
        if "\n" in text or "\r" in text:
            raise ConfigError(f"{text!r} holds a line break", hint="a crontab line and a unit file cannot hold one")
    return job


def default_name(root: Path, entry: str) -> str:
    """The project folder's name, with the entry point's stem unless it is pipeline.yaml."""
    stem = Path(entry).name.removesuffix(".yaml").removesuffix(".yml")
    words = [root.name] + ([] if stem == "pipeline" else [stem.removeprefix("pipeline.")])
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(words)).strip("-_")[:64]
    return name or "pipeline"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ConfigError(f"--name {name!r} is not a schedule name",
                          hint="use letters, digits, - and _ (up to 64, starting with a letter or digit)")
    return name


def env_pairs(extra: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--env--NAME VALUE`` / ``--env--NAME=VALUE`` arguments as pairs; anything else, or a
    value that would put a credential into the line, is one ConfigError."""
    pairs: list[tuple[str, str]] = []
    args = list(extra)
    while args:
        arg = args.pop(0)
        match = _ENV_ARG.fullmatch(arg)
        if not match:
            raise ConfigError(f"unexpected argument {arg!r}",
                              hint="nbprod schedule takes -e PATH, --name NAME and --env--NAME VALUE pairs")
        name, value = match.group(1), match.group(2)
        if value is None:
            if not args:
                raise ConfigError(f"{arg} has no value", hint=f"give it one: {arg} VALUE")
            value = args.pop(0)
        if any(ord(c) < 32 or ord(c) == 127 for c in value):  # a newline would end the crontab line
            raise ConfigError(f"--env--{name} holds a control character (a newline, a tab...)",
                              hint="pass a one-line value: a crontab or systemd line cannot carry it")
        shapes = credential_shapes(value)
        if secret_values({name: value}) or shapes:
            what = shapes[0] if shapes else "a secret (its name says so)"
            raise ConfigError(f"--env--{name} holds {what}: nbprod never writes one into a schedule",
                              hint=f"read it from the environment in env.yaml ({{{{env.NAME}}}}) and set it "
                                   f"in .nbprod.env yourself")
        pairs.append((name, value))
    return tuple(pairs)
