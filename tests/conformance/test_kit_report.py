"""The kit's report: text lines, summary, exit status, JUnit XML (crafted results)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.conformance.report import (
    CheckResult,
    Status,
    exit_status,
    format_line,
    junit_xml,
    summary,
    write_junit,
)

from kit_servers import LINE

JUNIT_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))


def result(check: str, status: Status, reason: str = "why", details: str = "") -> CheckResult:
    return CheckResult(
        group=check.partition(".")[0],
        check=check,
        status=status,
        reason=reason,
        clause="pattern §2.1",
        details=details,
        seconds=0.25,
    )


RESULTS = [
    result("wsdl.served", Status.PASS, "3 documents"),
    result("wsdl.lint.WU-HREF", Status.FAIL, "2 findings: a; b", details="finding a\nfinding b"),
    result("lifecycle.create-job", Status.PASS),
    result("lifecycle.pending", Status.SKIP, "no job: createJob failed"),
    result("owners.owner-id", Status.SKIP, "needs --user"),
]


def test_a_line_has_status_id_reason_and_clause() -> None:
    line = format_line(result("faults.doctype", Status.FAIL, "refused\n  twice  over"), width=30)
    match = LINE.match(line)
    assert match is not None, line
    assert match.groups() == ("FAIL", "faults.doctype", "refused twice over", "pattern §2.1")
    assert line.index("refused") == len("FAIL  ") + 30 + 2


def test_summary_counts_each_status() -> None:
    assert summary(RESULTS) == "2 passed, 1 failed, 2 skipped"
    assert summary([]) == "0 passed, 0 failed, 0 skipped"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PASS, Status.PASS], 0),
        ([Status.PASS, Status.SKIP], 0),
        ([Status.SKIP], 0),
        ([Status.PASS, Status.FAIL, Status.SKIP], 1),
    ],
)
def test_exit_status_is_1_only_when_a_check_failed(statuses: list[Status], expected: int) -> None:
    assert exit_status([result(f"g.c{i}", s) for i, s in enumerate(statuses)]) == expected


def test_junit_is_valid_with_one_suite_per_group() -> None:
    document = etree.fromstring(
        junit_xml(RESULTS, properties={"url": "http://x/uws/steps"}, timestamp=datetime.now(UTC))
    )
    assert JUNIT_SCHEMA.validate(document), JUNIT_SCHEMA.error_log
    assert (document.get("tests"), document.get("failures"), document.get("skipped")) == (
        "5",
        "1",
        "2",
    )
    suites = document.findall("testsuite")
    assert [s.get("name") for s in suites] == ["wsdl", "lifecycle", "owners"]
    assert [s.get("tests") for s in suites] == ["2", "2", "1"]
    assert suites[0].find("properties/property").get("value") == "http://x/uws/steps"


def test_junit_cases_carry_failures_skips_and_clauses() -> None:
    document = etree.fromstring(junit_xml(RESULTS))
    cases = {c.get("name"): c for c in document.iter("testcase")}
    failure = cases["wsdl.lint.WU-HREF"].find("failure")
    assert failure is not None
    assert failure.get("message") == "2 findings: a; b"
    assert failure.text == "finding a\nfinding b"
    skipped = cases["lifecycle.pending"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no job: createJob failed"
    passed = cases["wsdl.served"]
    assert passed.find("failure") is None and passed.find("skipped") is None
    assert passed.get("classname") == "conformance.wsdl"
    assert passed.get("time") == "0.250"
    assert "clause: pattern §2.1" in (passed.findtext("system-out") or "")


def test_write_junit_writes_the_document(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    write_junit(path, RESULTS[:1])
    assert etree.parse(str(path)).getroot().get("tests") == "1"
