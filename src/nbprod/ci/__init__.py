"""What a build tells a CI system: GitHub Actions annotations and job summary, JUnit XML,
and the workflow files ``nbprod ci init`` writes.

It reads run records (plain dicts, ``nbprod.schema``) and diffs (``nbprod.compare``);
it knows nothing of ploomber, so the engine calls it after a build.
"""
