"""JUnit XML for GitLab and Jenkins: a test case per task, the error as the failure, written
whole, parsed back with ElementTree (and with a JUnit reader when one is installed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from ci_records import CELL, INJECTED, run

from nbprod.ci.junit import write_junit
from nbprod.ci.outcome import tell_ci


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "repo" / "proj"
    root.mkdir(parents=True)
    return root


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in suite.iter("testcase")}


def test_a_failed_build_as_junit(project, tmp_path):
    record = run(3, "failed", root=project)
    path = write_junit(record, tmp_path / "reports" / "junit.xml", root=project.parent)
    assert path == tmp_path / "reports" / "junit.xml"
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]  # no temporary left beside it
    top = ET.parse(path).getroot()
    assert top.tag == "testsuites"
    [suite] = top.findall("testsuite")
    assert suite.get("name") == "nbprod build"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "4", "failures": "1", "errors": "0", "skipped": "2", "time": "4.000"}
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
        "run_id": record.run_id, "status": "failed", "commit": "c" * 40, "smoke": "false"}

    found = cases(suite)
    assert list(found) == ["ingest", "train", "evaluate", "cached"]
    assert {case.get("classname") for case in found.values()} == {"proj"}
    assert found["ingest"].get("time") == "1.250" and list(found["ingest"]) == []  # passed
    train = found["train"]
    assert train.get("file") == "proj/notebooks/train.ipynb" and train.get("time") == "2.500"
    [failure] = list(train)
    assert failure.tag == "failure" and failure.get("type") == "ValueError"
    assert failure.get("message") == "task 'train', cell 3 (In [4]) failed: ValueError: 100%, bad: value"
    assert failure.text.startswith(f"cell 3:\n{CELL}\n\n") and INJECTED in failure.text
    assert found["evaluate"].find("skipped").get("message") == "not run: an upstream task failed"
    assert found["cached"].find("skipped").get("message").startswith("up to date")
    assert found["cached"].get("file") == "proj/src/steps.py"  # a function's file, without its line


def test_text_xml_cannot_hold_is_dropped_and_markup_is_escaped(project, tmp_path):
    record = run(3, "failed", root=project, evalue="bad \x00 byte <b>&amp;</b> \x1b[31mred\x1b[0m")
    record.tasks[1].error.traceback = "line\x0bwith\x07controls </failure><x>"
    path = write_junit(record, tmp_path / "junit.xml")
    failure = ET.parse(path).getroot().find(".//failure")
    assert failure.get("message").endswith("bad  byte <b>&amp;</b> [31mred[0m")
    assert failure.text.endswith("linewithcontrols </failure><x>")


def test_interrupted_tasks_are_errors_and_a_build_failed_outside_tasks_is_one_case(project, tmp_path):
    record = run(3, "interrupted", root=project)
    record.tasks[1].status = "interrupted"
    found = cases(ET.parse(write_junit(record, tmp_path / "a.xml")).getroot())
    error = found["train"].find("error")
    assert error is not None and error.get("type") == "Interrupted"
    assert error.get("message") == "task 'train' was interrupted"

    record = run(3, "failed", root=project)
    record.tasks = []
    suite = ET.parse(write_junit(record, tmp_path / "b.xml")).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("errors") == "1"
    assert cases(suite)["(build)"].find("error").get("message").startswith("task 'train', cell 3")


def test_written_when_asked_on_any_ci_and_redacted(project, tmp_path, monkeypatch):
    secret = "hunter2-very-secret-token"
    monkeypatch.setenv("DB_PASSWORD", secret)
    record = run(3, "failed", root=project, evalue=f"login {secret} refused")
    told = tell_ci(record, junit=tmp_path / "junit.xml", environ={"CI_PROJECT_DIR": str(project.parent)})
    assert told.junit == tmp_path / "junit.xml" and told.annotations == 0
    data = (tmp_path / "junit.xml").read_text()
    assert secret not in data and "[redacted:DB_PASSWORD]" in data
    assert 'file="proj/notebooks/train.ipynb"' in data  # relative to GitLab's checkout


def test_an_unwritable_path_is_a_warning_not_an_exception(project, tmp_path):
    (tmp_path / "file").write_text("")
    said = []
    told = tell_ci(run(3, root=project), junit=tmp_path / "file" / "junit.xml", environ={}, log=said.append)
    assert told.junit is None and len(told.notes) == 1 and said[0].startswith("nbprod: warning: could not write JUnit")


def test_a_junit_reader_reads_it(project, tmp_path):
    import junitparser  # a dev dependency: the XML as GitLab's and Jenkins' kind of reader sees it
    xml = junitparser.JUnitXml.fromfile(str(write_junit(run(3, "failed", root=project), tmp_path / "j.xml")))
    [suite] = list(xml)
    assert (suite.tests, suite.failures, suite.skipped) == (4, 1, 2)
    results = {case.name: [type(r).__name__ for r in case.result] for case in suite}
    assert results == {"ingest": [], "train": ["Failure"], "evaluate": ["Skipped"], "cached": ["Skipped"]}
    train = next(case for case in suite if case.name == "train")
    assert train.result[0].message.startswith("task 'train', cell 3") and train.result[0].type == "ValueError"
