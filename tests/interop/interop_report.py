"""The interop scenario's steps, the harness's judgement of one client's JSON lines, and
the stacks x steps matrix.

``test_interop.py`` judges each stack's lines with :func:`judge` and saves, per stack,
``{out}/{stack}.jsonl`` (the client's stdout as printed) and ``{out}/{stack}.json`` (the
verdict); at the end of the module it writes ``{out}/matrix.md``. The same table can be
rendered again from a run's files::

    python tests/interop/interop_report.py [OUT_DIR]      # default tests/interop/out

A stack with only a ``.jsonl`` (client lines, no harness verdict) is shown with the
client's own ``ok`` flags.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

OUT = Path(__file__).resolve().parent / "out"

CORE = "urn:wsrf-uws:core:v1"
R = "http://docs.oasis-open.org/wsrf/r-2"
PHASES = {
    "PENDING",
    "QUEUED",
    "EXECUTING",
    "COMPLETED",
    "ERROR",
    "ABORTED",
    "UNKNOWN",
    "HELD",
    "SUSPENDED",
    "ARCHIVED",
}
#: The scenario, in order (tests/interop/README.md).
STEPS = (
    "wsdl",
    "createJob",
    "startJob",
    "waitCompleted",
    "jobState",
    "download",
    "getJob",
    "setTerminationTime",
    "destroy",
    "afterDestroy",
    "invalidJdl",
    "adqlCreate",
    "adqlRun",
    "exposeRows",
    "adqlDestroy",
    "done",
)
#: Operations every contract's WSDL has (compared case-insensitively: JAX-WS lower-cases
#: the first letter of a method).
CORE_OPERATIONS = {
    "createJob",
    "startJob",
    "resumeJob",
    "GetResourceProperty",
    "GetMultipleResourceProperties",
    "GetResourcePropertyDocument",
    "SetTerminationTime",
    "Destroy",
    "abortJob",
    "listJobs",
}
WSA_HEADERS = {"To", "Action", "MessageID", "ReplyTo", "From", "FaultTo", "RelatesTo"}
#: Matrix rows besides the steps: building a compiled client, and the store left empty.
BUILD = "build"
NO_JOBS_LEFT = "no jobs left"
#: A step after the one that failed.
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Expected:
    """What the harness knows independently of the client."""

    steps_endpoint: str
    adql_endpoint: str
    #: ``{public-url}``: results are under ``{base_url}/results/{resource-id}/``.
    base_url: str
    #: The ``hip`` values of rows 5..9 of the adql query, from the catalogue's source file.
    expose_values: tuple[int, ...]
    #: How many rows the adql query gives.
    adql_rows: int
    #: A time before the client started (termination times must be after it).
    started: datetime
    #: The header style this stack must report, or None to check its form only.
    header_style: Mapping[str, Any] | None = None
    #: Whether the stack must have checked every reply's wsa:RelatesTo.
    relates_to: bool = True


@dataclass
class Verdict:
    """One stack's run: per step, what is wrong ([] when the step is fine)."""

    stack: str
    status: str = "ran"  # ran | missing | build failed | crashed
    reason: str = ""
    compiled: bool = False
    returncode: int | None = None
    steps: dict[str, list[str]] = field(default_factory=dict)
    jobs_left: int | None = None
    #: Where the stack comes in the harness's table (the matrix's column order).
    rank: int = 0

    @property
    def problems(self) -> list[str]:
        found = [
            f"{step}: {problem}"
            for step, problems in self.steps.items()
            for problem in problems
            if problem != NOT_REACHED
        ]
        if self.status != "ran":
            found.insert(0, f"{self.status}: {self.reason}")
        if self.returncode not in (None, 0):
            found.append(f"the client exited {self.returncode}")
        if self.jobs_left:
            found.append(f"{NO_JOBS_LEFT}: the store still holds {self.jobs_left} job(s)")
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "reason": self.reason,
            "compiled": self.compiled,
            "returncode": self.returncode,
            "steps": self.steps,
            "jobs_left": self.jobs_left,
            "rank": self.rank,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            stack=data["stack"],
            status=data["status"],
            reason=data.get("reason", ""),
            compiled=data.get("compiled", False),
            returncode=data.get("returncode"),
            steps={k: list(v) for k, v in data.get("steps", {}).items()},
            jobs_left=data.get("jobs_left"),
            rank=data.get("rank", 0),
        )


