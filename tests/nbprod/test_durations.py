"""nbprod.durations: durations and ages as people type them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nbprod.durations import parse_duration, parse_since
from nbprod.errors import ConfigError

WEEK = 7 * 86400


@pytest.mark.parametrize("text,seconds", [("0", 0), ("90", 90), ("30m", 1800), ("12h", 43200), ("7d", WEEK), ("2w", 2 * WEEK), ("1.5h", 5400)])
def test_parse_duration(text, seconds):
    assert parse_duration(text, what="grace period") == seconds


@pytest.mark.parametrize("bad", ["", "7 days", "-1d", "d", "1y"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ConfigError, match="grace period"):
        parse_duration(bad, what="grace period")


def test_an_age_needs_a_unit_where_a_bare_number_could_be_a_year():
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert parse_since("7d", now) == datetime(2026, 11, 24, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match="neither a date nor a duration"):
        parse_since("2026", now)
