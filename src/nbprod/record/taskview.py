"""A task of a finished build, as plain data: what the engine tells the recorder.

The engine (the only part of nbprod that knows ploomber) describes each task of
a built DAG as a :class:`TaskView`, with its outcome in nbprod's own words
(:data:`OUTCOMES`), so the recorder, and its unit tests with fabricated views,
never see a ploomber object or status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

EXECUTED = "executed"  # ran in this build and succeeded
SKIPPED = "skipped"  # up to date: not run
ERRORED = "errored"  # ran and failed
ABORTED = "aborted"  # not run because an upstream task failed
PENDING = "pending"  # still waiting or executing when the build stopped
OUTCOMES = (EXECUTED, SKIPPED, ERRORED, ABORTED, PENDING)


@dataclass
class TaskView:
    """A task of a built DAG."""

    name: str
    kind: str  # notebook | script | function | other
    outcome: str  # one of OUTCOMES
    source: str | None
    params: dict[str, Any]
    upstream: list[str]
    products: dict[str, str] = field(default_factory=dict)  # key -> local path
    notebook: str | None = None  # the executed .ipynb, when there is one

    def product_files(self) -> Iterator[tuple[str, Path]]:
        """(product key, file) for every existing file, directories expanded."""
        for key, path in self.products.items():
            p = Path(path)
            if p.is_file():
                yield key, p
            elif p.is_dir():
                for child in sorted(p.rglob("*")):
                    if child.is_file():
                        yield f"{key}/{child.relative_to(p).as_posix()}", child
