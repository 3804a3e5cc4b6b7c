"""The contract ``checksum``: digests of texts and of the service's own demo files.

A job names its inputs, each a text given in the JDL or the URL of one of the service's
demonstration files (``{public_url}/demo/checksum/{file}``), and optionally a digest
algorithm. It writes one result, ``checksums.txt``, in the format of ``sha256sum``
(``{digest}  {name}`` a line), reporting progress input by input. Its state shows the
algorithm, how many inputs and bytes it has and has digested, and where the result is.
The extra operation ``verify`` says which inputs of a completed job have a given digest.

Everything a job needs is checked and gathered at createJob (:meth:`describe`), into a
:class:`ChecksumJob` that travels with the job to its worker process.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from wsrf_uws.core.contract import (
    Assessment,
    CliCommand,
    Contract,
    ContractEnvironment,
    ExtraOperation,
    JobContext,
    JobHandle,
)
from wsrf_uws.core.errors import (
    InvalidJobDescriptionError,
    InvalidPhaseError,
    JobFailure,
    QuotaExceededError,
)
from wsrf_uws.core.model import Job, Quote, Result
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.progress import steps_in_order

from .commands import digest_command
from .settings import ChecksumSettings

NAMESPACE = "urn:wsrf-uws:checksum:v1"
#: The result every job writes.
MANIFEST = "checksums.txt"
#: Bytes read at a time from a demo file.
CHUNK = 1 << 16


def q(local: str) -> str:
    """``{NAMESPACE}local``: an element name of this contract."""
    return f"{{{NAMESPACE}}}{local}"


def line_of(element: etree._Element) -> int | None:
    """The line of ``element`` in the request as the client sent it, for a fault to name."""
    line = element.sourceline
    return line if isinstance(line, int) else None


@dataclass(frozen=True)
class ChecksumInput:
    """One input of a job: a text carried in the description, or a demo file by name."""

    name: str
    size: int
    text: bytes | None = None
    demo_file: str | None = None


@dataclass(frozen=True)
class ChecksumJob:
    """What a JDL asks for, checked: plain data, so it pickles (it is kept with the job)."""

    algorithm: str
    inputs: tuple[ChecksumInput, ...]

    @property
    def total_bytes(self) -> int:
        """The bytes the job will digest."""
        return sum(item.size for item in self.inputs)


class ChecksumContract(Contract):
    """Checksums, namespace ``urn:wsrf-uws:checksum:v1``."""

    name = "checksum"
    namespace = NAMESPACE
    jdl_element = "checksums"
    state_name = "state"
    schema_path = Path(__file__).with_name("checksum.xsd")
    demo_data = Path(__file__).with_name("demo")
    # A job only reads and writes into its own folder: safe to run again after a restart.
    isolated = True
    settings_model = ChecksumSettings

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        super().__init__(environment)
        # The same object as self.settings, with its type for the readers of this module.
        self.options: ChecksumSettings = self.settings

    @property
    def demo_url(self) -> str:
        """Where the service publishes this contract's demo files (with a trailing slash)."""
        return f"{self.public_url}/demo/{self.name}/"

    # -- createJob -----------------------------------------------------------------------

    def describe(self, root: etree._Element) -> ChecksumJob:
        """Check what the schema cannot (settings, demo files) and gather the inputs."""
        options = self.options
        algorithm = (root.findtext(q("algorithm")) or options.default_algorithm).strip()
        if algorithm not in options.algorithms:
            raise InvalidJobDescriptionError(
                f"algorithm {algorithm!r} is not offered here; choose one of "
                f"{', '.join(options.algorithms)}",
                line=line_of(root),
            )
        elements = [child for child in root if child.tag in (q("text"), q("url"))]
        if len(elements) > options.max_inputs:
            raise InvalidJobDescriptionError(
                f"the job names {len(elements)} inputs; this service takes at most "
                f"{options.max_inputs}",
                line=line_of(elements[options.max_inputs]),
            )
        inputs: list[ChecksumInput] = []
        for element in elements:
            item = self._text(element) if element.tag == q("text") else self._demo_file(element)
            if item.size > options.max_input_bytes:
                raise InvalidJobDescriptionError(
                    f"input {item.name!r} has {item.size} bytes; this service takes at most "
                    f"{options.max_input_bytes} per input",
                    line=line_of(element),
                )
            if any(known.name == item.name for known in inputs):
                raise InvalidJobDescriptionError(
                    f"two inputs are named {item.name!r}", line=line_of(element)
                )
            inputs.append(item)
        return ChecksumJob(algorithm=algorithm, inputs=tuple(inputs))

    def _text(self, element: etree._Element) -> ChecksumInput:
        data = (element.text or "").encode("utf-8")
        return ChecksumInput(name=element.get("name", ""), size=len(data), text=data)

    def _demo_file(self, element: etree._Element) -> ChecksumInput:
        url = (element.text or "").strip()
        if url.startswith("/demo/"):  # no host: this service's own, wherever it runs
            url = self.public_url.rstrip("/") + url
        if not url.startswith(self.demo_url):
            raise InvalidJobDescriptionError(
                f"{url} is not one of this service's demo files ({self.demo_url}...)",
                line=line_of(element),
            )
        name = unquote(url.removeprefix(self.demo_url))
        folder = self.demo_folder()
        path = folder / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise InvalidJobDescriptionError(
                f"there is no demo file {name!r}; see {self.demo_url}", line=line_of(element)
            )
        return ChecksumInput(name=name, size=path.stat().st_size, demo_file=name)

    def demo_folder(self) -> Path:
        """The folder of the demo files (the class attribute, always set here)."""
        assert self.demo_data is not None
        return self.demo_data

    def assess(self, description: ChecksumJob, *, owner: str) -> Assessment:
        """Quote the job from its size; refuse one beyond ``max_job_bytes``."""
        total = description.total_bytes
        if total > self.options.max_job_bytes:
            raise QuotaExceededError(
                f"the job would digest {total} bytes; this service digests at most "
                f"{self.options.max_job_bytes} in one job"
            )
        seconds = 1 + self.options.seconds_per_megabyte * total / 1e6
        if self.options.read_bytes_per_second:
            seconds += total / self.options.read_bytes_per_second
        return Assessment(
            quote=Quote(duration=timedelta(seconds=seconds), cost={"bytes": float(total)}),
            # Ten times the quote: a job that takes longer is stuck, and is stopped.
            execution_duration=max(10, int(10 * seconds)),
            jdl_state={
                "algorithm": description.algorithm,
                "inputs": len(description.inputs),
                "bytes": total,
                "digested": 0,
            },
        )

    # -- in the worker -------------------------------------------------------------------

    def run(self, description: ChecksumJob, context: JobContext) -> None:
        """Digest every input, reporting progress, then write the manifest."""
        labels = [item.name for item in description.inputs]
        total = max(1, description.total_bytes)
        pace = _Pace(self.options.read_bytes_per_second)
        done = 0
        lines = []
        for index, item in enumerate(description.inputs):
            context.progress(done / total, steps=steps_in_order(labels, active=index))
            digest = hashlib.new(description.algorithm)
            for chunk in self._chunks(item):
                digest.update(chunk)
                done += len(chunk)
                pace.read(len(chunk))
                context.progress(done / total)
            lines.append(f"{digest.hexdigest()}  {item.name}\n")
        # Written last and whole: a run started again after a restart replaces it.
        context.write_result(MANIFEST, "".join(lines).encode(), mime_type="text/plain")
        context.set_state({**context.jdl_state, "digested": len(description.inputs)})
        context.progress(1.0, steps=steps_in_order(labels, active=len(labels)))

    def _chunks(self, item: ChecksumInput) -> Iterator[bytes]:
        """The bytes of an input, a chunk at a time: a demo file never sits in memory whole."""
        if item.text is not None:
            for start in range(0, len(item.text), CHUNK):
                yield item.text[start : start + CHUNK]
            return
        assert item.demo_file is not None
        path = self.demo_folder() / item.demo_file
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
        except FileNotFoundError:
            raise JobFailure(f"the demo file {item.demo_file!r} is no longer there") from None

    # -- what clients see ----------------------------------------------------------------

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        """``checksum:state``: the algorithm, the sizes, and the manifest's URL once written."""
        state = etree.Element(q("state"), nsmap={"checksum": NAMESPACE})
        for field in ("algorithm", "inputs", "bytes", "digested"):
            etree.SubElement(state, q(field)).text = str(job.jdl_state.get(field, ""))
        manifest = next((result for result in job.results if result.name == MANIFEST), None)
        if manifest is not None:
            etree.SubElement(state, q("manifest")).text = result_url(manifest)
        return state

    def extra_operations(self) -> Mapping[str, ExtraOperation]:
        """``verify``: which inputs of a completed job have a given digest."""
        return {
            "verify": ExtraOperation(
                "verify", verify, "The inputs of a completed job whose digest is the one given."
            )
        }

    @classmethod
    def cli_commands(cls) -> Sequence[CliCommand]:
        """``wsrf-uws checksum-digest FILE``: the digest of a local file, with the limits."""
        return (digest_command(),)


class _Pace:
    """Holds reading to ``bytes_per_second`` by sleeping when ahead of it (0: no limit)."""

    def __init__(self, bytes_per_second: int) -> None:
        self.bytes_per_second = bytes_per_second
        self.started = time.monotonic()
        self.bytes = 0

    def read(self, size: int) -> None:
        """Count ``size`` bytes read; wait until reading them was allowed."""
        if not self.bytes_per_second:
            return
        self.bytes += size
        ahead = self.started + self.bytes / self.bytes_per_second - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def verify(handle: JobHandle, request: etree._Element) -> etree._Element:
    """The extra operation ``verify``: the names of the inputs whose digest is ``digest``."""
    job = handle.job
    if job.phase is not Phase.COMPLETED:
        raise InvalidPhaseError("verify", str(job.phase))
    wanted = (request.findtext(q("digest")) or "").strip().lower()
    response = etree.Element(q("verifyResponse"), nsmap={"checksum": NAMESPACE})
    for line in handle.file(MANIFEST).read_text().splitlines():
        digest, _, name = line.partition("  ")
        if digest == wanted:
            etree.SubElement(response, q("match")).text = name
    handle.set_state({**job.jdl_state, "verified": int(job.jdl_state.get("verified", 0)) + 1})
    return response
