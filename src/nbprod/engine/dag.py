"""Loading and building a ploomber DAG the way ``ploomber build`` does, with nbprod's hooks.

ploomber (last release 2024) is kept behind :mod:`nbprod.engine` so it can be
replaced: this module runs ``ploomber build`` with ploomber's own argument
parser, attaches nbprod's recording hooks to any DAG (so ``nbprod build``
records projects that never heard of nbprod), and turns ploomber's errors into
one line.

That line is nbprod's, whatever refused: ploomber's argument parser would print
its usage text (an unknown ``--env--NAME``, a folder without pipeline.yaml), so
its ``error`` raises nbprod's error instead; ploomber's messages that end in an
example of the fix keep the example, indented below the one-line summary
(:class:`~nbprod.errors.DetailedPipelineError`), because squeezed into the line
it is unreadable. While the pipeline loads, ploomber is kept from rewriting a
source notebook (:func:`nbprod.engine.params.leave_sources_alone`), and the
parameters cells are checked before anything renders.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import ConfigError, DetailedPipelineError, NbprodError, PipelineError

# ploomber's telemetry and update check phone home; nbprod runs offline.
QUIET_ENV = {"PLOOMBER_STATS_ENABLED": "false", "PLOOMBER_VERSION_CHECK_DISABLED": "true"}


def quiet_ploomber() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def build(argv: list[str], loaded: list | None = None, *, tags: list[str] | None = None,
          note: str | None = None, smoke: bool = False, junit: str | None = None,
          baseline: str | None = None, prepare=None, part: dict | None = None, promote: bool = False) -> Any:
    """Run ``ploomber build`` with ``argv``, with nbprod's hooks attached.

    Reuses ploomber's own argument parser (every ``ploomber build`` option and
    ``--env--NAME`` works), intercepting the loaded DAG to attach the hooks.
    ploomber errors propagate; :func:`explain` turns them into one line.
    ``loaded`` (a list) receives the DAG once it is loaded. ``tags`` and ``note``
    go into the run's record. ``smoke``: every task forced, with the parameters of
    ``env.ci.yaml`` beside the pipeline's ``env.yaml`` (ploomber's
    ``PLOOMBER_ENV_FILENAME``), recorded as a smoke run, timeouts by default.
    ``junit``, ``baseline``: what the recorded run tells CI (:mod:`nbprod.ci`).
    ``prepare(dag)``: called once the DAG is loaded, before it renders (:mod:`nbprod.engine.replay`).
    ``part``: this build is one task's attempt within a run (:mod:`nbprod.engine.onetask`).
    ``promote``: once recorded, promote the model versions whose gates passed (:mod:`nbprod.models.runs`).
    """
    quiet_ploomber()
    from ploomber.cli import build as ploomber_build
    from ploomber.cli.parsers import CustomParser

    from .params import check_params, leave_sources_alone

    class RecordingParser(CustomParser):
        def load_from_entry_point_arg(self):
            if smoke:
                _smoke_env(self.parse_entry_point_value(), saved_env)
            with leave_sources_alone():  # ploomber would add a parameters cell to the user's notebook
                dag, args = super().load_from_entry_point_arg()
            check_params(dag)  # again at render (on_render); here, before papermill's render warnings
            typed = ["nbprod", "task", part["task"], *command[:-2]] if part else ["nbprod", "build", *command]
            attach(dag, entry_point=self.parse_entry_point_value(), argv=typed)
            dag._nbprod_labels = {"tags": list(tags or []), "note": note, "smoke": smoke,
                                  "junit": os.path.abspath(junit) if junit else None, "baseline": baseline,
                                  "part": part, "promote": promote}
            if prepare is not None:
                prepare(dag)
            if loaded is not None:
                loaded.append(dag)
            return dag, args

        def error(self, message):  # argparse would print its usage and exit 2
            raise usage_error(message, self)

    command = [*argv, *(["--smoke"] if smoke else []), *(["--junit", junit] if junit else []),
               *(["--baseline", baseline] if baseline else []), *(["--promote"] if promote else [])]  # as typed
    if smoke and not {"-f", "--force"} & set(argv):
        argv = [*argv, "--force"]  # a smoke build runs every task
    saved_argv, saved_parser = sys.argv, ploomber_build.CustomParser
    saved_env: dict[str, str | None] = {}
    sys.argv = ["nbprod build", *argv]
    ploomber_build.CustomParser = RecordingParser
    try:
        return ploomber_build.main(catch_exception=False)
    finally:
        sys.argv, ploomber_build.CustomParser = saved_argv, saved_parser
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


SMOKE_ENV = "env.ci.yaml"


def _smoke_env(entry_point: str | None, saved: dict[str, str | None]) -> None:
    """Point ploomber at ``env.ci.yaml`` (where ploomber looks for ``env.yaml``: the current
    folder, then the pipeline's), or say that the smoke build keeps env.yaml's parameters."""
    import warnings
    from pathlib import Path

    folders = [Path.cwd()]
    if entry_point and Path(entry_point).suffix in (".yaml", ".yml"):
        folders.append(Path(entry_point).resolve().parent)
    if any((folder / SMOKE_ENV).is_file() for folder in folders):
        saved.setdefault("PLOOMBER_ENV_FILENAME", os.environ.get("PLOOMBER_ENV_FILENAME"))
        os.environ["PLOOMBER_ENV_FILENAME"] = SMOKE_ENV
    else:
        warnings.warn(f"--smoke: no {SMOKE_ENV} beside pipeline.yaml, so the smoke build uses the "
                      "pipeline's own parameters (add one with small values: fewer rows, a small model)",
                      UserWarning, stacklevel=2)


def explain(err: BaseException, limit: int = 400) -> str:
    """One line for an error ploomber raised while loading or building.

    ploomber wraps the real cause (a YAML error, a missing file) in layers of
    banners; the deepest exception in the chain says what is wrong, so its
    meaningful lines are joined into one (an example it gives is left out:
    :func:`as_pipeline_error` keeps it).
    """
    return _explain(err, limit)[0]


def _explain(err: BaseException, limit: int = 400) -> tuple[str, list[str], str]:
    """(one-line summary, the example or code ploomber gave below it, possibly empty, the fix).

    ploomber's multi-line messages end in an example introduced by a line
    ending in ``:`` and a blank line (``Missing keys: 'product' To fix it, add
    the missing key (example):`` then YAML); squeezed into one line the example
    is unreadable, so it is kept apart, line by line. A notebook ploomber
    cannot read is named, with why.
    """
    chain = []
    current: BaseException | None = err
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    found: tuple[str, list[str]] | None = None
    hint = "fix pipeline.yaml / the notebook and run again"
    for exc in reversed(chain):
        lines = _meaningful_lines(str(exc))
        if any(lines):
            found = _split_example(lines)
            break
    if found is None:
        return type(err).__name__, [], hint
    summary, detail = found
    unreadable = _unreadable_notebook(chain, summary)
    if unreadable is not None:
        summary, detail, hint = unreadable, [], "restore the file (from git or a backup) and run again"
    elif summary.startswith("Could not parse a valid 'upstream' variable in the 'parameters' cell"):
        import re

        named = next((m.group(1) for e in chain if (m := re.search(r"Failed to initialize task '(.+?)'", str(e)))), None)
        summary = (f"{'task ' + repr(named) if named else 'a notebook'}: its parameters cell declares no `upstream` "
                   "(ploomber reads the task's dependencies from it)")
        detail, hint = [], "add `upstream = None` to that cell, or the list of the tasks whose products it uses"
    if len(summary) > limit:
        summary = summary[: limit - 3] + "..."
    return summary, detail, hint


def _split_example(lines: list[str]) -> tuple[str, list[str]]:
    """Prose joined into one line; what follows ``...:`` and a blank line, kept as lines."""
    cut = next((i for i in range(len(lines) - 1)
                if lines[i].rstrip().endswith(":") and not lines[i + 1].strip()
                and any(line.strip() for line in lines[i + 1:])), None)
    prose = lines if cut is None else lines[: cut + 1]
    summary = ""
    for line in (part.strip() for part in prose):
        if not line:
            continue
        if summary and summary[-1] not in ".:;,!?" and line[:1].isupper():
            summary += "."  # "Missing keys: 'product' To fix it" read as one sentence
        summary = f"{summary} {line}" if summary else line
    summary = " ".join(summary.split())
    if cut is None:
        return summary, []
    example = [line.rstrip() for line in lines[cut + 1:] if line.strip()][:MAX_DETAIL_LINES]
    indent = min(len(line) - len(line.lstrip()) for line in example)
    return summary, [line[indent:][:200] for line in example]


MAX_DETAIL_LINES = 20


def _unreadable_notebook(chain: list[BaseException], reason: str) -> str | None:
    """``<file> is not valid notebook JSON (...)`` when ploomber could not read a notebook."""
    import re

    for exc in chain:
        match = re.search(r"Failed to read notebook from '(.+?)'", str(exc))
        if match:
            path = _shown(match.group(1))
            reason = re.sub(r"\s*\(char \d+\)$", "", reason)
            if any(type(e).__name__ in ("NotJSONError", "JSONDecodeError") for e in chain):
                return f"{path} is not valid notebook JSON ({reason}); the file may be truncated"
            return f"{path} is not a valid notebook ({reason})"
    return None


def _shown(path: str) -> str:
    """A path relative to the working directory when it is inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def _meaningful_lines(text: str) -> list[str]:
    """The message lines of ploomber's report, as written (blank lines kept): no banners,
    no traceback frames, nothing after its ``Summary`` banner (which repeats the task names)."""
    skip = ("====", "----", "Need help", "Traceback", "Summary")
    found: list[str] = []
    in_traceback = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if found and found[-1].strip():
                found.append("")
            continue
        if line.startswith("Traceback"):
            in_traceback = True
            continue
        if in_traceback and raw[:1].isspace():  # a frame or its source line
            continue
        in_traceback = False
        if line.startswith("=") and "Summary" in line:
            break
        if not line.startswith(skip):
            found.append(raw.rstrip())
    while found and not found[-1].strip():
        found.pop()
    return found


def as_pipeline_error(err: BaseException) -> "NbprodError":
    """nbprod's own error if one caused ``err`` (ploomber wraps hook errors), else a PipelineError.

    When ploomber gave an example of the fix, the error's first line is the
    summary and the example is indented below it (:class:`DetailedPipelineError`).
    """
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, NbprodError):
            return current
        current = current.__cause__ or current.__context__
    summary, detail, hint = _explain(err)
    if detail:  # the example is the fix
        return DetailedPipelineError(summary, detail=detail)
    return PipelineError(summary, hint=hint)


