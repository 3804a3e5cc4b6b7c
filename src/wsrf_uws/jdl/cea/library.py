"""The application library: a folder of application descriptions, one XML file each.

A provider adds an application by dropping a description (``cea:application``,
declared in ``schemas/cea.xsd``) into the library folder. Each file is validated
against the schema, then checked for what a schema cannot say (unique names and
positions, a usable default, a resolvable executable). A file that fails is skipped
and reported in :attr:`Library.problems`, so one bad description does not take the
other applications down; ``wsrf-uws applications`` shows the problems to the provider.
A ``*.cwl`` file in the folder is a CWL ``CommandLineTool``, converted by :mod:`.cwl`
(with the optional cwl-utils) and checked in the same way.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path

from lxml import etree

from ...core.errors import InvalidJobDescriptionError
from ...core.xmldoc import parse_document, validate
from ...published import compile_schemas, schema_path
from ...wire.elements import source_line
from ...wire.namespaces import q
from .application import (
    STDERR_FILE,
    STDOUT_FILE,
    Application,
    CommandLine,
    Estimate,
    InputParameter,
    Limits,
    OutputParameter,
    Parameter,
    ParameterType,
    SwitchStyle,
)
from .values import check_value

NAMESPACE = "urn:wsrf-uws:cea:v1"
_NS = {"cea": NAMESPACE}

#: The demonstration library shipped with the package.
DEMO_LIBRARY = Path(__file__).resolve().parent / "demo" / "applications"

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?")

log = logging.getLogger(__name__)


@cache
def cea_schema() -> etree.XMLSchema:
    """The compiled ``schemas/cea.xsd`` (application descriptions and job descriptions)."""
    return compile_schemas({NAMESPACE: schema_path("cea.xsd")})


class DescriptionError(ValueError):
    """An application description is unusable; the message names the file and the line."""


@dataclass(frozen=True)
class Library:
    """The applications a service offers, by name, and the descriptions it had to skip."""

    applications: Mapping[str, Application] = field(default_factory=dict)
    #: One line per skipped description: file and reason.
    problems: tuple[str, ...] = ()

    def get(self, name: str) -> Application | None:
        """The application called ``name``, or None."""
        return self.applications.get(name)

    def names(self) -> list[str]:
        """The application names, sorted."""
        return sorted(self.applications)

    @classmethod
    def load(cls, folder: Path, *, search_path: Sequence[Path] = ()) -> Library:
        """Read every ``*.xml`` description in ``folder`` (not recursively), then every ``*.cwl``.

        A CWL description named like an XML one is skipped as a duplicate (a problem).
        Executables given by name are looked up next to the running Python interpreter
        (where console scripts of installed packages live), then in ``search_path``.
        """
        from .cwl import read_cwl_tool  # here: .cwl imports this module

        if not folder.is_dir():
            raise DescriptionError(f"the application library {folder} is not a folder")
        applications: dict[str, Application] = {}
        problems: list[str] = []
        for path in [*sorted(folder.glob("*.xml")), *sorted(folder.glob("*.cwl"))]:
            read = read_cwl_tool if path.suffix == ".cwl" else read_application
            try:
                application = read(path, search_path=search_path)
            except DescriptionError as exc:
                problems.append(str(exc))
                log.warning("application description skipped: %s", exc)
                continue
            if application.name in applications:
                other = applications[application.name].source
                problems.append(f"{path}: application {application.name!r} is also in {other}")
                continue
            applications[application.name] = application
        return cls(applications, tuple(problems))


def read_application(path: Path, *, search_path: Sequence[Path] = ()) -> Application:
    """Read and check one description; raises :class:`DescriptionError`."""
    try:
        root = parse_document(path.read_bytes())
        if root.tag != q(NAMESPACE, "application"):
            raise InvalidJobDescriptionError(
                f"the root element is {root.tag}, not cea:application", line=source_line(root)
            )
        validate(root, cea_schema())
    except InvalidJobDescriptionError as exc:
        line = f":{exc.line}" if exc.line else ""
        raise DescriptionError(f"{path}{line}: {exc.reason}") from None
    except OSError as exc:
        raise DescriptionError(f"{path}: {exc.strerror}") from None
    try:
        return _application(root, path, search_path)
    except ValueError as exc:
        raise DescriptionError(f"{path}: {exc}") from None


def resolve_executable(name: str, search_path: Iterable[Path] = ()) -> Path:
    """The absolute path of executable ``name``; raises :class:`ValueError`."""
    candidate = Path(name)
    if candidate.is_absolute():
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            raise ValueError(f"executable {name} does not exist or is not executable")
        return candidate
    if "/" in name:
        raise ValueError(f"executable {name!r} must be an absolute path or a plain name")
    folders = [Path(sys.executable).parent, *search_path]
    found = shutil.which(name, path=os.pathsep.join(str(f) for f in folders))
    if found is None:
        where = ", ".join(str(f) for f in folders)
        raise ValueError(f"executable {name!r} was not found in {where}")
    return Path(found).absolute()


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(f"cea:{name}", _NS)
    return None if found is None else (found.text or "").strip()


def _application(root: etree._Element, path: Path, search_path: Sequence[Path]) -> Application:
    name = root.get("name", "")
    inputs = tuple(_input(e) for e in root.findall("cea:input", _NS))
    outputs = tuple(_output(e) for e in root.findall("cea:output", _NS))
    limits = root.find("cea:limits", _NS)
    estimate = root.find("cea:estimatedDuration", _NS)
    progress = root.find("cea:progress", _NS)
    codes = _text(root, "successCodes")
    application = Application(
        name=name,
        title=_text(root, "title") or name,
        description=_text(root, "description") or "",
        executable=resolve_executable(_text(root, "executable") or "", search_path),
        arguments=tuple((e.text or "") for e in root.findall("cea:argument", _NS)),
        environment=tuple(
            (e.get("name", ""), e.get("value", "")) for e in root.findall("cea:environment", _NS)
        ),
        limits=Limits() if limits is None else _limits(limits),
        estimate=None if estimate is None else _estimate(estimate),
        success_codes=frozenset(int(c) for c in codes.split()) if codes else frozenset({0}),
        progress_file=None if progress is None else progress.get("file"),
        inputs=inputs,
        outputs=outputs,
        source=str(path),
    )
    _check(application)
    return application


def _common(element: etree._Element) -> dict[str, object]:
    max_occurs = element.get("maxOccurs", "1")
    return {
        "name": element.get("name", ""),
        "type": ParameterType(element.get("type", "")),
        "title": _text(element, "title") or "",
        "description": _text(element, "description") or "",
        "ucd": _text(element, "ucd"),
        "unit": _text(element, "unit"),
        "min_occurs": int(element.get("minOccurs", "1")),
        "max_occurs": None if max_occurs == "unbounded" else int(max_occurs),
    }


def _command_line(element: etree._Element) -> CommandLine | None:
    switch = element.find("cea:switch", _NS)
    if switch is not None:
        return CommandLine(
            switch=(switch.text or "").strip(), style=SwitchStyle(switch.get("style", "separate"))
        )
    position = _text(element, "position")
    return None if position is None else CommandLine(position=int(position))


def _number(element: etree._Element, name: str) -> float | None:
    text = _text(element, name)
    return None if text is None else float(text)


def _input(element: etree._Element) -> InputParameter:
    length = _text(element, "maxLength")
    return InputParameter(
        **_common(element),  # type: ignore[arg-type]
        command_line=_command_line(element) or CommandLine(),
        default=_text(element, "default"),
        minimum=_number(element, "min"),
        maximum=_number(element, "max"),
        max_length=None if length is None else int(length),
        pattern=_text(element, "pattern"),
        options=tuple((e.text or "").strip() for e in element.findall("cea:option", _NS)),
        file_ref=element.get("fileRef", "false") in ("true", "1"),
    )


def _output(element: etree._Element) -> OutputParameter:
    return OutputParameter(
        **_common(element),  # type: ignore[arg-type]
        file=element.get("file"),
        stdout=element.get("stdout", "false") in ("true", "1"),
        command_line=_command_line(element),
    )


def _limits(element: etree._Element) -> Limits:
    def number(name: str) -> int | None:
        text = element.get(name)
        return None if text is None else int(text)

    return Limits(
        cpu_seconds=number("cpuSeconds"),
        memory_bytes=number("memoryBytes"),
        file_bytes=number("fileBytes"),
        wall_seconds=number("wallSeconds"),
    )


def _estimate(element: etree._Element) -> Estimate:
    return Estimate(base=parse_duration(element.text or ""), parameter=element.get("parameter"))


def parse_duration(text: str) -> timedelta:
    """An ``xs:duration`` without years or months (``PT2S``, ``P1DT0.5S``) as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"{text!r} is not a duration in days, hours, minutes and seconds")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _check(application: Application) -> None:
    """What the schema cannot say about a description."""
    names: set[str] = set()
    parameters: list[Parameter] = [*application.inputs, *application.outputs]
    for parameter in parameters:
        if parameter.name in names:
            raise ValueError(f"two parameters are named {parameter.name!r}")
        names.add(parameter.name)
        if parameter.max_occurs is not None and parameter.max_occurs < parameter.min_occurs:
            raise ValueError(f"parameter {parameter.name!r}: maxOccurs is below minOccurs")
    positions: dict[int, str] = {}
    for parameter in parameters:
        line = getattr(parameter, "command_line", None)
        if line is None or line.position is None:
            continue
        if line.position in positions:
            raise ValueError(
                f"parameters {positions[line.position]!r} and {parameter.name!r} "
                f"share position {line.position}"
            )
        positions[line.position] = parameter.name
    for item in application.inputs:
        _check_input(item)
    # The runner writes standard output and error to files of its own.
    files: set[str | None] = {STDOUT_FILE, STDERR_FILE}
    for name in (application.progress_file, *(o.file for o in application.outputs)):
        if name is None:
            continue
        if name in files:
            reserved = name in (STDOUT_FILE, STDERR_FILE)
            raise ValueError(
                f"file {name!r} is reserved for the run's standard streams"
                if reserved
                else f"file {name!r} is used twice"
            )
        files.add(name)
    for output in application.outputs:
        if output.stdout == (output.file is not None):
            raise ValueError(f"output {output.name!r} needs exactly one of file= or stdout=")
        if output.stdout and output.command_line is not None:
            raise ValueError(f"output {output.name!r} is standard output; it takes no switch")
        if output.max_occurs != 1:
            raise ValueError(f"output {output.name!r}: an output occurs at most once")
    if sum(o.stdout for o in application.outputs) > 1:
        raise ValueError("only one output can be the standard output")
    estimate = application.estimate
    if estimate is not None and estimate.parameter is not None:
        target = application.input(estimate.parameter)
        if target is None or target.type not in (ParameterType.INTEGER, ParameterType.REAL):
            raise ValueError(
                f"estimatedDuration names {estimate.parameter!r}, which is no numeric input"
            )


def _check_input(item: InputParameter) -> None:
    if item.command_line.style is SwitchStyle.FLAG and item.type is not ParameterType.BOOLEAN:
        raise ValueError(f"input {item.name!r}: only a boolean input can be a flag")
    if item.command_line.style is SwitchStyle.FLAG and item.file_ref:
        raise ValueError(f"input {item.name!r}: a flag cannot be passed as a file")
    if item.pattern is not None:
        try:
            re.compile(item.pattern)
        except re.error as exc:
            raise ValueError(f"input {item.name!r}: its pattern is not valid: {exc}") from None
    if item.default is not None:
        if item.type.is_data:
            raise ValueError(f"input {item.name!r}: a {item.type} input cannot have a default")
        try:
            check_value(item, item.default)
        except ValueError as exc:
            raise ValueError(f"input {item.name!r}: its default is unusable: {exc}") from None
