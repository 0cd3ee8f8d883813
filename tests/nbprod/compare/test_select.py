"""nbprod.views: parsing of `runs ls` filters (what a user types must mean what they mean)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nbprod.errors import ConfigError
from nbprod.compare.select import parse_param
from nbprod.durations import parse_since

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, value",
    [
        ("C=1e-3", 0.001),  # YAML 1.1 would keep this a string: it would never match the recorded float
        ("C=1E5", 100000.0),
        ("seed=010", 10),  # YAML 1.1 would read octal 8
        ("seed=42", 42),
        ("C=0.01", 0.01),
        ("n=-3", -3),
        ("years=[2008]", [2008]),
        ("flag=true", True),
        ("source=palmerpenguins", "palmerpenguins"),
        ("x=nan", "nan"),  # not a number a user types for a parameter value
    ],
)
def test_param_values_are_typed_as_users_mean_them(text, value):
    assert parse_param(text)[1] == value and type(parse_param(text)[1]) is type(value)


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600)])
def test_since_ages(text, seconds):
    assert (NOW - parse_since(text, now=NOW)).total_seconds() == seconds


def test_since_dates_are_utc_unless_they_say_otherwise():
    assert parse_since("2026-11-01", now=NOW) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T14:30", now=NOW) == datetime(2026, 11, 1, 14, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2026", "202611", "90", "yesterday"])
def test_since_without_a_unit_is_an_error_not_seconds(text):
    with pytest.raises(ConfigError, match="neither a date nor a duration"):
        parse_since(text, now=NOW)


def test_a_dotted_param_matches_that_tasks_parameter_only():
    from nbprod.compare.select import select_runs

    rows = [{"run_id": "a", "params": {"C": 1.0, "seed": 1}, "task_params": {"ingest": {"seed": 1}, "train": {"C": 1.0, "seed": 7}}},
            {"run_id": "b", "params": {"C": 2.0}, "task_params": {"train": {"C": 2.0}}},
            {"run_id": "old", "params": {"C": 1.0}}]
    chosen = lambda *texts: [r["run_id"] for r in select_runs(rows, params=[parse_param(t) for t in texts])]
    assert chosen("train.C=1") == ["a", "old"]
    assert chosen("train.seed=7") == ["a"]
    assert chosen("ingest.seed=7") == []
    assert chosen("seed=1") == ["a"]


class _Summaries:
    """A store's summaries(limit) over fixed rows, newest first, counting the calls."""

    def __init__(self, rows):
        self.rows, self.calls = rows, []

    def summaries(self, limit=None):
        self.calls.append(limit)
        return list(self.rows if limit is None else self.rows[:limit])


def test_smoke_runs_are_left_out_unless_asked_and_the_limit_counts_production_runs():
    from nbprod.compare.select import list_runs

    rows = [{"run_id": "s2", "smoke": True}, {"run_id": "s1", "smoke": True},
            {"run_id": "p2"}, {"run_id": "p1", "smoke": False}]
    store = _Summaries(rows)

    listed = list_runs(store, limit=2, with_specs=False)
    assert [r["run_id"] for r in listed.rows] == ["p2", "p1"]  # two production runs, not zero
    assert listed.smoke_hidden == 2
    assert store.calls == [2, None]  # the newest two were smoke: all read again
    both = list_runs(store, limit=3, with_specs=False, smoke=True)
    assert [r["run_id"] for r in both.rows] == ["s2", "s1", "p2"] and both.smoke_hidden == 0
