"""The check machinery: named checks, the recorder that runs them, and the shared context.

Each check is a function returning its pass reason, or raising :class:`CheckFailed`
or :class:`CheckSkipped`. The :class:`Recorder` runs it so that nothing escapes: a
network error or a malformed reply fails that check alone, a bug in the kit fails it
with the kit's error named, and a check a group never reached is reported, not lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Self

from lxml import etree

from ..options import NEEDS_USER, Options, builtin_sample
from ..outcomes import CheckFailed, CheckSkipped
from ..protocol import Endpoint, EndpointReference, read_endpoint_reference
from ..replies import expect_response
from ..report import CheckResult, Status
from ..wire import Credentials, WireError, parse_xml


@dataclass(frozen=True)
class Check:
    """One named check and the clause it enforces."""

    id: str
    clause: str
    #: What the check verifies, in a sentence (the manual lists it).
    summary: str

    @property
    def group(self) -> str:
        """The group the id names (``lifecycle`` of ``lifecycle.create-job``)."""
        return self.id.partition(".")[0]


class Recorder:
    """Runs a group's checks and records exactly one result for each."""

    def __init__(
        self,
        group: str,
        checks: Sequence[Check],
        *,
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> None:
        self.group = group
        self.checks = list(checks)
        self.on_result = on_result
        self.results: dict[str, CheckResult] = {}

    def run(self, check: Check, body: Callable[[], str]) -> bool:
        """Run ``body`` as ``check``; True when it passed."""
        started = time.monotonic()
        details = ""
        try:
            reason = body()
            status = Status.PASS
        except CheckSkipped as skipped:
            status, reason = Status.SKIP, skipped.reason
        except CheckFailed as failed:
            status, reason, details = Status.FAIL, failed.reason, failed.details
        except WireError as error:
            status, reason = Status.FAIL, str(error)
        except Exception as error:  # the kit's own bug must not hide the other checks
            status, reason = Status.FAIL, f"the kit failed: {type(error).__name__}: {error}"
        self._record(check, status, reason, details, time.monotonic() - started)
        return status is Status.PASS

    def skip(self, check: Check, reason: str) -> None:
        """Record ``check`` as skipped."""
        self._record(check, Status.SKIP, reason, "", 0.0)

    def skip_remaining(self, reason: str) -> None:
        """Skip every check of the group not recorded yet."""
        for check in self.checks:
            if check.id not in self.results:
                self.skip(check, reason)

    def fail_remaining(self, reason: str) -> None:
        """Fail every check of the group not recorded yet (the group could not go on)."""
        for check in self.checks:
            if check.id not in self.results:
                self._record(check, Status.FAIL, reason, "", 0.0)

    def finish(self) -> list[CheckResult]:
        """The results in declaration order; a check never reached fails (it must not vanish)."""
        for check in self.checks:
            if check.id not in self.results:
                self._record(check, Status.FAIL, "the kit never ran this check", "", 0.0)
        return [self.results[check.id] for check in self.checks]

    def _record(
        self, check: Check, status: Status, reason: str, details: str, seconds: float
    ) -> None:
        if check.id in self.results:
            raise RuntimeError(f"{check.id} was recorded twice")
        result = CheckResult(
            group=self.group,
            check=check.id,
            status=status,
            reason=reason,
            clause=check.clause,
            details=details,
            seconds=seconds,
        )
        self.results[check.id] = result
        if self.on_result is not None:
            self.on_result(result)


@dataclass
class Context:
    """What every group shares: the options, and the actions the WSDL declares."""

    options: Options
    #: Input action of each operation, from the WSDL (filled by the wsdl group).
    actions: dict[str, str] = field(default_factory=dict)
    #: The actions the WSDL gives its faults (filled by the wsdl group; None: no WSDL).
    fault_actions: set[str] | None = None

    def endpoint(self, credentials: Credentials | None = None) -> Endpoint:
        """The contract endpoint as the caller with ``credentials`` (default: ``--user``)."""
        return Endpoint(
            url=self.options.url,
            contract=self.options.contract,
            timeout=self.options.request_timeout,
            credentials=credentials if credentials is not None else self.options.user,
            actions=self.actions,
        )

    def jdl(self, kind: str = "") -> etree._Element:
        """The job description of ``kind`` (``""``, ``restart``, ``held``); skip if none."""
        given = {
            "": self.options.jdl,
            "restart": self.options.restart_jdl or self.options.jdl,
            "held": self.options.held_jdl,
        }[kind]
        contract = self.options.contract
        document = given if given is not None else builtin_sample(contract, kind)
        if document is None:
            option = {"": "--jdl", "restart": "--restart-jdl", "held": "--held-jdl"}[kind]
            raise CheckSkipped(f"no job description for contract {contract!r}: give {option}")
        if given is None and contract in NEEDS_USER and self.options.user is None:
            raise CheckSkipped(f"the {contract} sample job needs an authenticated user: --user")
        try:
            return parse_xml(document, what="the job description")
        except WireError as error:  # checked at the command line; a sample must not break it
            raise CheckSkipped(f"unusable job description: {error}") from None


def create_job(endpoint: Endpoint, jdl: etree._Element) -> EndpointReference:
    """createJob with ``jdl``; the EPR of the new job (fails the check otherwise)."""
    reply = endpoint.create_job(jdl)
    response = expect_response(
        reply, f"{{{endpoint.namespace}}}createJobResponse", operation="createJob"
    )
    references = [child for child in response if isinstance(child.tag, str)]
    if len(references) != 1 or etree.QName(references[0]).localname != "EndpointReference":
        raise CheckFailed(
            "createJobResponse must hold exactly one wsa:EndpointReference, not "
            + (", ".join(str(r.tag) for r in references) or "nothing")
        )
    return read_endpoint_reference(references[0])


def create_job_or_skip(endpoint: Endpoint, jdl: etree._Element) -> EndpointReference:
    """:func:`create_job` for checks about something else: a failure skips them.

    (createJob itself is judged by ``lifecycle.create-job``.)
    """
    try:
        return create_job(endpoint, jdl)
    except (CheckFailed, WireError) as error:
        reason = error.reason if isinstance(error, CheckFailed) else str(error)
        raise CheckSkipped(f"no job to check: createJob failed ({reason})") from None


@dataclass
class SharedJob:
    """One job several checks of a group use: created at the first that needs it.

    Without a job description, or when createJob fails, every check that needs the job
    is skipped with the reason. What the group creates goes in :attr:`created`, for
    :func:`cleanup` to destroy.
    """

    context: Context
    endpoint: Endpoint
    jdl: etree._Element | None
    #: Why there is no job description, when there is none.
    no_jdl: str = ""
    epr: EndpointReference | None = None
    #: Why no job could be created, once that is known.
    no_job: str = ""
    created: list[EndpointReference] = field(default_factory=list)

    @classmethod
    def for_context(cls, context: Context, endpoint: Endpoint) -> Self:
        """The group's checks, with the run's job description if it has one."""
        try:
            return cls(context=context, endpoint=endpoint, jdl=context.jdl())
        except CheckSkipped as skipped:
            return cls(context=context, endpoint=endpoint, jdl=None, no_jdl=skipped.reason)

    def description(self) -> etree._Element:
        """The job description; skips the check without one."""
        if self.jdl is None:
            raise CheckSkipped(self.no_jdl)
        return self.jdl

    def job(self) -> EndpointReference:
        """The shared job, created on first use; skips the check if it cannot be."""
        if self.no_job:
            raise CheckSkipped(self.no_job)
        if self.epr is None:
            try:
                self.epr = create_job_or_skip(self.endpoint, self.description())
            except CheckSkipped as skipped:
                self.no_job = skipped.reason
                raise
            self.created.append(self.epr)
        return self.epr


@contextmanager
def cleanup(endpoint: Endpoint, references: list[EndpointReference]) -> Iterator[None]:
    """Destroy the jobs in ``references`` at the end (best effort: the kit tidies up)."""
    try:
        yield
    finally:
        for reference in references:
            with suppress(WireError):
                endpoint.destroy(reference)


@dataclass(frozen=True)
class Group:
    """A group of checks: its name, its checks, and the function running them."""

    name: str
    checks: tuple[Check, ...]
    run: Callable[[Context, Recorder], None]
