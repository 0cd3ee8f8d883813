"""Durations as people type them (``90``, ``30m``, ``12h``, ``7d``, ``2w``): one parser.

Used by ``store gc --grace``, ``runs ls --since`` and ``nbprod.runs(since=...)``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, what: str = "duration", unit_required: bool = False) -> float:
    """Seconds in ``text``; a bare number is seconds unless ``unit_required``
    (where ``2026`` would more likely be a year than an age)."""
    match = _DURATION.fullmatch(str(text).strip().lower())
    if not match or (unit_required and not match.group(2)):
        examples = "30m, 12h, 7d or 2w" if unit_required else "0, 30m, 12h, 7d or 2w"
        raise ConfigError(f"{what} {text!r} is not a duration", hint=f"use e.g. {examples}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_since(text: str, now: datetime | None = None, *, what: str = "--since") -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or an age such as
    ``30m``, ``12h``, ``7d``, ``2w`` counted back from ``now``."""
    text = str(text).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is not None:
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    try:
        seconds = parse_duration(text, unit_required=True)
    except ConfigError:
        raise ConfigError(
            f"{what} {text!r} is neither a date nor a duration",
            hint="use e.g. 2026-11-01, 2026-11-01T14:30, 30m, 12h, 7d or 2w",
        ) from None
    return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)
