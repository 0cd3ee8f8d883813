"""One notebook run by papermill, checked and recorded.

``papermill --engine nbprod IN OUT -p NAME VALUE`` and ``nbprod run IN OUT -p NAME
VALUE`` take one code path: papermill parameterizes the notebook and hands it to
:class:`~nbprod.runner.engine.NbprodEngine` (registered under papermill's
``papermill.engine`` entry point group), which refuses parameters the notebook's
parameters cell does not declare, or of another type than declared
(:mod:`nbprod.runner.checks`, before any kernel starts), then executes the
notebook with papermill's own nbclient engine and records a one-task run
(``kind: papermill``) through :class:`nbprod.record.lifetime.Build`
(:mod:`nbprod.runner.recording`), so a cell that raised, a kernel that died and
a Ctrl-C are recorded as they are for a build. :mod:`nbprod.runner.run` is what
``nbprod run`` calls: papermill with this engine, its outcome as nbprod's errors.

Nothing here imports ploomber, click or fsspec.
"""
