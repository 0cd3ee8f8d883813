"""papermill's ``nbprod`` engine: check the parameters, execute with nbclient, record the run.

Registered in pyproject.toml under ``[project.entry-points."papermill.engine"]``,
so ``papermill --engine nbprod IN OUT -p NAME VALUE`` and ``nbprod run`` (which
calls papermill with ``engine_name="nbprod"``) take this one code path.

papermill loads every engine when ``papermill.engines`` is imported, this module
among them (ploomber imports papermill, so every build does): it imports nothing
at module level beyond nbprod's own small modules, and does not subclass
papermill's ``NBClientEngine`` (which would import papermill from inside
papermill's own import); it delegates to it when a notebook runs.

Exits: under the ``papermill`` command a refused parameter prints one line and
exits 2 (papermill would turn the error into a traceback and exit 1); a failed
cell is papermill's ``PapermillExecutionError`` (exit 1) and a dead kernel its
exit 138, each followed by nbprod's final line naming the cell. Called from
Python, a refused parameter is a :class:`~nbprod.errors.ConfigError`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import schema
from ..errors import ConfigError
from . import checks


class NbprodEngine:
    """A papermill engine (papermill calls its classmethods)."""

    @classmethod
    def execute_notebook(cls, nb, kernel_name, input_path=None, output_path=None, nbprod_argv=None,
                         nbprod_runs=None, **kwargs):
        """papermill's engine entry: ``nb`` is parameterized already (no kernel has started).

        ``nbprod_argv`` (the command as typed) and ``nbprod_runs`` (a list that receives the
        :class:`~nbprod.runner.recording.Recording`) come from :func:`nbprod.runner.run.run_notebook`
        through papermill's engine keyword arguments."""
        from papermill.engines import NBClientEngine

        from .recording import Recording, failed

        given = dict((nb.metadata.get("papermill", {}) or {}).get("parameters") or {})
        try:
            checks.check(nb, given, input_path or "the notebook")
        except ConfigError as err:
            if nbprod_runs is None and _under_papermill_command():
                from ..redact import redact_text

                print(f"nbprod: error: {redact_text(str(err))}", file=sys.stderr, flush=True)
                raise SystemExit(err.exit_code) from None
            raise
        recording = Recording(input_path, output_path, given, nbprod_argv or sys.argv).start()
        if nbprod_runs is not None:
            nbprod_runs.append(recording)
        try:
            nb = NBClientEngine.execute_notebook(nb, kernel_name, input_path=input_path, output_path=output_path,
                                                 **kwargs)
        except KeyboardInterrupt:
            recording.finish(nb, schema.INTERRUPTED)
            raise
        except BaseException:
            import traceback

            recording.finish(nb, schema.FAILED, traceback_text=traceback.format_exc())
            raise
        recording.finish(nb, schema.FAILED if failed(nb) else schema.SUCCEEDED)
        return nb

    @classmethod
    def nb_kernel_name(cls, nb, name=None):
        from papermill.utils import nb_kernel_name

        return nb_kernel_name(nb, name)

    @classmethod
    def nb_language(cls, nb, language=None):
        from papermill.utils import nb_language

        return nb_language(nb, language)


def _under_papermill_command() -> bool:
    """Whether this process is the ``papermill`` command (``papermill ...``, ``python -m papermill``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return Path(sys.argv[0]).name == "papermill" or getattr(spec, "name", "").startswith("papermill")
