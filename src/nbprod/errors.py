"""nbprod's errors: one root, structured subclasses, each with its exit code.

Every error nbprod raises on purpose derives from :class:`NbprodError`, so the
CLI can print it as one line (``str(err)``) and exit with the class's
``exit_code`` without a traceback, while anything else is a bug and keeps its
traceback. Subclasses carry the facts as attributes (not only in the message)
so callers and tests can act on them, and they stay picklable (ploomber may
build tasks in subprocesses).

Exit codes, for CI systems to act on (documented in README.md):

===  ===============================================================
0    success
1    the pipeline ran and a task failed (:class:`BuildFailedError`)
2    usage or configuration: a bad option, pipeline.yaml, nbprod.yaml,
     an undeclared parameter, a run reference that matches nothing
3    the store is unreachable, refuses, or holds corrupt data
4    a check or a gate said no (:class:`CheckFailedError`)
5    a reproduction differs from its run (:class:`ReproductionDiffersError`)
130  interrupted (Ctrl-C, SIGTERM)
===  ===============================================================
"""

from __future__ import annotations


OK, TASK_FAILED, USAGE, STORE, CHECK_FAILED, REPRODUCTION_DIFFERS, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


class NbprodError(Exception):
    """Root of every error nbprod raises deliberately.

    ``message`` says what is wrong; ``hint`` says what to do about it. ``str()``
    joins both on one line, which is what the CLI prints. ``exit_code`` is what
    the ``nbprod`` command exits with.
    """

    exit_code = TASK_FAILED

    def __init__(self, message: str, *, hint: str | None = None, **fields):
        super().__init__(message)
        self.message = message
        self.hint = hint
        for key, value in fields.items():
            setattr(self, key, value)
        self._fields = dict(fields)

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        return f"{self.message.rstrip('.')}: {self.hint}"

    def __reduce__(self):
        # keyword-only fields are not in self.args: rebuild them explicitly
        return (_rebuild, (type(self), self.message, self.hint, self._fields))


def _rebuild(cls, message, hint, fields):
    return cls(message, hint=hint, **fields)


class ConfigError(NbprodError):
    """A setting (environment variable, CLI option, nbprod.yaml) has an unusable value."""

    exit_code = USAGE


class StoreError(NbprodError):
    """The store cannot be read or written, or holds corrupt data (fields: ``url``)."""

    exit_code = STORE


class StoreUnreachableError(StoreError):
    """The store's endpoint did not answer in time (fields: ``url``, ``endpoint``).

    The one store error after which a run is spooled locally for ``nbprod push``.
    """


class RunNotFoundError(StoreError):
    """No run matches a reference (fields: ``ref``): the user's reference is wrong,
    the store is fine, so this is a usage error."""

    exit_code = USAGE


class RecordExistsError(StoreError):
    """Another record is stored under this run id; a record is written once (field ``run_id``)."""


class IntegrityError(StoreError):
    """A stored object does not hash to its key (fields: ``key``, ``expected``, ``actual``)."""


class PipelineError(NbprodError):
    """The pipeline cannot be loaded: bad pipeline.yaml, missing notebook, bad parameter."""

    exit_code = USAGE


class DetailedPipelineError(PipelineError):
    """A :class:`PipelineError` that came with an example of the fix (field: ``detail``, its lines).

    ``str()`` is the one-line message, then the example indented below it:
    squeezed into the same line, YAML or code is unreadable.
    """

    def __str__(self) -> str:
        lines = [f"  {line}" for line in (getattr(self, "detail", None) or [])]
        return "\n".join([super().__str__(), *lines])


class BuildLockedError(NbprodError):
    """Another build of the same project holds its build lock (field: ``lock``, the lock file)."""

    exit_code = USAGE

    def __init__(self, message: str, *, hint: str | None = None, **fields):
        super().__init__(message, hint=hint or "wait for it to finish, or set NBPROD_LOCK_TIMEOUT=SECONDS "
                         "to wait that long", **fields)


class BuildFailedError(NbprodError):
    """A build ran and a task failed (fields: ``run_id``, ``task``, ``cell``, ``error``)."""

    exit_code = TASK_FAILED


class BuildInterruptedError(NbprodError):
    """A build was stopped by Ctrl-C or SIGTERM (fields: ``run_id``, ``signal``)."""

    exit_code = INTERRUPTED


class BuildTimedOutError(BuildInterruptedError):
    """A build ran past NBPROD_BUILD_TIMEOUT: stopped, recorded as interrupted by the
    timeout, and a failure for whoever waits on it (exit 1, not 130)."""

    exit_code = TASK_FAILED


class CheckFailedError(NbprodError):
    """A check (``nbprod check``, ``store verify``) or a quality gate said no."""

    exit_code = CHECK_FAILED


class ModelNotFoundError(ConfigError):
    """No model, version or alias matches a reference such as ``penguins@production`` (field: ``ref``)."""


class GateRefusedError(CheckFailedError):
    """A model version's gates said no, or a promotion was refused (fields: ``model``, ``version``)."""


class PromotionConflictError(GateRefusedError):
    """An alias moved while a promotion was being decided, or the gate compared against a
    version that is no longer the one in production (fields: ``model``, ``alias``, ``seen``, ``now``)."""


class ReproductionDiffersError(NbprodError):
    """A reproduced run differs from the run it reproduces."""

    exit_code = REPRODUCTION_DIFFERS


class NotReproducibleError(ConfigError):
    """A run cannot be built again as it was recorded: its commit is not in this clone, its
    uncommitted changes or an input's bytes were not kept, a recorded parameter cannot be
    given again (fields: ``run_id``, and what is missing: ``commit``, ``input``, ``task``...)."""
