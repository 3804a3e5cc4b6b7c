"""The application library as clients see it: what each application does and takes.

``GET {public-url}/uws/cea/applications`` answers a JSON document listing every
application of the library with its title, description, estimated duration and its
input and output parameters (name, type, how many, default, bounds, choices, unit, UCD,
title): what a client needs to write a job description. ``/applications/{name}``
answers one application. What only the service needs (the executable, its arguments and
environment, the command-line layout, the run-time limits) is left out: it says how the
provider's machine is set up, which is not the client's business. The documents are
public and built once from the loaded library
(:class:`~wsrf_uws.vo.cached_documents.CachedDocuments`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...vo.cached_documents import CachedDocuments, Document, document_key
from .application import Application, InputParameter, OutputParameter, Parameter
from .library import Library

MEDIA_TYPE = "application/json"
#: Where the contract serves the documents.
ROUTE = "/uws/cea/applications"


def describe(application: Application) -> dict[str, Any]:
    """One application, as the documents give it (JSON-ready)."""
    described: dict[str, Any] = {"name": application.name, "title": application.title}
    if application.description:
        described["description"] = application.description
    if application.estimate is not None:
        described["estimatedSeconds"] = application.estimate.base.total_seconds()
        if application.estimate.parameter:
            described["estimatedPer"] = application.estimate.parameter
    described["inputs"] = [_input(p) for p in application.inputs]
    described["outputs"] = [_output(p) for p in application.outputs]
    return described


def _parameter(parameter: Parameter) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": parameter.name,
        "type": str(parameter.type),
        "minOccurs": parameter.min_occurs,
        "maxOccurs": parameter.max_occurs,  # None: unbounded
    }
    for key, value in (
        ("title", parameter.title),
        ("description", parameter.description),
        ("unit", parameter.unit),
        ("ucd", parameter.ucd),
    ):
        if value:
            described[key] = value
    return described


def _input(parameter: InputParameter) -> dict[str, Any]:
    described = _parameter(parameter)
    for key, value in (
        ("default", parameter.default),
        ("min", parameter.minimum),
        ("max", parameter.maximum),
        ("maxLength", parameter.max_length),
        ("pattern", parameter.pattern),
    ):
        if value is not None:
            described[key] = value
    if parameter.options:
        described["options"] = list(parameter.options)
    if parameter.file_ref:
        described["fileRef"] = True
    return described


def _output(parameter: OutputParameter) -> dict[str, Any]:
    return _parameter(parameter)


def _json(value: Any) -> Document:
    return Document(json.dumps(value, indent=2, sort_keys=False).encode() + b"\n", MEDIA_TYPE)


def documents(library: Library) -> Mapping[str, Document]:
    """Every document of the route, by :func:`~wsrf_uws.vo.cached_documents.document_key`."""
    described = [describe(library.applications[name]) for name in library.names()]
    found = {document_key(""): _json({"applications": described})}
    for application in described:
        found[document_key(application["name"])] = _json(application)
    return found


def applications_route(library: Library) -> CachedDocuments:
    """The WSGI application of :data:`ROUTE` for ``library``."""
    return CachedDocuments(prefix=ROUTE, build=lambda: documents(library))
