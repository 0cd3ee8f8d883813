"""Which spec files a build used: its entry point and the env file ploomber read with it.

Why here: ``nbprod build -e pipeline.ci.yaml`` reads ``env.ci.yaml`` when there is one,
else ``env.yaml`` (ploomber's rule, which also honours ``PLOOMBER_ENV_FILENAME`` and
prefers a file in the working directory). A record that hashed ``pipeline.yaml`` and
``env.yaml`` by name would describe another pipeline. ploomber decides which env
file it reads, so its own function answers, here in the engine; the recorder only
hashes the paths it is given (:attr:`nbprod.record.session.Session.spec_files`).
"""

from __future__ import annotations

import sys
from pathlib import Path


def spec_files(dag, argv: list[str] | None = None) -> dict[str, str]:
    """``{"entry_point": path, "env": path}`` for what this DAG was loaded from (absolute
    paths; a key is absent when there is no such file, e.g. a DAG made by a Python factory)."""
    entry = entry_point(dag, argv)
    if entry is None:
        return {}
    found = {"entry_point": str(entry)}
    try:
        from ploomber.util import default

        env = default.path_to_env_from_spec(str(entry))
    except Exception:  # PLOOMBER_ENV_FILENAME naming a missing file: ploomber refused it already
        env = None
    if env and Path(env).is_file():
        found["env"] = str(Path(env).resolve())
    return found


def entry_point(dag, argv: list[str] | None = None) -> Path | None:
    """The spec file: as ``nbprod build`` attached it, else ``-e``/``--entry-point`` in the
    command line (``ploomber build`` with nbprod's hooks in the spec), else ploomber's default."""
    given = getattr(dag, "_nbprod_entry_point", None)
    if not given:
        args = list(sys.argv if argv is None else argv)
        for flag in ("--entry-point", "-e"):
            if flag in args[:-1]:
                given = args[args.index(flag) + 1]
    if not given:
        try:
            from ploomber.util import default

            given = default.entry_point()
        except Exception:  # no pipeline.yaml found: nothing to hash
            return None
    path = Path(given)
    return path.resolve() if path.suffix in (".yaml", ".yml") and path.is_file() else None
