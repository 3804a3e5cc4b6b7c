"""The plug-in protocol of a job-description language (JDL).

A *contract* is the UWS pattern plus one JDL plus the job state it exposes. The core
knows contracts only through this protocol: how to read a JDL document, what to
offer for it, how to run it, what to show of it, what destroying it releases, and
whether it is isolated (pattern §2.4). Contracts are installed as entry points in
the ``wsrf_uws.contracts`` group (see :mod:`wsrf_uws.core.registry`).

``run`` executes in a worker process, so a contract instance must be picklable:
define contracts at module level and keep their attributes plain data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar, cast

from lxml import etree

from .errors import InvalidJobDescriptionError
from .model import Job, ProgressStep, Quote, Result
from .xmldoc import local_name, parse_document, source_line, validate

if TYPE_CHECKING:
    from ..settings import Settings
    from .service import JobService


_R = TypeVar("_R")

#: A WSGI application (PEP 3333): what a contract's own HTTP routes are.
WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Assessment:
    """What a contract offers for a job at createJob, before anything runs.

    ``execution_duration`` (seconds, 0 = unlimited) and ``lifetime`` are what the JDL
    asked for, or ``None`` for the service defaults; the service's limits still apply.
    ``jdl_state`` is the contract's initial state (for instance an offer the client
    can read while the job is PENDING).
    """

    quote: Quote = field(default_factory=Quote)
    execution_duration: int | None = None
    lifetime: timedelta | None = None
    jdl_state: dict[str, Any] = field(default_factory=dict)


class JobContext(Protocol):
    """What a running job sees of the service; handed to :meth:`Contract.run`.

    Reports travel to the service process and reach the store; a job never writes
    the store itself.
    """

    resource_id: str
    workdir: Path
    #: The contract state as stored when the run began (left by an earlier run after a restart).
    jdl_state: dict[str, Any]
    #: 1 on the first run, more when the job is run again after a restart.
    run_count: int
    #: The resource's termination time when the run began (None: infinite lifetime).
    termination_time: datetime | None

    def progress(
        self, fraction: float | None = None, *, steps: tuple[ProgressStep, ...] | None = None
    ) -> None:
        """Report the fraction complete (0..1) and, optionally, the named steps."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the contract's state with ``state`` (JSON-serializable)."""
        ...

    def add_result(self, result: Result) -> None:
        """Announce a result (a file already in ``workdir``, or an external URI)."""
        ...

    def write_result(self, name: str, data: bytes, *, mime_type: str) -> Result:
        """Write ``data`` atomically as the file result ``name`` and announce it."""
        ...

    def open_result(self, name: str, *, mime_type: str) -> AbstractContextManager[IO[bytes]]:
        """A binary file that becomes result ``name`` atomically when the block ends cleanly."""
        ...


@dataclass(frozen=True)
class ExtraOperation:
    """An operation a contract adds to the pattern's own (such as ``exposeRows``).

    ``handler(service, job, request)`` receives the request body element and returns
    the response body element; it runs in the service process.
    """

    name: str
    handler: Callable[[JobService, Job, etree._Element], etree._Element]
    doc: str = ""


