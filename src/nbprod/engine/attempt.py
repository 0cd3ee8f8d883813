"""The start of one task's attempt within a run (``nbprod task``), at render, before it runs.

Why apart from :mod:`nbprod.engine.onetask`: the hooks call it while the DAG renders, and
they must not import the build that imports them.
"""

from __future__ import annotations

import os
import socket

from .. import schema
from ..errors import PipelineError


def begin_attempt(dag, session, store) -> None:
    """At render, before anything runs: refuse when an upstream task would run here (its
    products are not up to date in the store nor in this folder), then say that the attempt
    started (:func:`nbprod.store.parts.write_started`)."""
    from ..store import parts

    target = session.part["task"]
    would_run = [n for n in dag if n != target and
                 getattr(dag[n].exec_status, "value", None) in ("waiting_execution", "waiting_upstream")]
    info = {"started_at": schema.isoformat(session.started), "host": socket.gethostname(), "pid": os.getpid(),
            "orchestrator": session.part.get("orchestrator")}
    if would_run:
        refused = PipelineError(
            f"task {target!r} needs {', '.join(map(repr, would_run))} first: not up to date in store "
            f"{store.url} nor in {session.root}",
            hint="run those tasks first (an orchestrator runs them upstream of this one), with a spec whose "
                 "File client shares products (pipeline.shared.yaml), or build here: nbprod build --partially "
                 f"{target}")
        # the run must show why this task did not run (its upstream succeeded)
        parts.write_refused(store, session.run_id, target, session.part["attempt"],
                            {**info, "message": refused.message, "hint": refused.hint})
        raise refused
    parts.write_started(store, session.run_id, target, session.part["attempt"], info)
