"""The kit's results: one line per check, a summary, the exit status, and JUnit XML.

A text line reads ``STATUS  check-id  reason  [clause]``; the JUnit report has one
``testsuite`` per check group and one ``testcase`` per check (the structure pytest and
most CI servers write and read), with the reason in a ``failure`` or ``skipped`` element
and the clause in ``system-out``.
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree


class Status(enum.Enum):
    """How a check ended."""

    PASS = "PASS"  # noqa: S105 (a status, not a password)
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    #: The check group (``wsdl``, ``lifecycle``, ...): one JUnit testsuite.
    group: str
    #: The check id, ``{group}.{name}``.
    check: str
    status: Status
    #: One line: what passed, what the service did instead, or why it was not judged.
    reason: str
    #: The clause of the pattern or standard the check enforces.
    clause: str
    #: More lines for the JUnit report (every finding of a lint rule, say).
    details: str = ""
    seconds: float = 0.0


def one_line(text: str) -> str:
    """``text`` on one line, whitespace runs collapsed (a reason must not break the format)."""
    return " ".join(text.split())


def format_line(result: CheckResult, *, width: int = 0) -> str:
    """``STATUS  check-id  reason  [clause]``, the id padded to ``width``."""
    return (
        f"{result.status.value}  {result.check.ljust(width)}  "
        f"{one_line(result.reason)}  [{one_line(result.clause)}]"
    )


def summary(results: Sequence[CheckResult]) -> str:
    """``N passed, M failed, K skipped``."""
    counts = {status: sum(r.status is status for r in results) for status in Status}
    return (
        f"{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, {counts[Status.SKIP]} skipped"
    )


def exit_status(results: Iterable[CheckResult]) -> int:
    """0 when no check failed, else 1 (2 is kept for usage errors)."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def junit_xml(
    results: Sequence[CheckResult],
    *,
    name: str = "wsrf-uws conformance",
    properties: Mapping[str, str] | None = None,
    timestamp: datetime | None = None,
) -> bytes:
    """The results as a JUnit XML document (``testsuites/testsuite/testcase``)."""
    groups: dict[str, list[CheckResult]] = {}
    for result in results:
        groups.setdefault(result.group, []).append(result)
    stamp = (timestamp or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = etree.Element("testsuites", name=name)
    _counts(root, results)
    for group, members in groups.items():
        suite = etree.SubElement(
            root, "testsuite", name=group, timestamp=stamp, hostname=socket.gethostname()
        )
        _counts(suite, members)
        if properties:
            holder = etree.SubElement(suite, "properties")
            for key, value in properties.items():
                etree.SubElement(holder, "property", name=key, value=value)
        for result in members:
            case = etree.SubElement(
                suite,
                "testcase",
                classname=f"conformance.{group}",
                name=result.check,
                time=f"{result.seconds:.3f}",
            )
            if result.status is Status.FAIL:
                failure = etree.SubElement(
                    case, "failure", message=one_line(result.reason), type="NonConformance"
                )
                failure.text = result.details or result.reason
            elif result.status is Status.SKIP:
                etree.SubElement(case, "skipped", message=one_line(result.reason))
            out = etree.SubElement(case, "system-out")
            out.text = f"clause: {result.clause}\n{result.status.value}: {result.reason}\n"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _counts(element: etree._Element, results: Sequence[CheckResult]) -> None:
    element.set("tests", str(len(results)))
    element.set("failures", str(sum(r.status is Status.FAIL for r in results)))
    element.set("errors", "0")
    element.set("skipped", str(sum(r.status is Status.SKIP for r in results)))
    element.set("time", f"{sum(r.seconds for r in results):.3f}")


def write_junit(
    path: Path, results: Sequence[CheckResult], *, properties: Mapping[str, str] | None = None
) -> None:
    """Write :func:`junit_xml` of ``results`` to ``path``."""
    path.write_bytes(junit_xml(results, properties=properties))
