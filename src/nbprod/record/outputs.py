"""Bounding what is kept of one cell output (``NBPROD_MAX_OUTPUT_MB``).

Why: a cell that prints 100 MB made a ~105 MB stored notebook in every run
(and a ~105 MB report page), with no warning. Before an executed notebook is
hashed and stored, each output larger than the limit is cut in place: a text
output keeps its first ``limit`` bytes and ends with a marker saying where it
was cut and how large it was; a larger non-text value (an image, a widget
state) is replaced by such a marker. The build says so, one line per cut
output. The local notebook is cut too, so the local and the stored copy stay
the same bytes (one object).
"""

from __future__ import annotations

import json
from pathlib import Path

MARKER = "\n[nbprod: output cut at {kept} of {size}; NBPROD_MAX_OUTPUT_MB={limit:g}]\n"


def bound(path: Path, limit_mb: float) -> list[str]:
    """Cut the outputs of the notebook at ``path`` larger than ``limit_mb``; one line per cut."""
    limit = int(limit_mb * 1024 * 1024)
    try:
        if limit <= 0 or path.stat().st_size <= limit:
            return []  # no output can be larger than the whole notebook
        nb = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    lines = []
    for number, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", None) or []:
            for where, size in _cut(output, limit, limit_mb):
                lines.append(f"cell {number}: {where} of {_mb(size)} cut to {_mb(limit)} (NBPROD_MAX_OUTPUT_MB)")
    if lines:
        from ..files import atomic_write

        body = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        try:
            atomic_write(path, body.encode(), mode=path.stat().st_mode & 0o7777)
        except OSError as err:  # a full disk, a read-only notebook: recorded whole, and said
            return [f"its outputs over NBPROD_MAX_OUTPUT_MB could not be cut ({err.strerror or err}): "
                    f"stored whole"]
    return lines


def _cut(output: dict, limit: int, limit_mb: float) -> list[tuple[str, int]]:
    cuts = []
    if output.get("output_type") == "stream" and "text" in output:
        text, size = _text(output["text"])
        if size > limit:
            output["text"] = _head(text, limit, size, limit_mb)
            cuts.append((f"{output.get('name', 'stream')} output", size))
    if output.get("output_type") == "error" and isinstance(output.get("traceback"), list):
        text, size = _text("\n".join(str(line) for line in output["traceback"]))
        if size > limit:
            output["traceback"] = [_head(text, limit, size, limit_mb)]
            cuts.append(("traceback", size))
    data = output.get("data")
    if isinstance(data, dict):
        for mime, value in list(data.items()):
            text, size = _text(value) if isinstance(value, (str, list)) else (None, len(json.dumps(value)))
            if size <= limit:
                continue
            if text is not None and mime.startswith("text/"):
                data[mime] = _head(text, limit, size, limit_mb)
            else:
                del data[mime]
                data.setdefault("text/plain", MARKER.format(kept="0 B", size=_mb(size), limit=limit_mb).strip())
            cuts.append((f"{mime} output", size))
    return cuts


def _text(value) -> tuple[str, int]:
    text = "".join(value) if isinstance(value, list) else str(value)
    return text, len(text.encode("utf-8", errors="surrogatepass"))


def _head(text: str, limit: int, size: int, limit_mb: float) -> str:
    kept = text.encode("utf-8", errors="surrogatepass")[:limit].decode("utf-8", errors="ignore")
    return kept + MARKER.format(kept=_mb(limit), size=_mb(size), limit=limit_mb)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
