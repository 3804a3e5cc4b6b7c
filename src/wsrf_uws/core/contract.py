"""The plug-in protocol of a job-description language (JDL): contract protocol v1.

A *contract* is the UWS pattern plus one JDL plus the job state it exposes. The core
knows contracts only through this protocol: how to read a JDL document, what to
offer for it, how to run it, what to show of it, what destroying it releases, and
whether it is isolated (pattern §2.4). Contracts are installed as entry points in
the ``wsrf_uws.contracts`` group and built by :mod:`wsrf_uws.core.registry`, each with
its :class:`ContractEnvironment`: its own validated settings, the service's folders, its
public URL and its clock. ``docs/writing-a-contract.md`` is the guide.

``run`` executes in a worker process, so a contract instance, and the description
``read`` returns, must be picklable: define contracts at module level and keep their
attributes plain data (open connections and indexes with :meth:`Contract.per_process`).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, cast

from lxml import etree

from ..wire.elements import local_name, source_line
from .clock import Clock, SystemClock
from .errors import InvalidJobDescriptionError
from .jobfiles import JobFiles
from .model import Job, ProgressStep, Quote, Result
from .xmldoc import load_schema, parse_document, validate

_R = TypeVar("_R")

#: A WSGI application (PEP 3333): what a contract's own HTTP routes are.
WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: The largest request body a route accepts, from the request's method and path (None:
#: no limit of the route's own).
BodyLimit = Callable[[str, str], int | None]

#: Compiles schema files (namespace → file) together with the service's published schemas
#: (the core's, WS-Addressing, WS-RF...), which they may import by namespace.
SchemaCompiler = Callable[[dict[str, Path]], etree.XMLSchema]


@dataclass(frozen=True)
class ContractEnvironment:
    """What the service gives a contract when it builds it; nothing is set later.

    Picklable (it travels with the contract to each worker process). ``settings`` is the
    contract's own section of the service settings (``[name]`` in the TOML file,
    ``WSRF_UWS_NAME__FIELD`` in the environment), validated against the contract's
    :attr:`Contract.settings_model`; None for a contract without one. ``public_url`` is
    the base URL clients reach the service at, without a trailing slash. ``clock`` is the
    service's clock (in a worker, a copy). ``authority`` is the IVOA naming authority of
    the identifiers the service mints; ``max_lifetime`` the longest lifetime the service
    gives a resource (None: not capped); ``allow_anonymous`` whether callers without
    credentials are served. ``compile_schema`` compiles the contract's schema with the
    published ones it imports (None: the schema file alone, its imports resolved beside
    it, as for the schemas shipped in the project's ``schemas/`` folder).
    """

    settings: Any = None
    data_dir: Path = Path("var")
    jobs_dir: Path = Path("var/jobs")
    public_url: str = "http://127.0.0.1:8080"
    clock: Clock = field(default_factory=SystemClock)
    authority: str = "wsrf-uws.invalid"
    max_lifetime: timedelta | None = None
    allow_anonymous: bool = True
    compile_schema: SchemaCompiler | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))


class ContractSettingsError(ValueError):
    """A contract's settings section is not valid; the message names the fields."""


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
    #: What :meth:`Contract.prepare_run` returned in this process before the job arrived
    #: (the job runs in a prepared spare process), or None: prepare it yourself.
    prepared: Any

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


class JobHandle(Protocol):
    """What an extra operation sees and may change of the one job it was called on.

    Handed to :attr:`ExtraOperation.handler` in the service process, for a job the caller
    owns; the operation reaches nothing else of the service.
    """

    @property
    def job(self) -> Job:
        """The job as recorded when the operation was called (its ``jdl_state`` included)."""
        ...

    @property
    def folder(self) -> Path:
        """The job's folder (it exists once the job has run)."""
        ...

    def file(self, relative: str) -> Path:
        """A path inside the job's folder; refuses one that would leave it (ValueError)."""
        ...

    def set_state(self, state: dict[str, Any]) -> Job:
        """Replace the job's contract state with ``state`` (JSON-serializable), durably.

        Returns the job as recorded now; raises ResourceUnknownError if it was
        destroyed meanwhile.
        """
        ...


@dataclass(frozen=True)
class ExtraOperation:
    """An operation a contract adds to the pattern's own (such as ``exposeRows``).

    ``handler(job, request)`` receives a :class:`JobHandle` on the job the request names
    (already checked to belong to the caller) and the request body element, which the
    service has validated against the contract's schema; it returns the response body
    element and runs in the service process. A :class:`~wsrf_uws.core.errors.UwsError`
    it raises becomes the matching SOAP fault.
    """

    name: str
    handler: Callable[[JobHandle, etree._Element], etree._Element]
    doc: str = ""


class Authenticate(Protocol):
    """Who is calling: the owner name for a request, or raise NotAuthenticatedError."""

    def __call__(self, *, headers: list[etree._Element], environ: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class WebRoute:
    """An HTTP application a contract serves beside its SOAP endpoint (:meth:`Contract.web_routes`).

    Without limits of its own, every request to the route is held to the service's
    ``max_request_bytes``, and a larger one gets HTTP 413 from the service before its
    body is read. ``max_body_bytes`` raises that bound for the route; ``body_limit``, if
    given, names each request's own limit from its method and path (never more than
    ``max_body_bytes``), and the application then answers an oversized request itself.
    ``wsrf-uws serve`` applies the limit as the request arrives, so a body beyond it is
    not even received.
    """

    application: WsgiApplication
    max_body_bytes: int | None = None
    body_limit: BodyLimit | None = None


@dataclass(frozen=True)
class CliCommand:
    """A ``wsrf-uws`` subcommand a contract adds (see :meth:`Contract.cli_commands`).

    ``arguments(parser)`` declares its options on its :mod:`argparse` parser (the
    service's ``--config`` and ``--data`` are already there); ``run(args, environment)``
    does the work with the parsed arguments and the contract's environment (its
    validated settings included) and returns the exit status.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace, ContractEnvironment], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


class Contract:
    """Base class of every contract; subclasses fill in the class attributes and ``run``.

    :meth:`read` checks the root element and validates it against ``schema`` before
    calling :meth:`describe`, so a subclass only turns a valid element into its own
    description object.
    """

    #: Short name (letters, digits, ``_``), used in endpoints (``/uws/{name}``), the store
    #: and the settings (``[name]``, ``WSRF_UWS_NAME__FIELD``).
    name: str = ""
    #: Namespace of the JDL and of the contract's state elements.
    namespace: str = ""
    #: Local name of the JDL root element, in ``namespace``.
    jdl_element: str = ""
    #: The XSD declaring the JDL, the state, the resource-property document and the
    #: operation wrappers (mandatory: the registry refuses a contract without one).
    schema_path: Path | None = None
    #: Whether a job may be re-run automatically after a restart (pattern §2.4).
    isolated: bool = True
    #: Local name (in ``namespace``) of the element :meth:`state_element` returns, which
    #: is also the contract's own resource property; None if the contract has none.
    state_name: str | None = None
    #: A folder of sample input files the service publishes at ``/demo/{name}/{file}``
    #: for examples and demonstrations, or None.
    demo_data: Path | None = None
    #: The pydantic model of the contract's settings section, or None if it has none.
    settings_model: type[Any] | None = None
    #: Modules the contract's jobs import as they run, beyond the contract's own module
    #: (``"reproject"``, ``"duckdb"``): imported once in the warm parent its job
    #: processes are forked from, so a job starts without importing them. Import only:
    #: a module that starts a thread or opens a file when imported is not preloaded.
    preload: tuple[str, ...] = ()

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        environment = environment if environment is not None else ContractEnvironment()
        model = self.settings_model
        if model is not None:
            if environment.settings is None:
                environment = replace(environment, settings=model())
            elif not isinstance(environment.settings, model):
                raise TypeError(
                    f"contract {self.name!r} takes settings of type {model.__name__}, "
                    f"not {type(environment.settings).__name__}"
                )
        #: What the service gave this contract.
        self.environment = environment

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # Resources opened in this process (connections, open files, the compiled schema)
        # stay here: a worker opens its own (see per_process).
        state.pop("_resources", None)
        state.pop("_resources_lock", None)
        return state

    # -- what the service gives ----------------------------------------------------------

    @property
    def settings(self) -> Any:
        """The contract's own validated settings (an instance of :attr:`settings_model`)."""
        return self.environment.settings

    @property
    def data_dir(self) -> Path:
        """The service's data folder, where a contract keeps files of its own."""
        return self.environment.data_dir

    @property
    def public_url(self) -> str:
        """The base URL clients reach the service at (no trailing slash)."""
        return self.environment.public_url

    @property
    def clock(self) -> Clock:
        """The service's clock."""
        return self.environment.clock

    def job_folder(self, resource_id: str) -> Path:
        """The folder of a job's files, for use in the service process (a run has
        ``JobContext.workdir``), for instance to render a state from files there."""
        jobs_dir = self.environment.jobs_dir
        return self.per_process("job files", lambda: JobFiles(jobs_dir)).folder(resource_id)

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

    @property
    def schema(self) -> etree.XMLSchema:
        """The compiled XSD (with the service's published schemas it may import).

        Compiled once per process, by the first caller: request threads reading their
        first jobs at once would otherwise each compile it (compilations themselves are
        serialised by :func:`wsrf_uws.published.compile_schemas`).
        """
        return self.per_process("compiled schema", self._compile_schema)

    def _compile_schema(self) -> etree.XMLSchema:
        if self.schema_path is None:
            raise TypeError(f"contract {self.name!r} declares no schema_path")
        compile_schema = self.environment.compile_schema
        if compile_schema is None:
            return load_schema(self.schema_path)
        return compile_schema({self.namespace: self.schema_path})

    @property
    def jdl_qname(self) -> str:
        """``{namespace}jdl_element``."""
        return f"{{{self.namespace}}}{self.jdl_element}"

    # -- reading a job description ---------------------------------------------------------

    def parse(self, document: bytes) -> Any:
        """Parse a JDL document (hardened parser), then :meth:`read` it; raises on any problem."""
        return self.read(parse_document(document))

    def read(self, root: etree._Element) -> Any:
        """The description of an already-parsed JDL element: checks its name, validates it
        against :attr:`schema`, then :meth:`describe`; raises
        :class:`~wsrf_uws.core.errors.InvalidJobDescriptionError` on any problem.

        Called once per job, at createJob, with the element the binding parsed; the
        description is kept with the job and handed to :meth:`run` (so it must pickle).
        """
        if local_name(root) != self.jdl_qname:
            raise InvalidJobDescriptionError(
                f"the root element is {local_name(root)}, contract {self.name!r} expects "
                f"{self.jdl_qname}",
                line=source_line(root),
            )
        validate(root, self.schema)
        return self.describe(root)

    def describe(self, root: etree._Element) -> Any:
        """Build the description from a valid root element (override; default: the element)."""
        return root

    # -- the job's life ------------------------------------------------------------------

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

    def prepare_run(self) -> Any:
        """Work a job process may do before its job is known; the run gets the result as
        ``context.prepared``. None (the default): nothing to prepare.

        Why: a contract whose runs all begin alike (open a database engine, read its
        metadata) can take that off the job's latency. The local executor then keeps one
        *spare* process per contract, forked from the warm parent ahead of the next job,
        which calls this under the job's limits (its niceness, its own process group, its
        address-space limit) and then waits for its job. A job may still run without it
        (no spare was ready, a cold start, another executor): ``run`` must work with
        ``context.prepared`` None.

        May: open read-only resources that need no job (an engine, a catalogue) and
        return them (what has a ``close()`` is closed once the job's outcome is
        reported); take tens of milliseconds. May not: touch a job's folder or the
        store, write anything shared, hold a lock others wait for, or keep what a job
        could change for the next one (each spare serves one job and ends with it). An
        exception is reported once in the service's log and the contract's jobs then
        start without preparing.
        """
        return None

    def rehearse_run(self, prepared: Any) -> None:
        """Run once through what a run does, on work of the contract's own, in a spare
        that has prepared (``prepared`` is what :meth:`prepare_run` returned) and whose
        job has not come yet. Nothing (the default): no rehearsal.

        Why: a spare is forked from its warm parent, and each page of the parent's
        memory it first writes (a Python object's reference count is a write) costs it a
        page fault and a copy. A rehearsal takes those faults before the job comes:
        measured for ``adql``, a tiny query's run fell from 11 to 7 ms of processor time.
        A spare whose job is already waiting skips its rehearsal; a job that comes during
        it waits for its end (keep it to a few milliseconds).

        Same rules as :meth:`prepare_run`: no job's folder (write in a temporary folder
        of the rehearsal's own, and remove it), no store, nothing shared; an exception
        is reported once in the service's log and the contract's jobs then start
        without preparing.
        """

    @property
    def prepares_runs(self) -> bool:
        """Whether the contract has a :meth:`prepare_run` of its own (its jobs get spares)."""
        return type(self).prepare_run is not Contract.prepare_run

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

    # -- hooks ---------------------------------------------------------------------------

    def extra_operations(self) -> Mapping[str, ExtraOperation]:
        """Operations beyond the pattern's, by name."""
        return {}

    def web_routes(self, *, authenticate: Authenticate) -> Mapping[str, WebRoute]:
        """HTTP applications the contract serves beside its SOAP endpoint, by path prefix.

        A request whose path is a prefix (``"/files"``) or lies below it reaches that
        application unchanged. ``authenticate(headers=[], environ=environ)`` names the
        caller from HTTP Basic as the SOAP endpoint would, or raises
        :class:`~wsrf_uws.core.errors.NotAuthenticatedError`. Called once, in the service
        process, when the server is built.
        """
        return {}

    @classmethod
    def cli_commands(cls) -> Sequence[CliCommand]:
        """``wsrf-uws`` subcommands the contract adds (a catalogue builder, a lister...)."""
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.namespace}>"
