"""The SOAP endpoint of one contract: every operation of the pattern on ``/uws/{contract}``.

Each request body is checked against the published schemas before anything else
(contract first: what the WSDL promises is what is accepted); then the caller is
identified, and the :class:`~wsrf_uws.core.service.JobService` does the work on the
resource named by the ``uwscore:ResourceId`` reference parameter. A resource is looked
up once per request, for that caller and this endpoint's contract
(:meth:`JobService.get_job`'s ``contract``): elsewhere it is as unknown as another
owner's, since its properties would be read as this contract's. Replies and faults carry
WS-Addressing headers in the version the client used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from ..core.contract import Authenticate, Contract, JobHandle
from ..core.errors import InvalidJobDescriptionError, ResourceUnknownError
from ..core.lifetime import DEFAULT, Default
from ..core.model import Job
from ..core.service import JobService
from ..core.xmldoc import first_error
from ..published import compile_schemas
from ..wire.elements import is_nil, source_line
from ..wire.names import INITIAL_TERMINATION_TIME
from ..wire.namespaces import (
    ACTIONS,
    BF,
    CORE,
    FAULT_ACTION,
    RL,
    RP,
    XSI,
    contract_action,
    q,
)
from ..wire.times import format_utc
from .addressing import Addressing, endpoint_reference, read_addressing, reply_headers
from .faults import InvalidPropertyError, RequestError, SoapFault, fault_for
from .headers import check_must_understand
from .listing import DEFAULT_MAX_LISTED_JOBS, ListRequest, list_jobs, list_response
from .properties import PropertyBuilder
from .spyne_compat import Exchange, Reply
from .values import read_datetime, read_duration


class MissingResourceIdError(ResourceUnknownError):
    """The request names no resource at all."""

    def __init__(self) -> None:
        super().__init__("")
        self.description = "the request carries no uwscore:ResourceId reference parameter"
        self.args = (self.description,)


@dataclass
class Call:
    """One operation call, as the handlers see it."""

    body: etree._Element
    addressing: Addressing
    owner: str

    @property
    def resource_id(self) -> str:
        if not self.addressing.resource_id:
            raise MissingResourceIdError
        return self.addressing.resource_id


Handler = Callable[[Call], tuple[etree._Element, str]]


class ContractEndpoint:
    """The operations of one contract, at ``{base_url}/uws/{contract.name}``."""

    def __init__(
        self,
        *,
        service: JobService,
        contract: Contract,
        base_url: str,
        authenticate: Authenticate,
        max_listed_jobs: int = DEFAULT_MAX_LISTED_JOBS,
    ) -> None:
        self.service = service
        self.contract = contract
        self.base_url = base_url
        self.address = f"{base_url}/uws/{contract.name}"
        #: The most jobs one listJobs answer holds.
        self.max_listed_jobs = max_listed_jobs
        self.authenticate = authenticate
        self.properties = PropertyBuilder(contract=contract, base_url=base_url)
        #: The contract's schema with the project's: every request body is checked against it.
        self.schema = compile_schemas({contract.namespace: _schema_path(contract)})
        # The contract's own validator too, now, before any request: compiled lazily by
        # the first createJob, it was compiled while other request threads parsed their
        # envelopes, and once came out without the contract's elements (every createJob
        # then "No matching global declaration"): lxml resolves a compilation's imports
        # through state its parsers share between threads. (Only with the service's own
        # compiler: a contract built without one cannot resolve the core schema alone.)
        if contract.environment.compile_schema is not None:
            contract.schema  # noqa: B018
        ns = contract.namespace
        self.handlers: dict[str, Handler] = {
            "createJob": self.create_job,
            "startJob": self.start_job,
            "resumeJob": self.resume_job,
            "abortJob": self.abort_job,
            "listJobs": self.list_jobs,
            "GetResourceProperty": self.get_resource_property,
            "GetMultipleResourceProperties": self.get_multiple_resource_properties,
            "GetResourcePropertyDocument": self.get_resource_property_document,
            "SetTerminationTime": self.set_termination_time,
            "Destroy": self.destroy,
        }
        self.operations = {
            q(ns, "createJob"): "createJob",
            q(ns, "startJob"): "startJob",
            q(ns, "resumeJob"): "resumeJob",
            q(CORE, "abortJob"): "abortJob",
            q(CORE, "listJobs"): "listJobs",
            q(RP, "GetResourceProperty"): "GetResourceProperty",
            q(RP, "GetMultipleResourceProperties"): "GetMultipleResourceProperties",
            q(RP, "GetResourcePropertyDocument"): "GetResourcePropertyDocument",
            q(RL, "SetTerminationTime"): "SetTerminationTime",
            q(RL, "Destroy"): "Destroy",
        }
        for name, extra_operation in contract.extra_operations().items():
            self.operations[q(ns, name)] = name
            self.handlers[name] = self._extra(name, extra_operation.handler)

    # -- the protocol Spyne calls -------------------------------------------------------

    def handle(self, operation: str, exchange: Exchange) -> Reply:
        """Validate, identify the caller, run ``operation`` and build the reply."""
        assert exchange.body is not None
        check_must_understand(exchange.headers)
        addressing = read_addressing(exchange.headers)
        if operation != "createJob":  # createJob's JDL problems are job-description faults
            self._validate(exchange.body)
        owner = self.authenticate(headers=exchange.headers, environ=exchange.environ)
        body, action = self.handlers[operation](Call(exchange.body, addressing, owner))
        return Reply(body=body, header=reply_headers(addressing, action=action))

    def fault(
        self, error: BaseException, exchange: Exchange | None
    ) -> tuple[SoapFault, etree._Element]:
        """The fault answering ``error`` and its reply ``soap:Header``."""
        addressing = read_addressing(exchange.headers) if exchange else Addressing()
        # In the caller's addressing version, like every EPR it gets (DESIGN §2).
        originator = endpoint_reference(
            self.address, namespace=addressing.namespace, tag=q(BF, "Originator")
        )
        fault = fault_for(error, now=self.service.clock.now(), originator=originator)
        action = fault.action or FAULT_ACTION[addressing.namespace]
        return fault, reply_headers(addressing, action=action)

    # -- operations ----------------------------------------------------------------------

    def create_job(self, call: Call) -> tuple[etree._Element, str]:
        # The JDL element is handed over as parsed: the contract reads it once, and the
        # lines of its problems are those of the request message.
        jdl, termination = self._read_create_job(call.body)
        job = self.service.create_job(
            contract=self.contract.name,
            document=jdl,
            owner=call.owner,
            address=self.address,
            termination_time=termination,
        )
        response = self._element("createJobResponse")
        response.append(
            endpoint_reference(
                job.address or self.address, job.resource_id, namespace=call.addressing.namespace
            )
        )
        return response, self._action("createJob")

    def start_job(self, call: Call) -> tuple[etree._Element, str]:
        phase = self.service.start_job(call.resource_id, owner=call.owner, contract=self.name)
        return self._phase_response("startJob", str(phase)), self._action("startJob")

    def resume_job(self, call: Call) -> tuple[etree._Element, str]:
        phase = self.service.resume_job(call.resource_id, owner=call.owner, contract=self.name)
        return self._phase_response("resumeJob", str(phase)), self._action("resumeJob")

    def abort_job(self, call: Call) -> tuple[etree._Element, str]:
        phase = self.service.abort_job(call.resource_id, owner=call.owner, contract=self.name)
        response = etree.Element(q(CORE, "abortJobResponse"), nsmap={"uwscore": CORE})
        etree.SubElement(response, q(CORE, "Phase")).text = str(phase)
        return response, contract_action(CORE, "abortJob", response=True)

    def list_jobs(self, call: Call) -> tuple[etree._Element, str]:
        listing = list_jobs(
            self.service,
            owner=call.owner,
            request=ListRequest.read(call.body),
            max_rows=self.max_listed_jobs,
        )
        response = list_response(
            listing, addressing=call.addressing.namespace, base_url=self.base_url
        )
        return response, contract_action(CORE, "listJobs", response=True)

    def get_resource_property(self, call: Call) -> tuple[etree._Element, str]:
        job = self._job(call)
        name = self._property_name(call.body, call.body.text or "")
        response = etree.Element(q(RP, "GetResourcePropertyResponse"), nsmap={"wsrfrp": RP})
        response.extend(self.properties.get(name, job, self.service.clock.now()))
        return response, ACTIONS["GetResourceProperty"][1]

    def get_multiple_resource_properties(self, call: Call) -> tuple[etree._Element, str]:
        # Each property may be named once: a reply then holds each property at most once,
        # so it is never larger than the resource-property document. (Answering a name
        # given 1000 times 1000 times turned a 50 KB request into a 280 MB reply.)
        job = self._job(call)
        names: list[str] = []
        for child in call.body.iterchildren(q(RP, "ResourceProperty")):
            name = self._property_name(child, child.text or "")
            if name in names:
                raise RequestError(
                    "invalid-request",
                    f"the property {name} is named more than once; name each property once",
                )
            names.append(name)
        now = self.service.clock.now()
        response = etree.Element(
            q(RP, "GetMultipleResourcePropertiesResponse"), nsmap={"wsrfrp": RP}
        )
        for name in names:
            response.extend(self.properties.get(name, job, now))
        return response, ACTIONS["GetMultipleResourceProperties"][1]

    def get_resource_property_document(self, call: Call) -> tuple[etree._Element, str]:
        job = self._job(call)
        response = etree.Element(q(RP, "GetResourcePropertyDocumentResponse"), nsmap={"wsrfrp": RP})
        response.append(self.properties.document(job, self.service.clock.now()))
        return response, ACTIONS["GetResourcePropertyDocument"][1]

    def set_termination_time(self, call: Call) -> tuple[etree._Element, str]:
        resource_id = call.resource_id
        requested: datetime | None
        time = call.body.find(q(RL, "RequestedTerminationTime"))
        if time is not None:
            requested = None if is_nil(time) else read_datetime(time.text or "")
        else:
            duration = call.body.find(q(RL, "RequestedLifetimeDuration"))
            assert duration is not None  # the schema requires one of the two
            try:
                requested = self.service.clock.now() + read_duration(duration.text or "")
            except OverflowError:
                raise RequestError(
                    "invalid-request", f"cannot use the duration {duration.text!r}"
                ) from None
        change = self.service.set_termination_time(
            resource_id, owner=call.owner, requested=requested, contract=self.name
        )
        response = etree.Element(
            q(RL, "SetTerminationTimeResponse"), nsmap={"wsrfrl": RL, "xsi": XSI}
        )
        new_time = etree.SubElement(response, q(RL, "NewTerminationTime"))
        if change.new_termination_time is None:
            new_time.set(q(XSI, "nil"), "true")
        else:
            new_time.text = format_utc(change.new_termination_time)
        etree.SubElement(response, q(RL, "CurrentTime")).text = format_utc(change.current_time)
        return response, ACTIONS["SetTerminationTime"][1]

    def destroy(self, call: Call) -> tuple[etree._Element, str]:
        self.service.destroy_job(call.resource_id, owner=call.owner, contract=self.name)
        return etree.Element(q(RL, "DestroyResponse"), nsmap={"wsrfrl": RL}), ACTIONS["Destroy"][1]

    def _extra(
        self, name: str, handler: Callable[[JobHandle, etree._Element], etree._Element]
    ) -> Handler:
        def call_extra(call: Call) -> tuple[etree._Element, str]:
            handle = self.service.job_handle(call.resource_id, owner=call.owner, contract=self.name)
            return handler(handle, call.body), self._action(name)

        return call_extra

    # -- helpers -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The contract's name: the only contract whose resources this endpoint knows."""
        return self.contract.name

    def _job(self, call: Call) -> Job:
        return self.service.get_job(call.resource_id, owner=call.owner, contract=self.name)

    def _validate(self, body: etree._Element) -> None:
        error = first_error(body, self.schema)
        if error is not None:
            raise RequestError("invalid-request", f"the request body is not valid: {error.message}")

    def _read_create_job(
        self, body: etree._Element
    ) -> tuple[etree._Element, datetime | Default | None]:
        children = [child for child in body if isinstance(child.tag, str)]
        expected = self.contract.jdl_qname
        if not children or children[0].tag != expected:
            found = children[0].tag if children else "nothing"
            raise InvalidJobDescriptionError(
                f"createJob must hold a {expected} element first, not {found}",
                line=source_line(body),
            )
        rest = children[1:]
        if len(rest) > 1 or (rest and rest[0].tag != INITIAL_TERMINATION_TIME):
            raise InvalidJobDescriptionError(
                f"after the job description createJob may hold only {INITIAL_TERMINATION_TIME}",
                line=source_line(rest[-1]),
            )
        if not rest:
            return children[0], DEFAULT
        if is_nil(rest[0]):
            raise RequestError(
                "invalid-request",
                "InitialTerminationTime is not nillable: leave it out for the default "
                "lifetime; an infinite one is asked for with SetTerminationTime and nil",
            )
        self._validate(rest[0])
        return children[0], read_datetime(rest[0].text or "")

    def _property_name(self, context: etree._Element, text: str) -> str:
        prefix, _, local = text.strip().rpartition(":")
        namespace = context.nsmap.get(prefix or None)
        name = q(namespace, local) if namespace else local
        if name not in self.properties.builders:
            raise InvalidPropertyError(name)
        return name

    def _element(self, local: str) -> etree._Element:
        return etree.Element(
            q(self.contract.namespace, local), nsmap={"tns": self.contract.namespace}
        )

    def _phase_response(self, operation: str, phase: str) -> etree._Element:
        response = self._element(f"{operation}Response")
        etree.SubElement(response, q(CORE, "Phase"), nsmap={"uwscore": CORE}).text = phase
        return response

    def _action(self, operation: str) -> str:
        return contract_action(self.contract.namespace, operation, response=True)


def _schema_path(contract: Contract) -> Path:
    """The contract's schema (mandatory: the registry refuses a contract without one)."""
    if contract.schema_path is None:
        raise ValueError(f"contract {contract.name!r} declares no schema_path")
    return contract.schema_path
