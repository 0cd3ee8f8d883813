"""What ``nbprod check`` found: problems, one line each, and the result of a whole check.

Why one shape for every check: the command prints one line per problem, as
compilers and linters do, so editors, CI annotations and ``grep`` read it, and
``--json`` prints the same fields. A problem in a notebook names its cell the
way a failed build does (``cell 3``: 0-based, every cell of the source file
counted) and the cell's id, which survives reordering and ``--fix``::

    notebooks/train.ipynb: cell 3 (id fit): error: line 2: undefined name 'modle'
    env.yaml: line 4: error: an AWS access key id (AKIA...) in the file

Errors fail the check (exit 4); warnings fail it only with ``--strict``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, cell or line), how bad, which check, what."""

    path: str  # as shown: relative to the working directory when inside it
    severity: str  # ERROR or WARNING
    check: str  # outputs, parameters, pyflakes, secrets, pipeline, yaml
    message: str
    cell: int | None = None  # 0-based, every cell of the source file counted
    cell_id: str | None = None
    line: int | None = None  # in the file (YAML), or in the cell (code)

    def text(self) -> str:
        """The line ``nbprod check`` prints."""
        if self.cell is not None:
            where = f"cell {self.cell}" + (f" (id {self.cell_id})" if self.cell_id else "")
            line = f"line {self.line}: " if self.line is not None else ""
            return f"{self.path}: {where}: {self.severity}: {line}{self.message}"
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{self.path}: {where}{self.severity}: {self.message}"


@dataclass(frozen=True)
class Fixed:
    """What ``--fix`` stripped from one notebook."""

    path: str
    what: tuple[str, ...]

    def text(self) -> str:
        return f"{self.path}: fixed: stripped {', '.join(self.what)}"


@dataclass(frozen=True)
class CheckResult:
    """Every problem of every file checked, in file order."""

    files: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    fixed: tuple[Fixed, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> int:
        return sum(p.severity == ERROR for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == WARNING for p in self.problems)

    def failed(self, strict: bool = False) -> bool:
        return self.errors > 0 or (strict and self.warnings > 0)

    def summary(self) -> str:
        """``2 errors, 1 warning in 6 files`` (what the command's last line says)."""
        counts = [f"{n} {word}{'' if n == 1 else 's'}"
                  for n, word in ((self.errors, "error"), (self.warnings, "warning")) if n]
        files = f"{len(self.files)} file{'' if len(self.files) == 1 else 's'}"
        return f"{', '.join(counts) or 'no problems'} in {files}"

    def lines(self) -> list[str]:
        return [p.text() for p in self.problems]

    def to_json(self) -> str:
        return json.dumps({"files": list(self.files),
                           "errors": self.errors, "warnings": self.warnings,
                           "problems": [asdict(p) for p in self.problems],
                           "fixed": [asdict(f) for f in self.fixed]}, indent=2)