class Contract:
    """Base class of every contract; subclasses fill in the class attributes and ``run``.

    ``parse`` refuses unsafe or malformed XML, checks the root element and validates
    against ``schema`` before calling :meth:`describe`, so a subclass only turns a
    valid element into its own description object.
    """

    #: Short name, used in endpoints (``/uws/{name}``) and the store.
    name: str = ""
    #: Namespace of the JDL and of the contract's state elements.
    namespace: str = ""
    #: Local name of the JDL root element, in ``namespace``.
    jdl_element: str = ""
    #: XSD declaring the JDL (and state) elements, or None to skip schema validation.
    schema_path: Path | None = None
    #: Whether a job may be re-run automatically after a restart (pattern §2.4).
    isolated: bool = True
    #: Local name (in ``namespace``) of the element :meth:`state_element` returns, which
    #: is also the contract's own resource property; None if the contract has none.
    state_name: str | None = None
    #: A folder of sample input files the service publishes at ``/demo/{name}/{file}``
    #: for examples and demonstrations, or None.
    demo_data: Path | None = None

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("schema", None)  # an lxml schema does not pickle; it is reloaded on demand
        # Resources opened in this process (connections, open files) stay here: a worker
        # opens its own (see per_process).
        state.pop("_resources", None)
        state.pop("_resources_lock", None)
        return state

    @property
    def data_dir(self) -> Path:
        """The service's data folder, where a contract keeps files of its own (``var``
        when the contract was made without settings)."""
        return self.settings.data_dir if self.settings is not None else Path("var")

    def job_folder(self, resource_id: str) -> Path:
        """The folder of a job's files, for use in the service process (a run has
        ``JobContext.workdir``), for instance to render a state from files there."""
        from ..store.files import JobFiles

        jobs = self.settings.jobs_dir if self.settings is not None else self.data_dir / "jobs"
        return self.per_process("job files", lambda: JobFiles(jobs)).folder(resource_id)

    def per_process(self, name: str, open_resource: Callable[[], _R]) -> _R:
        """The resource ``name``, opened with ``open_resource()`` on first use in each process.

        For what cannot travel to a worker with the pickled contract (a database
        connection, an index): the service process and each worker open their own.
        Thread-safe: the first caller opens it, the others wait for it.
        """
        lock: threading.Lock = self.__dict__.setdefault("_resources_lock", threading.Lock())
        with lock:
            resources: dict[str, Any] = self.__dict__.setdefault("_resources", {})
            if name not in resources:
                resources[name] = open_resource()
            return cast(_R, resources[name])

    @cached_property
    def schema(self) -> etree.XMLSchema | None:
        """The compiled XSD (with the project's schemas it may import), or None."""
        if self.schema_path is None:
            return None
        from ..published import compile_schemas

        return compile_schemas({self.namespace: self.schema_path})

    @property
    def jdl_qname(self) -> str:
        """``{namespace}jdl_element``."""
        return f"{{{self.namespace}}}{self.jdl_element}"

    def parse(self, document: bytes) -> Any:
        """Turn a JDL document into the contract's description; raises on any problem."""
        root = parse_document(document)
        if local_name(root) != self.jdl_qname:
            raise InvalidJobDescriptionError(
                f"the root element is {local_name(root)}, contract {self.name!r} expects "
                f"{self.jdl_qname}",
                line=source_line(root),
            )
        if self.schema is not None:
            validate(root, self.schema)
        return self.describe(root)

    def describe(self, root: etree._Element) -> Any:
        """Build the description from a valid root element (override; default: the element)."""
        return root

    def assess(self, description: Any, *, owner: str) -> Assessment:
        """Quote the job and propose its limits; may raise a quota or description error."""
        return Assessment()

    def is_isolated(self, description: Any) -> bool:
        """Whether this job may be re-run automatically after a restart."""
        return self.isolated

    def job_memory_bytes(self, *, default: int) -> int:
        """The address space a job's process may use (RLIMIT_AS), in bytes; 0: no limit.

        ``default`` is the service's ``job_memory_bytes``. A contract whose library
        reserves more address space than it uses (DuckDB, memory-mapped catalogues)
        returns what its jobs need; the default accepts the service's value. A job that
        goes beyond it ends in ERROR ("the job exceeded its memory limit of N bytes").
        """
        return default

    def run(self, description: Any, context: JobContext) -> None:
        """Do the work, in a worker process. Return normally to complete the job.

        Raise :class:`~wsrf_uws.core.errors.JobFailure` to end in ERROR with a message;
        any other exception ends in ERROR too, with the exception's text.
        """
        raise NotImplementedError(f"contract {self.name!r} does not implement run()")

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        """The contract's own part of the job-state property, or None.

        ``result_url`` gives the URL a client downloads one of the job's results from.
        """
        return None

    def review_termination_time(self, job: Job, requested: datetime | None) -> None:
        """Refuse a new termination time by raising; the default accepts what policy allows."""

    def release(self, job: Job) -> None:
        """Release what the job holds outside its folder (the core removes the folder itself).

        Called by destroy and by the reaper after running work has stopped. Raising
        :class:`~wsrf_uws.core.errors.ResourceNotDestroyedError` keeps the resource.
        """

    def extra_operations(self) -> Mapping[str, ExtraOperation]:
        """Operations beyond the pattern's, by name."""
        return {}

    def web_routes(
        self, *, service: JobService, base_url: str, authenticate: Callable[..., str]
    ) -> Mapping[str, WsgiApplication]:
        """HTTP applications the contract serves beside its SOAP endpoint, by path prefix.

        A request whose path is a prefix (``"/vospace"``) or lies below it reaches that
        application unchanged. ``authenticate(headers=[], environ=environ)`` names the
        caller from HTTP Basic as the SOAP endpoint would, or raises
        :class:`~wsrf_uws.core.errors.NotAuthenticatedError`. Called once, in the service
        process, when the server is built.
        """
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.namespace}>"
