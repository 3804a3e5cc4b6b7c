"""The contract's state: the application and its parameter list (pattern §3.4).

In-line values are recorded in the state itself; file values are files in the job's
folder, and the state names the result through which a copy can be downloaded. The
state (:class:`CeaState`) is kept as JSON in the store (``Job.jdl_state``) and rendered as
``cea:state``, the contract's resource property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from lxml import etree

from ...core.model import Job, Result
from ...wire.namespaces import q
from .jdl import CeaJob
from .library import NAMESPACE


@dataclass
class ParameterEntry:
    """One input value or output of the job, as the state lists it.

    A run fills it in: an in-line ``value``, or the ``result`` through which the file can
    be downloaded, or a ``note`` saying why neither; ``delivered`` once an output with a
    ``destination`` was copied there.
    """

    name: str
    type: str
    storage: str
    #: Inputs only: ``local`` or ``remote``.
    locality: str | None = None
    #: The URI a remote input is fetched from.
    source: str | None = None
    value: str | None = None
    destination: str | None = None
    delivered: bool = False
    result: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form (absent fields left out; ``delivered`` only with a destination)."""
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.locality is not None:
            data["locality"] = self.locality
        data["storage"] = self.storage
        for key in ("source", "value", "destination"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.destination is not None:
            data["delivered"] = self.delivered
        for key in ("result", "note"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParameterEntry:
        """The entry a :meth:`to_dict` form describes."""
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            storage=str(data["storage"]),
            locality=_text(data, "locality"),
            source=_text(data, "source"),
            value=_text(data, "value"),
            destination=_text(data, "destination"),
            delivered=bool(data.get("delivered", False)),
            result=_text(data, "result"),
            note=_text(data, "note"),
        )


@dataclass
class CeaState:
    """The state of a CEA job: the application, its parameter list and, once it ran, its
    exit status (negative: killed by that signal).

    Kept in the store as the JSON of :meth:`to_dict`: ``application``, ``inputs`` and
    ``outputs`` (lists of :meth:`ParameterEntry.to_dict`), and ``exitStatus``.
    """

    application: str
    inputs: list[ParameterEntry] = field(default_factory=list)
    outputs: list[ParameterEntry] = field(default_factory=list)
    exit_status: int | None = None

    @classmethod
    def for_job(cls, job: CeaJob) -> CeaState:
        """The state of a new job: what it was given; in-line local values already in place."""
        parameters = {p.name: p for p in job.application.inputs}
        inputs = []
        for value in job.inputs:
            entry = ParameterEntry(
                name=value.name,
                type=str(parameters[value.name].type),
                locality=str(value.locality),
                storage=str(value.storage),
            )
            if value.uri is not None:
                entry.source = value.uri
            elif value.storage == "inline":
                entry.value = value.text if value.data is None else value.data.decode("utf-8")
            inputs.append(entry)
        outputs = []
        for request in job.outputs:
            parameter = job.application.output(request.name)
            assert parameter is not None  # read_job only accepts declared outputs
            outputs.append(
                ParameterEntry(
                    name=request.name,
                    type=str(parameter.type),
                    storage=str(request.storage),
                    destination=request.destination,
                )
            )
        return cls(application=job.application.name, inputs=inputs, outputs=outputs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form the store keeps."""
        data: dict[str, Any] = {
            "application": self.application,
            "inputs": [entry.to_dict() for entry in self.inputs],
            "outputs": [entry.to_dict() for entry in self.outputs],
        }
        if self.exit_status is not None:
            data["exitStatus"] = self.exit_status
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CeaState:
        """The state a :meth:`to_dict` form (as stored by any version) describes."""
        exit_status = data.get("exitStatus")
        return cls(
            application=str(data.get("application", "")),
            inputs=[ParameterEntry.from_dict(entry) for entry in data.get("inputs", ())],
            outputs=[ParameterEntry.from_dict(entry) for entry in data.get("outputs", ())],
            exit_status=None if exit_status is None else int(exit_status),
        )


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def state_element(job: Job, *, result_url: Callable[[Result], str]) -> etree._Element:
    """``cea:state`` of ``job``: its parameter list with values or download URLs."""
    state = CeaState.from_dict(job.jdl_state)
    root = etree.Element(_q("state"), nsmap={"cea": NAMESPACE})
    etree.SubElement(root, _q("application")).text = state.application
    for kind, entries in (("input", state.inputs), ("output", state.outputs)):
        for entry in entries:
            root.append(_parameter(kind, entry, job, result_url))
    if state.exit_status is not None:
        etree.SubElement(root, _q("exitStatus")).text = str(state.exit_status)
    return root


def _parameter(
    kind: str, entry: ParameterEntry, job: Job, result_url: Callable[[Result], str]
) -> etree._Element:
    element = etree.Element(_q(kind), name=entry.name, type=entry.type)
    element.set("storage", entry.storage)
    if entry.locality is not None:
        element.set("locality", entry.locality)
    if entry.source is not None:
        element.set("source", entry.source)
    result = job.result(entry.result) if entry.result is not None else None
    if entry.value is not None:
        etree.SubElement(element, _q("value")).text = entry.value
    elif result is not None:
        etree.SubElement(element, _q("reference")).text = result_url(result)
    if entry.destination is not None:
        destination = etree.SubElement(element, _q("destination"))
        destination.text = entry.destination
        destination.set("delivered", "true" if entry.delivered else "false")
    if entry.note is not None:
        etree.SubElement(element, _q("note")).text = entry.note
    return element


_q = partial(q, NAMESPACE)