def usage_error(message: str, parser) -> NbprodError:
    """One line for what ploomber's argument parser refused (it would print its usage).

    An unknown ``--env--NAME`` names the parameters the pipeline's env file
    declares; a folder without a pipeline names the file it looked for.
    """
    first = message.strip().splitlines()[0] if message.strip() else "bad arguments"
    if first.startswith("Unable to find a pipeline"):
        wanted = os.environ.get("ENTRY_POINT") or "pipeline.yaml"
        return PipelineError(
            f"no {wanted} in {os.getcwd()} or a folder above it",
            hint="run nbprod build in the project folder, or pass --entry-point PATH/TO/pipeline.yaml",
        )
    if "does not take positional arguments" in first:
        return ConfigError("nbprod build takes no task name",
                           hint="to build one task and what it needs, pass --partially TASK")
    if first.startswith("unrecognized arguments:"):
        unknown = first.partition(":")[2].split()
        params = [a for a in unknown if a.startswith("--env--")]
        known = sorted(o for action in parser._actions for o in action.option_strings if o.startswith("--env--"))
        if params:
            names = ", ".join(p.split("=", 1)[0] for p in params)
            declared = (f"the pipeline's parameters are {', '.join(known)}" if known
                        else "the pipeline declares no parameters (it has no env.yaml)")
            return ConfigError(f"unknown parameter {names}: {declared}",
                               hint="use one of those names, or add the parameter to env.yaml")
        options = " ".join(a for a in unknown if a.startswith("-")) or " ".join(unknown)
        return ConfigError(f"unknown option {options}", hint="see `nbprod build --help`")
    return ConfigError(" ".join(first.split()), hint="see `nbprod build --help`")


