"""The demonstration contract ``steps``: a job of timed steps, and no real work.

It exercises everything the engine offers a contract: validation against a schema,
a quote, an execution-duration and lifetime request, progress with named steps, one
result file per step, state, an extra operation (``readResult``), failure, a crash,
child processes, ignoring SIGTERM, and non-isolated jobs. The service serves it like any
contract (``/uws/steps``); :mod:`wsrf_uws.testing` builds test services on it. Example::

    <job xmlns="urn:wsrf-uws:steps:v1" isolated="true">
      <steps>3</steps>
      <stepSeconds>0.1</stepSeconds>
    </job>
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lxml import etree

from ...core.contract import Assessment, Contract, ExtraOperation, JobContext, JobHandle
from ...core.errors import JobFailure, UwsError
from ...core.model import Job, Quote, Result
from ...core.progress import steps_in_order
from ...published import schema_path
from .state import StepsState

NAMESPACE = "urn:wsrf-uws:steps:v1"
_NS = {"t": NAMESPACE}


@dataclass(frozen=True)
class StepsJob:
    """A parsed test job."""

    steps: int
    step_seconds: float
    isolated: bool = True
    execution_duration: int | None = None
    lifetime: timedelta | None = None
    fail: str | None = None
    crash: bool = False
    children: int = 0
    ignore_term: bool = False


def _text(root: etree._Element, name: str) -> str | None:
    found = root.find(f"t:{name}", _NS)
    return None if found is None else (found.text or "")


class StepsContract(Contract):
    """The demonstration contract ``steps`` (namespace ``urn:wsrf-uws:steps:v1``)."""

    name = "steps"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("steps.xsd")
    preload = ()  # a run needs no module beyond this one's

    def describe(self, root: etree._Element) -> StepsJob:
        duration = _text(root, "executionDuration")
        lifetime = _text(root, "lifetimeSeconds")
        return StepsJob(
            steps=int(_text(root, "steps") or 1),
            step_seconds=float(_text(root, "stepSeconds") or 0),
            isolated=root.get("isolated", "true") in ("true", "1"),
            execution_duration=None if duration is None else int(duration),
            lifetime=None if lifetime is None else timedelta(seconds=int(lifetime)),
            fail=_text(root, "fail"),
            crash=root.find("t:crash", _NS) is not None,
            children=int(_text(root, "children") or 0),
            ignore_term=root.find("t:ignoreTerm", _NS) is not None,
        )

    def assess(self, description: StepsJob, *, owner: str) -> Assessment:
        seconds = description.steps * description.step_seconds
        return Assessment(
            quote=Quote(duration=timedelta(seconds=seconds), cost={"cpu-seconds": seconds}),
            execution_duration=description.execution_duration,
            lifetime=description.lifetime,
            jdl_state=StepsState(owner_at_creation=owner).to_dict(),
        )

    def is_isolated(self, description: StepsJob) -> bool:
        return description.isolated

    def run(self, description: StepsJob, context: JobContext) -> None:
        if description.ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        children = self._spawn(description.children)
        if children:
            state = StepsState.from_dict(context.jdl_state).with_children(children)
            context.set_state(state.to_dict())
        labels = [f"step {i + 1}" for i in range(description.steps)]
        for i in range(description.steps):
            context.progress(i / description.steps, steps=steps_in_order(labels, active=i))
            time.sleep(description.step_seconds)
            context.write_result(
                f"step-{i + 1}.txt",
                f"step {i + 1} of run {context.run_count}\n".encode(),
                mime_type="text/plain",
            )
        context.progress(1.0, steps=steps_in_order(labels, active=description.steps))
        if description.crash:
            os.kill(os.getpid(), signal.SIGKILL)
        if description.fail is not None:
            raise JobFailure(description.fail)
        if children:
            time.sleep(3600)  # a job that spawned children waits for whoever stops it

    @staticmethod
    def _spawn(count: int) -> list[int]:
        # Half stay in the job's process group; half escape into sessions of their own,
        # as a careless application might: the executor must stop both.
        sleeper = [sys.executable, "-c", "import time; time.sleep(3600)"]
        return [subprocess.Popen(sleeper, start_new_session=bool(i % 2)).pid for i in range(count)]

    def extra_operations(self) -> Mapping[str, ExtraOperation]:
        return {
            "readResult": ExtraOperation(
                "readResult", read_result, "The text of one of the job's result files."
            )
        }

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        element = etree.Element(f"{{{NAMESPACE}}}state")
        etree.SubElement(element, f"{{{NAMESPACE}}}results").text = str(len(job.results))
        return element


def read_result(handle: JobHandle, request: etree._Element) -> etree._Element:
    """The extra operation ``readResult``: a result file's text, in-line in the reply.

    It shows how a contract adds an operation (as ``exposeRows`` does for ADQL): the
    request names the result; an unknown name is an invalid request of the caller.
    """
    name = (request.findtext(f"{{{NAMESPACE}}}name") or "").strip()
    result = handle.job.result(name)
    if result is None or not result.is_local:
        raise UwsError(f"the job has no result file named {name!r}")
    data = handle.file(result.location).read_bytes()
    response = etree.Element(f"{{{NAMESPACE}}}readResultResponse", nsmap={"t": NAMESPACE})
    etree.SubElement(response, f"{{{NAMESPACE}}}text").text = data.decode("utf-8", "replace")
    return response


def steps_jdl(steps: int = 1, step_seconds: float = 0.0, **options: Any) -> bytes:
    """A test JDL document; ``options`` are ``isolated``, ``execution_duration``,
    ``lifetime_seconds``, ``fail``, ``crash``, ``children``, ``ignore_term``."""
    parts = [f"<steps>{steps}</steps>", f"<stepSeconds>{step_seconds}</stepSeconds>"]
    if "execution_duration" in options:
        parts.append(f"<executionDuration>{options['execution_duration']}</executionDuration>")
    if "lifetime_seconds" in options:
        parts.append(f"<lifetimeSeconds>{options['lifetime_seconds']}</lifetimeSeconds>")
    if "fail" in options:
        parts.append(f"<fail>{options['fail']}</fail>")
    if options.get("crash"):
        parts.append("<crash/>")
    if options.get("children"):
        parts.append(f"<children>{options['children']}</children>")
    if options.get("ignore_term"):
        parts.append("<ignoreTerm/>")
    isolated = "true" if options.get("isolated", True) else "false"
    return f'<job xmlns="{NAMESPACE}" isolated="{isolated}">{"".join(parts)}</job>'.encode()
