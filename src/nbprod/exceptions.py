"""nbprod's exceptions: one root, structured subclasses.

Every error nbprod raises on purpose derives from :class:`NbprodError`, so the
CLI can print it as one line (``str(err)``) and exit 1 without a traceback,
while anything else is a bug and keeps its traceback. Subclasses carry the
facts as attributes (not only in the message) so callers and tests can act on
them, and they stay picklable (ploomber may build tasks in subprocesses).
"""

from __future__ import annotations


class NbprodError(Exception):
    """Root of every error nbprod raises deliberately.

    ``message`` says what is wrong; ``hint`` says what to do about it. ``str()``
    joins both on one line, which is what the CLI prints.
    """

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
    """A setting (environment variable, CLI option) has an unusable value."""


class StoreError(NbprodError):
    """The store cannot be read or written (fields: ``url``)."""


class StoreUnreachableError(StoreError):
    """The store's endpoint did not answer in time (fields: ``url``, ``endpoint``).

    The one store error after which a run is spooled locally for ``nbprod push``.
    """


class RunNotFoundError(StoreError):
    """No run matches a reference (fields: ``ref``)."""


class IntegrityError(StoreError):
    """A stored object does not hash to its key (fields: ``key``, ``expected``, ``actual``)."""


class PipelineError(NbprodError):
    """The pipeline cannot be loaded: bad pipeline.yaml, missing notebook, bad parameter."""


class BuildFailedError(NbprodError):
    """A build ran and a task failed (fields: ``run_id``, ``task``, ``cell``, ``error``)."""


class BuildInterruptedError(NbprodError):
    """A build was stopped by Ctrl-C or SIGTERM (fields: ``run_id``, ``signal``)."""
