"""What a build being recorded knows from the moment its DAG renders."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import schema


@dataclass
class Session:
    """One build being recorded: created when the DAG renders."""

    root: Path
    argv: list[str]
    run_id: str = field(default_factory=schema.new_run_id)
    started: datetime = field(default_factory=schema.utcnow)
    started_clock: float = field(default_factory=time.time)
    done: bool = False
    interrupted_by: str | None = None
    fetched: set[str] = field(default_factory=set)  # tasks ploomber will download, not run
    metrics_spec: list[dict] = field(default_factory=list)  # nbprod.yaml's `metrics:`, read at render
    # the pipeline's entry point and env file actually used ({name: path}, from the engine)
    spec_files: dict[str, str] = field(default_factory=dict)
    # kernelspecs and kernel interpreters asked while recording (asked once per build)
    kernels: dict[str, dict] = field(default_factory=dict)
    kernel_warned: bool = False  # the one line saying notebooks ran in another environment
    tags: list[str] = field(default_factory=list)  # `nbprod build --tag` (checked by schema.check_tags)
    note: str | None = None  # `nbprod build --note`
    smoke: bool = False  # `nbprod build --smoke`
    # `nbprod task NAME`: this build is one task's attempt within run ``run_id``, recorded as a
    # part ({task, attempt, orchestrator}) that `nbprod task --assemble` makes into the run
    part: dict | None = None
    # set once the run is recorded (engine's settle step): an error of the model registry step
    # that the build must end with (`nbprod build --promote` refused, the registry not writable)
    models_error: Exception | None = None

    def detached(self) -> "Session":
        """A copy that records nothing (for a pickled DAG in a subprocess)."""
        return dataclasses.replace(self, done=True, fetched=set(self.fetched), metrics_spec=list(self.metrics_spec))
