"""What a build tells a CI system: GitHub Actions annotations and job summary, JUnit XML,
and the workflow files ``nbprod ci init`` writes.

It reads run records (plain dicts, ``nbprod.schema``) and diffs (``nbprod.compare``);
it knows nothing of ploomber, so the engine calls it after a build.

The engine's one call is :func:`nbprod.ci.outcome.tell_ci` (after the run is recorded;
it never raises for what it could not write). Below it:

- ``github``: workflow commands (``::error``, ``::group::``) and the job summary;
- ``junit``: the JUnit XML GitLab and Jenkins read (``--junit PATH``);
- ``baseline``: the run a summary compares with (``--baseline``, else the newest
  succeeded run that is not a smoke run);
- ``sources``: a task's notebook as the repository names it; the record redacted again;
- ``workflows``: the GitHub workflow and GitLab pipeline of ``nbprod ci init``.

Nothing is imported here: each module is imported where it is used.
"""
