"""The application model: what a provider says about one command-line application.

It keeps the parameter model of AstroGrid's CEA: an application has typed input and
output parameters, each with a UCD, a unit, a default and occurrences, and a mapping
onto the command line (a switch, a position, or the path of a file holding the value).
Descriptions are read from XML (:mod:`.library`); everything here is plain, immutable
data, so a contract holding a library pickles into worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

#: Where every run's standard output and standard error go (both kept as results).
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"


class ParameterType(StrEnum):
    """The value types of CEA parameters."""

    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"
    TEXT = "text"
    ANY_URI = "anyURI"
    DATE_TIME = "dateTime"
    FITS = "FITS"
    VOTABLE = "VOTable"
    BINARY = "binary"

    @property
    def is_data(self) -> bool:
        """True for types whose values are data files (always passed to the app as files)."""
        return self in (ParameterType.FITS, ParameterType.VOTABLE, ParameterType.BINARY)

    @property
    def is_binary(self) -> bool:
        """True for types whose values may not be text (never stored in-line)."""
        return self in (ParameterType.FITS, ParameterType.BINARY)

    @property
    def mime_type(self) -> str:
        """The media type of a file holding a value of this type."""
        return _MIME_TYPES.get(self, "text/plain")

    @property
    def suffix(self) -> str:
        """The file-name suffix of a file holding a value of this type."""
        return _SUFFIXES.get(self, ".txt")


_MIME_TYPES = {
    ParameterType.FITS: "application/fits",
    ParameterType.VOTABLE: "application/x-votable+xml",
    ParameterType.BINARY: "application/octet-stream",
}
_SUFFIXES = {
    ParameterType.FITS: ".fits",
    ParameterType.VOTABLE: ".vot",
    ParameterType.BINARY: ".bin",
}


class Locality(StrEnum):
    """Where an input value is: in the job description, or behind a URI to fetch."""

    LOCAL = "local"
    REMOTE = "remote"


class Storage(StrEnum):
    """How the service keeps a value: in the job state, or as a file with a URL to it."""

    INLINE = "inline"
    FILE = "file"


class SwitchStyle(StrEnum):
    """How a value follows its switch on the command line."""

    SEPARATE = "separate"  # -k value
    JOINED = "joined"  # --key=value
    FLAG = "flag"  # -c when true, nothing when false


@dataclass(frozen=True)
class CommandLine:
    """Where a parameter goes on the command line: after a switch, or at a position."""

    switch: str | None = None
    style: SwitchStyle = SwitchStyle.SEPARATE
    position: int | None = None

    def arguments(self, value: str) -> list[str]:
        """The arguments for one value (positional values are placed by the caller)."""
        if self.switch is None:
            return [value]
        if self.style is SwitchStyle.JOINED:
            return [f"{self.switch}={value}"]
        return [self.switch, value]


@dataclass(frozen=True)
class Parameter:
    """What inputs and outputs share: name, type, documentation and occurrences."""

    name: str
    type: ParameterType
    title: str = ""
    description: str = ""
    ucd: str | None = None
    unit: str | None = None
    min_occurs: int = 1
    #: None means unbounded.
    max_occurs: int | None = 1


@dataclass(frozen=True)
class InputParameter(Parameter):
    """An input: its constraints and how it reaches the application."""

    command_line: CommandLine = field(default_factory=CommandLine)
    default: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    #: A regular expression the whole value must match.
    pattern: str | None = None
    options: tuple[str, ...] = ()
    #: The application receives the path of a file holding the value.
    file_ref: bool = False

    @property
    def passed_as_file(self) -> bool:
        """Whether the application gets a path rather than the value."""
        return self.file_ref or self.type.is_data

    @property
    def default_storage(self) -> Storage:
        """How the value is kept when the job description does not say."""
        return Storage.FILE if self.passed_as_file else Storage.INLINE


@dataclass(frozen=True)
class OutputParameter(Parameter):
    """An output: the file the application writes, or its standard output."""

    file: str | None = None
    stdout: bool = False
    #: How the application is told the output's path, if it is told at all.
    command_line: CommandLine | None = None

    @property
    def source_file(self) -> str:
        """The file in the working folder that holds the output once the run has ended."""
        if self.stdout:
            return STDOUT_FILE
        assert self.file is not None  # the library refuses an output with neither
        return self.file


@dataclass(frozen=True)
class Limits:
    """An application's own resource limits (None: the service's maximum applies)."""

    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    file_bytes: int | None = None
    wall_seconds: int | None = None


@dataclass(frozen=True)
class Estimate:
    """The estimated run time: ``base``, plus ``base`` per unit of a numeric input."""

    base: timedelta
    parameter: str | None = None


@dataclass(frozen=True)
class Application:
    """One application of the library, with its executable resolved to an absolute path."""

    name: str
    title: str
    executable: Path
    description: str = ""
    arguments: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    limits: Limits = field(default_factory=Limits)
    estimate: Estimate | None = None
    success_codes: frozenset[int] = frozenset({0})
    progress_file: str | None = None
    inputs: tuple[InputParameter, ...] = ()
    outputs: tuple[OutputParameter, ...] = ()
    #: Where the description was read from (for messages).
    source: str = ""

    def input(self, name: str) -> InputParameter | None:
        """The input called ``name``, or None."""
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> OutputParameter | None:
        """The output called ``name``, or None."""
        return next((p for p in self.outputs if p.name == name), None)