def attach(dag, *, entry_point: str | None = None, argv: list[str] | None = None) -> None:
    """Attach nbprod's recording hooks to a DAG, keeping the user's own hooks.

    A DAG whose pipeline.yaml already names nbprod's hooks is left as it is,
    so a build is never recorded twice.
    """
    from . import hooks

    dag._nbprod_entry_point = entry_point
    dag._nbprod_argv = list(argv or sys.argv)

    def chain(ours, theirs, extra: tuple[str, ...]):
        if theirs is None or getattr(theirs, "__module__", None) == hooks.__name__:
            return ours
        if getattr(getattr(theirs, "callable", None), "__module__", None) == hooks.__name__:
            return theirs  # a DottedPath to nbprod's own hook
        return ChainedHook(ours, theirs, ("dag", *extra))

    dag.on_render = chain(hooks.on_render, dag.on_render, ())
    dag.on_finish = chain(hooks.on_finish, dag.on_finish, ("report",))
    dag.on_failure = chain(hooks.on_failure, dag.on_failure, ("traceback",))


class ChainedHook:
    """The project's own DAG hook, then nbprod's.

    A class, not a closure: ploomber pickles the DAG (hooks included) to build
    function tasks in a subprocess.
    """

    def __init__(self, ours, theirs, names: tuple[str, ...]):
        self.ours, self.theirs, self.names = ours, theirs, names

    @property
    def __signature__(self):
        return _signature(self.names)

    def __call__(self, dag, **kwargs):
        from ploomber.util.util import callback_check

        available = {**dag._available_callback_kwargs, "dag": dag, **kwargs}
        try:
            self.theirs(**callback_check(self.theirs, available))
        finally:
            self.ours(dag, **kwargs)


def _signature(names: tuple[str, ...]):
    import inspect

    return inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )


