"""Credentials in sources and outputs: environment secrets' values and credentials' shapes.

Two kinds are looked for. The values of this environment's secret-named
variables (``*KEY*``, ``*TOKEN*``, ``*PASSWORD*``..., with the rules, skipped
values and escaped forms of :mod:`nbprod.redact`, which removes the same
values from what nbprod writes): a notebook that printed one holds it in an
output. And credentials recognisable by their shape wherever they come from:
AWS access key ids, private key blocks, GitHub tokens, a password or a token
in a URL (``postgresql://user:pw@host``, ``?access_token=...``), placeholders
such as ``${DB_PASSWORD}`` or ``<password>`` left alone.

A notebook is read as nbformat parses it, not as the file's bytes: in the
file, a key's line breaks are ``\\n`` escapes and quotes are ``\\"``, which is
what makes generic scanners miss secrets in notebooks. Sources, text outputs,
tracebacks (ANSI colours removed) and metadata (papermill records the
parameters of a run there) are searched; base64 payloads (images, PDFs,
attachments) are not, because random base64 matches every shape sooner or
later. A problem names the cell and the place, never the value.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Iterator

from ..redact import SHAPES, is_placeholder as _placeholder
from .documents import Document
from .problems import ERROR, Problem

CHECK = "secrets"
#: output mimetypes whose value is base64 (or otherwise not text)
_BINARY = ("image/", "audio/", "video/", "application/pdf", "application/octet-stream")


def check_document(doc: Document) -> list[Problem]:
    """Secrets in a notebook's or script's cells (sources, outputs, metadata)."""
    from ..redact import Redactor

    redactor = Redactor.from_env()
    problems = []
    for number, cell in doc.cells():
        for place, text, line0 in _texts(cell):
            for label, line in _found(text, redactor):
                problems.append(doc.problem(ERROR, CHECK, f"{label} in {place}", number,
                                            line0 + line if line0 is not None else None))
    metadata = json.dumps(doc.nb.metadata, ensure_ascii=False)
    for label, _ in _found(metadata, redactor):
        problems.append(doc.problem(ERROR, CHECK, f"{label} in the notebook's metadata"))
    return _unique(problems)


def check_text(path: str, text: str) -> list[Problem]:
    """Secrets in a text file (pipeline.yaml, env.yaml, nbprod.yaml), by line."""
    from ..redact import Redactor

    redactor = Redactor.from_env()
    return _unique([Problem(path, ERROR, CHECK, f"{label} in the file", line=line)
                    for label, line in _found(text, redactor)])


def _texts(cell: Any) -> Iterator[tuple[str, str, int | None]]:
    """(where, text, line offset or None) of each searchable text of a cell."""
    from ..record.executed import strip_ansi

    yield "the source", cell.get("source", ""), 0
    for output in cell.get("outputs", []) or []:
        kind = output.get("output_type")
        if kind == "stream":
            yield "an output", _joined(output.get("text", "")), None
        elif kind == "error":
            text = "\n".join([str(output.get("ename", "")), str(output.get("evalue", "")),
                              *map(str, output.get("traceback", []) or [])])
            yield "an error output", strip_ansi(text), None
        for mimetype, value in (output.get("data") or {}).items():
            if mimetype.startswith(_BINARY) and mimetype != "image/svg+xml":
                continue  # base64
            yield "an output", value if isinstance(value, str) else json.dumps(value, ensure_ascii=False), None
    metadata = {k: v for k, v in cell.get("metadata", {}).items()}
    if metadata:
        yield "the cell's metadata", json.dumps(metadata, ensure_ascii=False), None


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _found(text: str, redactor: Any) -> list[tuple[str, int]]:
    """(what was found, 1-based line) in ``text``: shapes, then environment secrets."""
    if not text:
        return []
    found = []
    for label, pattern in SHAPES:
        for match in pattern.finditer(text):
            secret = match.groupdict().get("secret")
            if secret is not None and _placeholder(secret):
                continue
            found.append((label, text.count("\n", 0, match.start()) + 1))
    if redactor:
        found += _environment_values(text, redactor)
    return found


def _environment_values(text: str, redactor: Any) -> list[tuple[str, int]]:
    """Where the value of a secret-named environment variable is (redact's rules and forms)."""
    found = []
    for number, line in enumerate(text.splitlines() or [text], 1):
        before = Counter(re.findall(r"\[redacted:([^\]\s]+)\]", line))
        after = Counter(re.findall(r"\[redacted:([^\]\s]+)\]", redactor.text(line)))
        found += [(f"the value of ${name}", number) for name in sorted(after - before)]
    return found


def _unique(problems: list[Problem]) -> list[Problem]:
    """One problem per place and kind (a key printed in a loop is one problem)."""
    return list(dict.fromkeys(problems))
