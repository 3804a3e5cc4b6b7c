"""The contract's state: the application and its parameter list (pattern §3.4).

In-line values are recorded in the state itself; file values are files in the job's
folder, and the state names the result through which a copy can be downloaded. The
state is kept as JSON in the store (``Job.jdl_state``) and rendered as ``cea:state``,
the contract's resource property.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from ...core.model import Job, Result
from .jdl import CeaJob
from .library import NAMESPACE


def initial_state(job: CeaJob) -> dict[str, Any]:
    """The state of a new job: what it was given; in-line local values already in place."""
    parameters = {p.name: p for p in job.application.inputs}
    inputs: list[dict[str, Any]] = []
    for value in job.inputs:
        entry: dict[str, Any] = {
            "name": value.name,
            "type": str(parameters[value.name].type),
            "locality": str(value.locality),
            "storage": str(value.storage),
        }
        if value.uri is not None:
            entry["source"] = value.uri
        elif value.storage == "inline":
            entry["value"] = value.text if value.data is None else value.data.decode("utf-8")
        inputs.append(entry)
    outputs: list[dict[str, Any]] = []
    for request in job.outputs:
        parameter = job.application.output(request.name)
        assert parameter is not None  # read_job only accepts declared outputs
        entry = {"name": request.name, "type": str(parameter.type), "storage": str(request.storage)}
        if request.destination is not None:
            entry["destination"] = request.destination
            entry["delivered"] = False
        outputs.append(entry)
    return {"application": job.application.name, "inputs": inputs, "outputs": outputs}


def state_element(job: Job, *, result_url: Callable[[Result], str]) -> etree._Element:
    """``cea:state`` of ``job``: its parameter list with values or download URLs."""
    state = job.jdl_state
    root = etree.Element(_q("state"), nsmap={"cea": NAMESPACE})
    etree.SubElement(root, _q("application")).text = str(state.get("application", ""))
    for kind in ("input", "output"):
        for entry in state.get(f"{kind}s", ()):
            root.append(_parameter(kind, entry, job, result_url))
    if "exitStatus" in state:
        etree.SubElement(root, _q("exitStatus")).text = str(int(state["exitStatus"]))
    return root


def _parameter(
    kind: str, entry: dict[str, Any], job: Job, result_url: Callable[[Result], str]
) -> etree._Element:
    element = etree.Element(_q(kind), name=entry["name"], type=entry["type"])
    element.set("storage", entry["storage"])
    if "locality" in entry:
        element.set("locality", entry["locality"])
    if "source" in entry:
        element.set("source", entry["source"])
    result = job.result(entry["result"]) if "result" in entry else None
    if "value" in entry:
        etree.SubElement(element, _q("value")).text = entry["value"]
    elif result is not None:
        etree.SubElement(element, _q("reference")).text = result_url(result)
    if "destination" in entry:
        destination = etree.SubElement(element, _q("destination"))
        destination.text = entry["destination"]
        destination.set("delivered", "true" if entry.get("delivered") else "false")
    if "note" in entry:
        etree.SubElement(element, _q("note")).text = entry["note"]
    return element


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"