def parse_lines(stdout: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON objects of a client's stdout, and the lines that are not JSON objects."""
    lines, junk = [], []
    for text in stdout.splitlines():
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            junk.append(text)
            continue
        if isinstance(value, dict):
            lines.append(value)
        else:
            junk.append(text)
    return lines, junk


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _is_id(value: object) -> bool:
    # >= 128 random bits in any reasonable alphabet
    return isinstance(value, str) and len(value) >= 22 and value.strip() == value


def _fault(line: Mapping[str, Any], expected: str) -> list[str]:
    problems = []
    if line.get("fault") != expected:
        problems.append(f"fault {line.get('fault')!r}, expected {expected!r}")
    code = line.get("faultcode")
    if not isinstance(code, str) or code.rpartition(":")[2] != "Client":
        problems.append(f"faultcode {code!r} is not a soap:Client")
    return problems


def _check_wsdl(line: Mapping[str, Any], expected: Expected) -> list[str]:
    problems = []
    operations = line.get("operations")
    if not isinstance(operations, list) or not all(isinstance(o, str) for o in operations):
        problems.append(f"operations {operations!r} is not a list of names")
    else:
        seen = {o.lower() for o in operations}
        lacking = sorted(o for o in CORE_OPERATIONS if o.lower() not in seen)
        if lacking:
            problems.append(f"the stack does not see {lacking}")
    style = line.get("header_style")
    if not isinstance(style, dict):
        return [*problems, f"header_style {style!r} is not an object"]
    if expected.header_style is not None and style != dict(expected.header_style):
        problems.append(f"header_style {style} is not {dict(expected.header_style)}")
    if style.get("is_reference_parameter") not in ("true", "1"):
        problems.append(f"is_reference_parameter {style.get('is_reference_parameter')!r}")
    if style.get("message_id") not in ("urn:uuid:", "uuid:"):
        problems.append(f"message_id {style.get('message_id')!r}")
    understood = style.get("must_understand")
    if not isinstance(understood, list) or not set(understood) <= WSA_HEADERS:
        problems.append(f"must_understand {understood!r} is not a list of wsa headers")
    return problems


def _check_job_state(line: Mapping[str, Any], expected: Expected, resource_id: object) -> list[str]:
    problems = []
    if line.get("phase") != "COMPLETED":
        problems.append(f"phase {line.get('phase')!r}")
    results = line.get("results")
    if not isinstance(results, list) or not results:
        return [*problems, f"results {results!r}: none listed"]
    prefix = f"{expected.base_url}/results/{resource_id}/"
    for result in results:
        if not isinstance(result, dict):
            problems.append(f"result {result!r} is not an object")
            continue
        name, href, size = result.get("name"), result.get("href"), result.get("size")
        if not isinstance(name, str) or not name:
            problems.append(f"result name {name!r}")
        elif href != prefix + quote(name):
            problems.append(f"result {name!r}: href {href!r} is not {prefix + quote(name)!r}")
        if size is not None and (not isinstance(size, int) or size < 0):
            problems.append(f"result {name!r}: size {size!r}")
    return problems


def _check_download(line: Mapping[str, Any], first: Mapping[str, Any] | None) -> list[str]:
    if first is None:
        return ["no result to compare with (jobState failed)"]
    problems = []
    for key in ("name", "href"):
        if line.get(key) != first.get(key):
            problems.append(f"{key} {line.get(key)!r} is not the first result's {first.get(key)!r}")
    if line.get("status") != 200:
        problems.append(f"HTTP status {line.get('status')!r}")
    size = first.get("size")
    if not isinstance(size, int):
        problems.append(f"the result's size {size!r} is not a number")
    elif line.get("bytes") != size:
        problems.append(f"{line.get('bytes')!r} bytes downloaded, the result's size is {size}")
    return problems


def _check_termination(line: Mapping[str, Any], expected: Expected) -> list[str]:
    new, current = _time(line.get("new_termination_time")), _time(line.get("current_time"))
    problems = []
    if new is None:
        problems.append(f"new_termination_time {line.get('new_termination_time')!r}")
    if current is None:
        problems.append(f"current_time {line.get('current_time')!r}")
    if line.get("in_future") is not True:
        problems.append(f"in_future {line.get('in_future')!r}")
    if new is None or current is None:
        return [*problems, "(times must be ISO 8601 with a time zone)"]
    if not new > current:
        problems.append(f"NewTerminationTime {new} is not after CurrentTime {current}")
    if not new > expected.started:
        problems.append(f"NewTerminationTime {new} is not after the run started")
    # Asked for now + 2 h: granted as asked (a few minutes' slack for the clocks' reading).
    if not timedelta(hours=1, minutes=55) < new - current <= timedelta(hours=2, minutes=5):
        problems.append(f"NewTerminationTime - CurrentTime = {new - current}, asked for 2 h")
    return problems


def _check_expose_rows(line: Mapping[str, Any], expected: Expected) -> list[str]:
    problems = []
    if line.get("rows") != expected.adql_rows:
        problems.append(f"rows {line.get('rows')!r}, expected {expected.adql_rows}")
    if (line.get("start"), line.get("end")) != (5, 10):
        problems.append(f"start, end = {line.get('start')!r}, {line.get('end')!r}, not 5, 10")
    if line.get("values") != list(expected.expose_values):
        problems.append(f"values {line.get('values')!r}, expected {list(expected.expose_values)}")
    return problems


def judge(
    stack: str, lines: Iterable[Mapping[str, Any]], expected: Expected
) -> dict[str, list[str]]:
    """Per step of :data:`STEPS`, what is wrong with the client's line for it."""
    verdict: dict[str, list[str]] = {step: [] for step in STEPS}
    by_step: dict[str, Mapping[str, Any]] = {}
    order: list[str] = []
    error: str | None = None
    for line in lines:
        step = line.get("step")
        if step == "error":
            error = str(line.get("error"))
            continue
        if step not in verdict:
            verdict.setdefault("wsdl", []).append(f"unknown step {step!r}")
            continue
        if step in by_step:
            verdict[step].append("reported twice")
        by_step[step] = line
        order.append(step)
        if line.get("stack") != stack:
            verdict[step].append(f"stack {line.get('stack')!r}, not {stack!r}")
        if line.get("ok") is not True:
            verdict[step].append(f"ok {line.get('ok')!r}")
    if order != [s for s in STEPS if s in by_step]:
        verdict["done"].append(f"steps out of order: {order}")
    missing = [s for s in STEPS if s not in by_step]
    for step in missing:
        verdict[step].append(NOT_REACHED)
    if missing:
        verdict[missing[0]] = [error or "the client stopped before this step (no error line)"]

    def get(step: str) -> Mapping[str, Any] | None:
        return by_step.get(step)

    if (line := get("wsdl")) is not None:
        verdict["wsdl"] += _check_wsdl(line, expected)
    resource_id = None
    if (line := get("createJob")) is not None:
        resource_id = line.get("resource_id")
        if not _is_id(resource_id):
            verdict["createJob"].append(f"resource_id {resource_id!r} (>= 22 characters)")
        if line.get("address") != expected.steps_endpoint:
            verdict["createJob"].append(
                f"address {line.get('address')!r} is not {expected.steps_endpoint!r}"
            )
    if (line := get("startJob")) is not None:
        phase = line.get("phase")
        if phase not in PHASES or phase == "PENDING":
            verdict["startJob"].append(f"phase {phase!r} after startJob")
    for step in ("waitCompleted", "adqlRun"):
        if (line := get(step)) is not None:
            if line.get("phase") != "COMPLETED":
                verdict[step].append(f"phase {line.get('phase')!r}, not COMPLETED")
            polls = line.get("polls")
            if not isinstance(polls, int) or polls < 1:
                verdict[step].append(f"polls {polls!r}")
    first_result = None
    if (line := get("jobState")) is not None:
        verdict["jobState"] += _check_job_state(line, expected, resource_id)
        results = line.get("results")
        if isinstance(results, list) and results and isinstance(results[0], dict):
            first_result = results[0]
    if (line := get("download")) is not None:
        verdict["download"] += _check_download(line, first_result)
    if (line := get("getJob")) is not None:
        if line.get("job_id") != resource_id:
            verdict["getJob"].append(f"job_id {line.get('job_id')!r} is not {resource_id!r}")
        if line.get("phase") != "COMPLETED":
            verdict["getJob"].append(f"phase {line.get('phase')!r}, not COMPLETED")
    if (line := get("setTerminationTime")) is not None:
        verdict["setTerminationTime"] += _check_termination(line, expected)
    if (line := get("afterDestroy")) is not None:
        verdict["afterDestroy"] += _fault(line, f"{{{R}}}ResourceUnknownFault")
    if (line := get("invalidJdl")) is not None:
        verdict["invalidJdl"] += _fault(line, f"{{{CORE}}}InvalidJobDescriptionFault")
    if (line := get("adqlCreate")) is not None:
        adql_id = line.get("resource_id")
        if not _is_id(adql_id) or adql_id == resource_id:
            verdict["adqlCreate"].append(f"resource_id {adql_id!r}")
    if (line := get("exposeRows")) is not None:
        verdict["exposeRows"] += _check_expose_rows(line, expected)
    line = get("done")
    if line is not None and expected.relates_to and line.get("relates_to_checked") is not True:
        verdict["done"].append(
            f"relates_to_checked {line.get('relates_to_checked')!r}: "
            "the client did not check every reply's wsa:RelatesTo"
        )
    return verdict


# -- the matrix ----------------------------------------------------------------------------


def _client_only(stack: str, lines: list[dict[str, Any]]) -> Verdict:
    """A verdict from a client's lines alone (its own ``ok`` flags; no harness checks)."""
    verdict = Verdict(stack=stack)
    reached = {line.get("step"): line for line in lines}
    error = next((str(line.get("error")) for line in lines if line.get("step") == "error"), None)
    missing = [s for s in STEPS if s not in reached]
    for step in STEPS:
        if step in reached:
            verdict.steps[step] = [] if reached[step].get("ok") is True else ["ok is not true"]
        else:
            first = missing and step == missing[0] and error is not None
            verdict.steps[step] = [error if first else NOT_REACHED]
    return verdict


def load(out: Path = OUT) -> list[Verdict]:
    """The verdicts saved in ``out``: ``{stack}.json`` if there, else from ``{stack}.jsonl``."""
    verdicts = {}
    for path in sorted(out.glob("*.jsonl")):
        lines, _ = parse_lines(path.read_text(encoding="utf-8"))
        verdicts[path.stem] = _client_only(path.stem, lines)
    for path in sorted(out.glob("*.json")):
        verdicts[path.stem] = Verdict.from_json(json.loads(path.read_text(encoding="utf-8")))
    return list(verdicts.values())


def _cell(verdict: Verdict, row: str) -> str:
    if verdict.status == "missing":
        return "n/a"
    if row == BUILD:
        if not verdict.compiled:
            return "—"
        return "✗" if verdict.status == "build failed" else "✓"
    if row == NO_JOBS_LEFT:
        if verdict.jobs_left is None:
            return "·"
        return "✓" if verdict.jobs_left == 0 else f"✗ ({verdict.jobs_left})"
    problems = verdict.steps.get(row)
    if problems is None:
        return "·"
    if problems == [NOT_REACHED]:
        return "·"
    return "✗" if problems else "✓"


def render(verdicts: list[Verdict]) -> str:
    """The stacks x steps table (rows: steps; columns: stacks), then what failed."""
    verdicts = sorted(verdicts, key=lambda v: (v.rank, v.stack))
    rows = [BUILD, *STEPS, NO_JOBS_LEFT]
    header = "| step | " + " | ".join(v.stack for v in verdicts) + " |"
    rule = "|---|" + "---|" * len(verdicts)
    body = [f"| {row} | " + " | ".join(_cell(v, row) for v in verdicts) + " |" for row in rows]
    text = [
        "# Interop matrix",
        "",
        "✓ passed the harness's checks · ✗ failed · `·` not reached · — not applicable · "
        "n/a stack not installed",
        "",
        header,
        rule,
        *body,
        "",
    ]
    notes = [(v.stack, v.problems) for v in verdicts]
    if any(problems for _, problems in notes):
        text.append("## What failed")
        text.append("")
        for stack, problems in notes:
            for problem in problems:
                text.append(f"- **{stack}** {problem}")
        text.append("")
    return "\n".join(text)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else OUT
    verdicts = load(out)
    if not verdicts:
        print(f"no {out}/*.json or *.jsonl: run `pytest tests/interop` first", file=sys.stderr)
        return 1
    table = render(verdicts)
    (out / "matrix.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
