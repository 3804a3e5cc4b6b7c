"""Reading a ``cea:job`` description against the application it names.

Everything that can be checked without running anything is checked here, at
createJob: the application exists, every parameter is one of its own, occurrences,
types, ranges and options, in-line data, storage choices, and every URI against the
service's transfer policies. A problem raises
:class:`~wsrf_uws.core.errors.InvalidJobDescriptionError` naming the parameter, the
reason and the line, so nothing is created for a job that could not run.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import NoReturn

from lxml import etree

from ...core.errors import InvalidJobDescriptionError
from ...wire.elements import source_line
from .application import (
    Application,
    InputParameter,
    Locality,
    OutputParameter,
    ParameterType,
    Storage,
)
from .library import NAMESPACE, Library
from .transfer import TransferPolicy, TransferRefused
from .values import check_data, check_positional, check_value

_NS = {"cea": NAMESPACE}


@dataclass(frozen=True)
class InputValue:
    """One occurrence of an input, as the job gives it (or as its default)."""

    name: str
    #: 1-based occurrence number among the values of the same input.
    occurrence: int
    locality: Locality
    storage: Storage
    #: The checked value (local scalar), the data (local file value), or the URI (remote).
    text: str | None = None
    data: bytes | None = None
    uri: str | None = None


@dataclass(frozen=True)
class OutputRequest:
    """What the job wants done with one output."""

    name: str
    storage: Storage = Storage.FILE
    destination: str | None = None


@dataclass(frozen=True)
class CeaJob:
    """A checked job: the application and every input value and output request."""

    application: Application
    inputs: tuple[InputValue, ...]
    outputs: tuple[OutputRequest, ...]
    execution_duration: int | None = None

    @property
    def destinations(self) -> tuple[OutputRequest, ...]:
        """The outputs the service must copy elsewhere when the job completes."""
        return tuple(o for o in self.outputs if o.destination is not None)

    def values(self, name: str) -> tuple[InputValue, ...]:
        """The values of input ``name``, in order."""
        return tuple(v for v in self.inputs if v.name == name)

    def output(self, name: str) -> OutputRequest:
        """The request for output ``name`` (every declared output has one)."""
        return next(o for o in self.outputs if o.name == name)


def read_job(
    root: etree._Element,
    *,
    library: Library,
    fetch_policy: TransferPolicy,
    deliver_policy: TransferPolicy,
) -> CeaJob:
    """Check a schema-valid ``cea:job`` element and return the job it describes."""
    name_element = root.find("cea:application", _NS)
    name = "" if name_element is None else (name_element.text or "").strip()
    application = library.get(name)
    if application is None:
        available = ", ".join(library.names()) or "none"
        _refuse(name_element, f"this service has no application {name!r} (it offers: {available})")
    duration = root.findtext("cea:executionDuration", namespaces=_NS)
    return CeaJob(
        application=application,
        inputs=_inputs(root, application, fetch_policy),
        outputs=_outputs(root, application, deliver_policy),
        execution_duration=None if duration is None else int(duration),
    )


def _refuse(element: etree._Element | None, reason: str) -> NoReturn:
    line = None if element is None else source_line(element)
    raise InvalidJobDescriptionError(reason, line=line)


def _inputs(
    root: etree._Element, application: Application, policy: TransferPolicy
) -> tuple[InputValue, ...]:
    given: dict[str, list[etree._Element]] = {}
    for element in root.findall("cea:input", _NS):
        name = element.get("name", "")
        if application.input(name) is None:
            known = ", ".join(p.name for p in application.inputs) or "none"
            _refuse(
                element,
                f"application {application.name!r} has no input {name!r} (its inputs: {known})",
            )
        given.setdefault(name, []).append(element)
    values: list[InputValue] = []
    for parameter in application.inputs:
        elements = given.get(parameter.name, [])
        if parameter.max_occurs is not None and len(elements) > parameter.max_occurs:
            _refuse(
                elements[parameter.max_occurs],
                f"input {parameter.name!r} is given {len(elements)} times; "
                f"it takes at most {parameter.max_occurs}",
            )
        if not elements:
            if parameter.default is not None:
                values.append(_default(parameter))
            elif parameter.min_occurs > 0:
                _refuse(root, f"input {parameter.name!r} is required")
            continue
        if len(elements) < parameter.min_occurs:
            _refuse(
                elements[-1],
                f"input {parameter.name!r} is given {len(elements)} times; "
                f"it takes at least {parameter.min_occurs}",
            )
        for occurrence, element in enumerate(elements, start=1):
            try:
                values.append(_input_value(parameter, occurrence, element, policy))
            except ValueError as exc:
                _refuse(element, f"input {parameter.name!r}: {exc}")
    return tuple(values)


def _default(parameter: InputParameter) -> InputValue:
    assert parameter.default is not None  # the library checked the default
    return InputValue(
        parameter.name,
        1,
        Locality.LOCAL,
        parameter.default_storage,
        text=check_value(parameter, parameter.default),
    )


def _input_value(
    parameter: InputParameter, occurrence: int, element: etree._Element, policy: TransferPolicy
) -> InputValue:
    locality = Locality(element.get("locality", "local"))
    storage = Storage(element.get("storage", parameter.default_storage))
    encoding = element.get("encoding")
    text = element.text or ""
    if storage is Storage.INLINE and parameter.type.is_binary:
        raise ValueError(f"{parameter.type} data cannot be kept in-line; use storage='file'")
    if encoding is not None and not parameter.type.is_data:
        raise ValueError(f"encoding applies to FITS, VOTable and binary data, not {parameter.type}")
    if locality is Locality.REMOTE:
        if encoding is not None:
            raise ValueError("a remote value is a URI; it takes no encoding")
        uri = policy.resolve(text.strip())
        try:
            policy.check(uri)
        except TransferRefused as exc:
            raise ValueError(str(exc)) from None
        return InputValue(parameter.name, occurrence, locality, storage, uri=uri)
    if parameter.type.is_data:
        data = _local_data(parameter, text, encoding)
        check_data(parameter, data)
        if storage is Storage.INLINE:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(
                    "only UTF-8 data can be kept in-line; use storage='file'"
                ) from None
        return InputValue(parameter.name, occurrence, locality, storage, data=data)
    value = check_value(parameter, text)
    check_positional(parameter, value)
    return InputValue(parameter.name, occurrence, locality, storage, text=value)


def _local_data(parameter: InputParameter, text: str, encoding: str | None) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the value is not valid base64") from None
    if parameter.type is ParameterType.VOTABLE:
        return text.encode("utf-8")
    raise ValueError(
        f"{parameter.type} data must be given base64-encoded (encoding='base64') or as a remote URI"
    )


def _outputs(
    root: etree._Element, application: Application, policy: TransferPolicy
) -> tuple[OutputRequest, ...]:
    requests: dict[str, OutputRequest] = {}
    for element in root.findall("cea:output", _NS):
        name = element.get("name", "")
        parameter = application.output(name)
        if parameter is None:
            known = ", ".join(p.name for p in application.outputs) or "none"
            _refuse(
                element,
                f"application {application.name!r} has no output {name!r} (its outputs: {known})",
            )
        if name in requests:
            _refuse(element, f"output {name!r} is named twice")
        try:
            requests[name] = _output_request(parameter, element, policy)
        except ValueError as exc:
            _refuse(element, f"output {name!r}: {exc}")
    return tuple(requests.get(p.name, OutputRequest(p.name)) for p in application.outputs)


def _output_request(
    parameter: OutputParameter, element: etree._Element, policy: TransferPolicy
) -> OutputRequest:
    storage = Storage(element.get("storage", "file"))
    if storage is Storage.INLINE and parameter.type.is_binary:
        raise ValueError(f"{parameter.type} data cannot be kept in-line; use storage='file'")
    destination = element.get("destination")
    if destination is not None:
        destination = destination.strip()
        try:
            policy.check(destination)
        except TransferRefused as exc:
            raise ValueError(str(exc)) from None
    return OutputRequest(parameter.name, storage, destination)
