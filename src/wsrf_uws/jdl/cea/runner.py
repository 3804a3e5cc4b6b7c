"""Running one CEA job inside its worker process: fetch, run, collect, deliver.

The three steps are the job's progress steps. Inputs are fetched or written into
the job's folder; the application runs in the sandbox with its argument vector built
here from the description (no shell ever sees a value); its outputs become in-line
values or results; outputs with a destination are copied there last. The state is
reported after each step, so a client polling the job sees its parameter list fill in.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ...core.contract import JobContext
from ...core.errors import JobFailure
from ...core.model import Result
from ...core.progress import bounded_fraction, steps_in_order
from ...core.sizes import format_bytes
from .application import STDERR_FILE, STDOUT_FILE, InputParameter, Storage, SwitchStyle
from .jdl import CeaJob, InputValue
from .sandbox import Exit, Limits, run_application, scrubbed_environment
from .state import CeaState, ParameterEntry
from .transfer import TransferError, TransferPolicy, deliver, fetch
from .values import check_data, check_positional, check_value

log = logging.getLogger(__name__)

#: How much of a remote scalar value (text, number...) is fetched at most.
_SCALAR_BYTES = 65536
#: Lines of standard error quoted in a failure message.
_STDERR_LINES = 5
# Characters XML 1.0 cannot carry: such an output stays a file instead of going in-line.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Shares of the fraction complete: fetching, running, delivering.
_FETCHED, _RAN = 0.1, 0.9
# The step skipped when no output has a destination (the index in ApplicationRun.labels).
_DELIVER_STEP = 2


@dataclass(frozen=True)
class RunPolicy:
    """What the service allows a run: limits, transfer policies and sizes."""

    max_cpu_seconds: int
    max_memory_bytes: int
    max_file_bytes: int
    max_input_bytes: int
    inline_bytes: int
    transfer_timeout: float
    fetch: TransferPolicy
    deliver: TransferPolicy
    #: Processes of a run at once (None: no limit).
    max_processes: int | None = None
    #: Bytes of standard output, and of standard error, of a run (None: no limit).
    max_output_bytes: int | None = None
    #: The cgroup folder under which each run gets its own (None: no cgroups).
    process_cgroup: Path | None = None


class ApplicationRun:
    """One run of a job's application, reporting to ``context``."""

    def __init__(self, job: CeaJob, context: JobContext, policy: RunPolicy) -> None:
        self.job = job
        self.context = context
        self.policy = policy
        self.application = job.application
        self.workdir = context.workdir
        self.state = CeaState.from_dict(context.jdl_state)
        self.state.exit_status = None  # a re-run after a restart starts afresh
        self.labels = ("fetch inputs", f"run {self.application.name}", "deliver outputs")

    # -- the three steps ------------------------------------------------------------------

    def run(self) -> None:
        """Do the job; raises :class:`JobFailure` with a precise message when it fails."""
        self._progress(0.0, active=0)
        arguments = self._prepare_inputs()
        self._publish()
        self._progress(_FETCHED, active=1)
        self._execute(arguments)
        self._collect_outputs()
        self._publish()
        if self.job.destinations:
            self._progress(_RAN, active=2)
            self._deliver_outputs()
            self._publish()
        self._progress(1.0, active=3, skipped_delivery=not self.job.destinations)

    def _prepare_inputs(self) -> dict[str, list[str]]:
        """Fetch or write every input; returns the command-line values of each input."""
        values: dict[str, list[str]] = {}
        for index, value in enumerate(self.job.inputs):
            parameter = self.application.input(value.name)
            assert parameter is not None
            self._progress(
                _FETCHED * index / max(1, len(self.job.inputs)),
                active=0,
                detail=f"input {index + 1} of {len(self.job.inputs)}: {value.name}",
            )
            try:
                argument = self._prepare(parameter, value, self.state.inputs[index])
            except (TransferError, ValueError, UnicodeDecodeError) as exc:
                self._log_detail(exc, f"input {value.name!r}")
                raise JobFailure(f"input {value.name!r}: {exc}") from None
            if argument is not None:
                values.setdefault(value.name, []).append(argument)
        return values

    def _prepare(
        self, parameter: InputParameter, value: InputValue, entry: ParameterEntry
    ) -> str | None:
        file_name = _input_file(parameter, value)
        path = self.workdir / file_name
        if value.uri is not None:
            limit = self.policy.max_input_bytes
            if not parameter.passed_as_file:
                limit = min(limit, _SCALAR_BYTES)
            fetch(
                value.uri,
                path,
                policy=self.policy.fetch,
                max_bytes=limit,
                timeout=self.policy.transfer_timeout,
            )
            if parameter.type.is_data:
                check_data(parameter, path.read_bytes())
        elif value.data is not None:
            path.write_bytes(value.data)
        if parameter.passed_as_file:
            if value.text is not None:
                path.write_text(value.text, encoding="utf-8")
            argument = file_name
        else:
            text = value.text
            if text is None:
                text = check_value(parameter, path.read_text(encoding="utf-8"))
                check_positional(parameter, text)
            argument = text
        inline = value.storage is Storage.INLINE
        if inline and parameter.passed_as_file and entry.value is None:
            text = self._inline_text(path)
            if text is None:
                inline = False
                entry.note = "kept as a file: too large for the job state, or not text"
            else:
                entry.value = text
        elif inline and entry.value is None:
            entry.value = argument
        if not inline:
            if not path.exists():
                path.write_text(argument, encoding="utf-8")
            self.context.add_result(Result(file_name, file_name, parameter.type.mime_type))
            entry.result = file_name
        if parameter.command_line.style is SwitchStyle.FLAG:
            return None if argument == "false" else ""
        return argument

    def _execute(self, values: dict[str, list[str]]) -> None:
        argv = self.command_line(values)
        limits = self._limits()
        progress_file = self.application.progress_file
        if progress_file is not None:
            (self.workdir / progress_file).unlink(missing_ok=True)

        def report(fraction: float, message: str | None) -> None:
            share = _FETCHED + (_RAN - _FETCHED) * fraction
            self._progress(share, active=1, detail=message)

        try:
            exit_status = run_application(
                argv,
                cwd=self.workdir,
                env=scrubbed_environment(self.workdir, dict(self.application.environment)),
                limits=limits,
                stdout=self.workdir / STDOUT_FILE,
                stderr=self.workdir / STDERR_FILE,
                progress_file=None if progress_file is None else self.workdir / progress_file,
                on_progress=report,
                process_cgroup=self.policy.process_cgroup,
            )
        finally:
            for name in (STDOUT_FILE, STDERR_FILE):
                if (self.workdir / name).is_file():
                    self.context.add_result(Result(name, name, "text/plain"))
        if exit_status.returncode is not None:
            self.state.exit_status = exit_status.returncode  # negative: killed by a signal
        self._publish()
        if exit_status.returncode not in self.application.success_codes or exit_status.stopped:
            raise JobFailure(self._failure(exit_status))

    def _collect_outputs(self) -> None:
        for entry, request in zip(self.state.outputs, self.job.outputs, strict=True):
            parameter = self.application.output(request.name)
            assert parameter is not None
            file_name = parameter.source_file
            path = self.workdir / file_name
            if not path.is_file():
                if parameter.min_occurs > 0:
                    raise JobFailure(
                        f"{self.application.name} did not write its output "
                        f"{request.name!r} ({file_name})"
                    )
                entry.note = "the application did not produce this output"
                continue
            inline = self._inline_text(path) if request.storage is Storage.INLINE else None
            if inline is not None:
                entry.value = inline
                continue
            if request.storage is Storage.INLINE:
                entry.note = (
                    f"kept as a file: {format_bytes(path.stat().st_size)} of output is more "
                    f"than the in-line limit of {format_bytes(self.policy.inline_bytes)}, "
                    "or is not text"
                )
            self.context.add_result(Result(file_name, file_name, parameter.type.mime_type))
            entry.result = file_name

    def _deliver_outputs(self) -> None:
        destinations = self.job.destinations
        for index, request in enumerate(destinations):
            entry = next(e for e in self.state.outputs if e.name == request.name)
            parameter = self.application.output(request.name)
            assert parameter is not None
            assert request.destination is not None
            self._progress(
                _RAN + (1 - _RAN) * index / len(destinations),
                active=2,
                detail=f"{request.name} to {request.destination}",
            )
            if entry.note is not None and entry.value is None and entry.result is None:
                continue  # an optional output that was not produced
            try:
                deliver(
                    self.workdir / parameter.source_file,
                    request.destination,
                    policy=self.policy.deliver,
                    timeout=self.policy.transfer_timeout,
                    content_type=parameter.type.mime_type,
                )
            except TransferError as exc:
                self._log_detail(exc, f"output {request.name!r}")
                raise JobFailure(f"output {request.name!r} was not delivered: {exc}") from None
            entry.delivered = True
            self._publish()

    # -- pieces ------------------------------------------------------------------------------

    def command_line(self, values: dict[str, list[str]]) -> list[str]:
        """The argument vector: executable, fixed arguments, switches, then positions."""
        argv = [str(self.application.executable), *self.application.arguments]
        positional: list[tuple[int, list[str]]] = []
        for parameter in self.application.inputs:
            line = parameter.command_line
            for value in values.get(parameter.name, []):
                if line.position is not None:
                    positional.append((line.position, [value]))
                elif line.style is SwitchStyle.FLAG:
                    argv.append(line.switch or "")
                else:
                    argv.extend(line.arguments(value))
        for output in self.application.outputs:
            if output.command_line is None or output.file is None:
                continue
            if output.command_line.position is not None:
                positional.append((output.command_line.position, [output.file]))
            else:
                argv.extend(output.command_line.arguments(output.file))
        for _, arguments in sorted(positional, key=lambda item: item[0]):
            argv.extend(arguments)
        return argv

    def _limits(self) -> Limits:
        own = self.application.limits

        def capped(value: int | None, maximum: int) -> int:
            return maximum if value is None else min(value, maximum)

        return Limits(
            cpu_seconds=capped(own.cpu_seconds, self.policy.max_cpu_seconds),
            memory_bytes=capped(own.memory_bytes, self.policy.max_memory_bytes),
            file_bytes=capped(own.file_bytes, self.policy.max_file_bytes),
            processes=self.policy.max_processes,
            output_bytes=self.policy.max_output_bytes,
        )

    def _inline_text(self, path: Path) -> str | None:
        if path.stat().st_size > self.policy.inline_bytes:
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return None
        return None if _NOT_XML.search(text) else text

    def _failure(self, exit_status: Exit) -> str:
        message = f"{self.application.name} {exit_status.explain()}"
        try:
            lines = (self.workdir / STDERR_FILE).read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        if lines:
            message += "; standard error ends: " + " | ".join(lines[-_STDERR_LINES:])
        return message

    def _log_detail(self, exc: Exception, what: str) -> None:
        """Log the cause a transfer error keeps from the client (see :mod:`.transfer`)."""
        detail = exc.detail if isinstance(exc, TransferError) else None
        if detail:
            log.warning("cea job %s: %s: %s", self.context.resource_id, what, detail)

    def _publish(self) -> None:
        self.context.set_state(self.state.to_dict())

    def _progress(
        self,
        fraction: float,
        *,
        active: int,
        detail: str | None = None,
        skipped_delivery: bool = False,
    ) -> None:
        steps = steps_in_order(
            self.labels,
            active=active,
            detail=detail,
            skipped=(_DELIVER_STEP,) if skipped_delivery else (),
        )
        self.context.progress(bounded_fraction(fraction), steps=steps)


def _input_file(parameter: InputParameter, value: InputValue) -> str:
    """The file of one input value in the job's folder (``in-{name}[-{n}]{suffix}``)."""
    occurrence = "" if parameter.max_occurs == 1 else f"-{value.occurrence}"
    return f"in-{parameter.name}{occurrence}{parameter.type.suffix}"
