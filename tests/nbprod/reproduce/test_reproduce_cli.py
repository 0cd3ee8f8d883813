"""`nbprod reproduce` parses, calls reproduce_run, renders: real argv against a stubbed
operation (dvc's way), through nbprod's own entry point (one stderr line, the exit code)."""

from __future__ import annotations

import json

import pytest

from nbprod.cli import cli, main
from nbprod.reproduce import run as running
from nbprod.reproduce.run import Reproduction

METRIC = {"what": "metric", "task": None, "name": "accuracy", "original": 0.9, "reproduction": 0.91,
          "level": "different", "note": "improved"}


def result(verdict: str, *differences: dict, worktree: str | None = None) -> Reproduction:
    return Reproduction(run_id="20261201T100000Z-abcdef", new_run_id="20261201T100500Z-123456", verdict=verdict,
                        differences=differences, compared={"metrics": 1, "products": 2, "notebooks": 1},
                        store="/data/store", seconds=12.5, worktree=worktree)


@pytest.fixture
def stub(monkeypatch):
    calls = []
    monkeypatch.setitem(cli.lazy, "reproduce", "reproduce:reproduce")  # registered by cli/__init__'s COMMANDS

    def install(answer: Reproduction):
        def fake(ref, *, keep=False, say=print, **kw):
            calls.append((ref, keep))
            return answer
        monkeypatch.setattr(running, "reproduce_run", fake)
        return calls
    return install


def exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
        raise SystemExit(0)
    return done.value.code


def test_identical_exits_0_with_the_table(stub, capsys):
    calls = stub(result("identical"))
    assert exit_code(["reproduce", "2026"]) == 0
    out = capsys.readouterr().out
    assert "verdict       identical" in out and "no differences" in out and "20261201T100500Z-123456" in out
    assert calls == [("2026", False)]


def test_equivalent_exits_0_and_json_is_the_whole_answer(stub, capsys):
    stub(result("equivalent", {**METRIC, "level": "equivalent", "note": "within the declared tolerance"}))
    assert exit_code(["reproduce", "latest", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["verdict"] == "equivalent" and answer["run"] == "20261201T100000Z-abcdef"
    assert answer["differences"][0]["name"] == "accuracy"


def test_different_exits_5_after_printing_the_differences(stub, capsys):
    calls = stub(result("different", METRIC, worktree="/tmp/nbprod-reproduce-x/proj"))
    assert exit_code(["reproduce", "latest", "--keep"]) == 5
    out, err = capsys.readouterr()
    assert "accuracy" in out and "improved" in out and "/tmp/nbprod-reproduce-x/proj" in out
    assert err.strip().splitlines() == ["nbprod: error: run 20261201T100500Z-123456 differs from run "
                                        "20261201T100000Z-abcdef: the differences are listed above"]
    assert calls == [("latest", True)]
