"""Restart semantics (pattern §2.4), with a restart the operator's command performs.

While an isolated job and a job that is not isolated are EXECUTING (and another job
waits PENDING), the kit runs ``--restart-command`` through the shell, waits until the
endpoint answers again, then checks: every resource survived; the isolated job runs
again by itself; the other waits in HELD until resumeJob, which takes it out of HELD;
and a second resumeJob still answers success.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

from ..names import FINAL_PHASES, JOB_STATE, q
from ..outcomes import CheckFailed, CheckSkipped, require
from ..protocol import Endpoint, EndpointReference
from ..replies import get_phase, reply_phase, wait_for_phase
from ..wire import WireError, http_request
from .base import Check, Context, Group, Recorder, cleanup, create_job_or_skip
from .jobs import check_job_state, single_property

SURVIVE = Check(
    "restart.resources-survive",
    "pattern §2.4 (a service must not forget its live resources when restarted)",
    "a PENDING job created before the restart is still there, PENDING",
)
ISOLATED = Check(
    "restart.isolated-runs-again",
    "pattern §2.4 (an isolated job is restarted automatically); DESIGN §4 restart",
    "an isolated job interrupted while EXECUTING runs again by itself (never HELD) and completes",
)
HELD = Check(
    "restart.held-waits",
    "pattern §2.4 (a job writing to external resources waits for resumeJob); DESIGN §4",
    "a job that is not isolated, interrupted while EXECUTING, waits in HELD",
)
RESUME = Check(
    "restart.resume",
    "pattern §2.1.4, §2.4; DESIGN §2 resumeJob",
    "resumeJob answers resumeJobResponse with a phase out of HELD, and the job leaves HELD",
)
RESUME_AGAIN = Check(
    "restart.resume-again",
    "pattern §2.4 (resumeJob on a job already restarted answers a successful resumption)",
    "a second resumeJob answers resumeJobResponse, not a fault",
)

CHECKS = (SURVIVE, ISOLATED, HELD, RESUME, RESUME_AGAIN)

#: How long a HELD job is watched to see that it does not run by itself.
_HOLD_WATCH = 1.0


@dataclass
class _Restart:
    context: Context
    endpoint: Endpoint
    pending: EndpointReference | None = None
    isolated: EndpointReference | None = None
    held: EndpointReference | None = None
    #: Why each job could not be set up, by name.
    problems: dict[str, str] = field(default_factory=dict)
    #: Why the restart itself failed, if it did.
    restart_failed: str = ""
    created: list[EndpointReference] = field(default_factory=list)

    # -- before the restart ------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the three jobs and start two of them; note what could not be set up."""
        self.pending = self._create("pending", "")
        self.isolated = self._create("isolated", "restart")
        self.held = self._create("held", "held")
        running = [(n, e) for n, e in (("isolated", self.isolated), ("held", self.held)) if e]
        for name, epr in running:  # both first, so both are still running at the restart
            self._start(name, epr)
        for name, epr in running:
            self._wait_executing(name, epr)

    def _create(self, name: str, kind: str) -> EndpointReference | None:
        try:
            epr = create_job_or_skip(self.endpoint, self.context.jdl(kind))
        except CheckSkipped as skipped:
            self.problems[name] = skipped.reason
            return None
        except (CheckFailed, WireError) as error:
            self.problems[name] = f"the job description is unusable: {error}"
            return None
        self.created.append(epr)
        return epr

    def _start(self, name: str, epr: EndpointReference) -> None:
        try:
            reply_phase(
                self.endpoint.start_job(epr),
                operation="startJob",
                response=q(self.endpoint.namespace, "startJobResponse"),
            )
        except (CheckFailed, WireError) as error:
            self.problems[name] = f"the {name} job could not be started: {error}"

    def _wait_executing(self, name: str, epr: EndpointReference) -> None:
        if name in self.problems:
            return
        try:
            phase, _ = wait_for_phase(
                self.endpoint,
                epr,
                {"EXECUTING", *FINAL_PHASES},
                timeout=self.context.options.timeout,
            )
        except (CheckFailed, WireError) as error:
            self.problems[name] = f"the {name} job never ran: {error}"
            return
        if phase != "EXECUTING":
            self.problems[name] = (
                f"the {name} job ended ({phase}) before the restart: give a longer job"
            )

    def restart(self) -> None:
        """Run the restart command, then wait until the endpoint answers again."""
        options = self.context.options
        assert options.restart_command is not None
        try:
            done = subprocess.run(  # noqa: S602 (the operator's own command, by design)
                options.restart_command,
                shell=True,
                capture_output=True,
                text=True,
                timeout=options.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.restart_failed = f"the restart command ran longer than {options.timeout:g} s"
            return
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).split())[-300:]
            self.restart_failed = f"the restart command failed (status {done.returncode}): {tail}"
            return
        deadline = time.monotonic() + options.timeout
        while True:
            try:
                http_request(f"{options.url}?wsdl", timeout=options.request_timeout, truncate=True)
                return
            except WireError as error:
                if time.monotonic() > deadline:
                    self.restart_failed = f"the endpoint did not answer after the restart: {error}"
                    return
            time.sleep(0.2)

    # -- after the restart -------------------------------------------------------------------

    def job(self, name: str) -> EndpointReference:
        if self.restart_failed:
            raise CheckFailed(self.restart_failed)
        epr: EndpointReference | None = getattr(self, name)
        if epr is None or name in self.problems:
            raise CheckSkipped(self.problems.get(name, f"no {name} job"))
        return epr

    def survive(self) -> str:
        phase = get_phase(self.endpoint, self.job("pending"))
        require(phase == "PENDING", f"the PENDING job is {phase} after the restart")
        return "the PENDING job is still PENDING"

    def isolated_runs_again(self) -> str:
        epr = self.job("isolated")
        phase, seen = wait_for_phase(
            self.endpoint, epr, FINAL_PHASES, timeout=self.context.options.timeout
        )
        require("HELD" not in seen, "the isolated job went to HELD: " + " → ".join(seen))
        state = single_property(self.endpoint, epr, JOB_STATE)
        _, run_count = check_job_state(state)
        require(phase == "COMPLETED", f"the isolated job ended {phase} after the restart")
        return f"phases after the restart: {' → '.join(seen)}; RunCount {run_count}"

    def held_waits(self) -> str:
        epr = self.job("held")
        first = get_phase(self.endpoint, epr)
        require(first == "HELD", f"the job that is not isolated is {first}, not HELD")
        time.sleep(_HOLD_WATCH)
        second = get_phase(self.endpoint, epr)
        require(second == "HELD", f"the HELD job moved to {second} without resumeJob")
        return f"HELD, and still HELD {_HOLD_WATCH:g} s later"

    def _resume(self) -> str:
        epr = self.job("held")
        return reply_phase(
            self.endpoint.resume_job(epr),
            operation="resumeJob",
            response=q(self.endpoint.namespace, "resumeJobResponse"),
        )

    def resume(self) -> str:
        phase = self._resume()
        require(phase != "HELD", "resumeJob answered HELD")
        now = get_phase(self.endpoint, self.job("held"))
        require(now != "HELD", "after resumeJob the job is still HELD")
        return f"resumeJob answered {phase}; the job is {now}"

    def resume_again(self) -> str:
        phase = self._resume()
        require(phase != "HELD", "the second resumeJob answered HELD")
        return f"the second resumeJob answered {phase}"


def run(context: Context, recorder: Recorder) -> None:
    """Run the restart checks (only with --restart-command)."""
    if context.options.restart_command is None:
        recorder.skip_remaining("needs --restart-command")
        return
    endpoint = context.endpoint()
    checks = _Restart(context=context, endpoint=endpoint)
    with cleanup(endpoint, checks.created):
        checks.prepare()
        if checks.isolated is None and checks.held is None and checks.pending is None:
            recorder.skip_remaining("; ".join(sorted(set(checks.problems.values()))))
            return
        checks.restart()
        recorder.run(SURVIVE, checks.survive)
        recorder.run(ISOLATED, checks.isolated_runs_again)
        recorder.run(HELD, checks.held_waits)
        recorder.run(RESUME, checks.resume)
        recorder.run(RESUME_AGAIN, checks.resume_again)


GROUP = Group("restart", CHECKS, run)
