"""``nbprod reproduce RUN``: build a recorded run again from what its record kept, and say
whether the result is the same.

One call, :func:`nbprod.reproduce.run.reproduce_run`; the steps are modules:

- :mod:`.plan`: what to build from the record (the build options of its command, the
  entry point and env file it used, its project folder inside the repository);
- :mod:`.worktree`: the run's commit checked out into a temporary ``git worktree``, its
  uncommitted patch applied and verified, its untracked files restored;
- :mod:`.inputs`: each input file restored by hash, or a refusal naming it;
- :mod:`nbprod.engine.replay`: the build, with the recorded parameters of every task;
- :mod:`.judge` (with :mod:`.notebooks`): the new run against the original: verdict
  ``identical`` / ``equivalent`` / ``different`` and the differences;
- :mod:`.views`: the table and the JSON the command prints.

The user's own work tree and ``outputs/`` are only read, never written: everything is
built in the temporary folder, and the new run is recorded into the user's store (the
original's), with ``reproduces`` and ``verdict``.
"""
