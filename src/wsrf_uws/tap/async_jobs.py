"""``/tap/async``: TAP's asynchronous queries, the UWS 1.1 job list of the ``adql`` contract.

The job list is the REST binding's (:mod:`wsrf_uws.rest`): the same jobs, owners and
results as ``/rest/adql`` and SOAP. What TAP adds is how a job is created: ``POST
/tap/async`` with the TAP parameters (``LANG``, ``QUERY``, ``MAXREC``,
``RESPONSEFORMAT``, ``UPLOAD``, as for ``/tap/sync``) and the UWS ones (``PHASE=RUN``,
``EXECUTIONDURATION``, ``DESTRUCTION``). :class:`AsyncQueries` writes those TAP
parameters as the contract's job description (``adql:job``) and hands the request on to
the job list with that document as its body, so a job is created in one place only.
The job's result is ``result``, a VOTable (BINARY2 or TABLEDATA: a job keeps its result
as a VOTable, so CSV and TSV are for ``/tap/sync`` only).

A query that cannot be run (an unknown ``LANG``, a bad ``MAXREC``, ADQL the contract
refuses...) is, as TAP 1.1 asks, a job that ends in ERROR saying why, not a refusal: the
TAP parameters the job list cannot take are handed to its :meth:`AsyncJobList.refused`
with the query written as the job's description (:func:`refused_description`); ADQL the
contract refuses, the job list records so itself (its DAL face,
:mod:`wsrf_uws.rest.face`). Only a request that cannot be read at all (a body that is no
form) is answered 400.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import urlencode

from lxml import etree

from ..jdl.adql.names import NAMESPACE
from .formats import UnknownFormat
from .parameters import BadParameters, TapParameters, read_parameters
from .sync import SyncQueries
from .worker import error_answer

#: The namespace of ``xlink:href``, naming an upload by URL.
XLINK = "http://www.w3.org/1999/xlink"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: The UWS parameters of a job's creation, passed on to the job list as they are.
_UWS_PARAMETERS = ("PHASE", "EXECUTIONDURATION", "DESTRUCTION", "RUNID")


class AsyncJobList(Protocol):
    """What ``/tap/async`` needs of the job list it is (the REST binding's, on its DAL
    face): a WSGI application, and a way to record a refused request as a job in ERROR."""

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]: ...

    def refused(
        self, environ: dict[str, Any], start_response: StartResponse, *, reason: str
    ) -> Iterable[bytes]:
        """Create, from the POST ``environ``, a job that ended in ERROR saying ``reason``."""
        ...


class AsyncQueries:
    """``/tap/async`` (``path``): creation from TAP parameters, the rest the ``job_list``'s."""

    def __init__(self, *, job_list: AsyncJobList, path: str, sync: SyncQueries) -> None:
        self.job_list = job_list
        self.path = path.rstrip("/")
        self.sync = sync

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        creating = (
            environ.get("REQUEST_METHOD") == "POST"
            and (environ.get("PATH_INFO") or "").rstrip("/") == self.path
        )
        if not creating:
            return self.job_list(environ, start_response)
        try:
            parameters = read_parameters(environ)
        except BadParameters as error:
            answer = error_answer(str(error))
            start_response(
                "400 Bad Request",
                [("Content-Type", answer.media_type), ("Content-Length", str(len(answer.body)))],
            )
            return [answer.body]
        try:
            query = self.sync.query(parameters)
            serialization = query.response_format.serialization
            if serialization is None:
                raise UnknownFormat(
                    f"RESPONSEFORMAT {query.response_format.media_type} is for /tap/sync only: "
                    "an asynchronous query keeps its result as a VOTable (votable, votable/td)"
                )
            document = job_description(
                query.adql, maxrec=query.maxrec, serialization=serialization, uploads=query.uploads
            )
        except (BadParameters, UnknownFormat) as error:
            forwarded = _forwarded(environ, parameters, refused_description(parameters))
            return self.job_list.refused(forwarded, start_response, reason=_xml_text(str(error)))
        return self.job_list(_forwarded(environ, parameters, document), start_response)


def _forwarded(
    environ: dict[str, Any], parameters: TapParameters, document: bytes
) -> dict[str, Any]:
    """``environ`` as the job list's creation: ``document`` its body, the UWS parameters
    its query string."""
    passed = {
        name: value for name in _UWS_PARAMETERS if (value := parameters.get(name)) is not None
    }
    forwarded = dict(environ)
    forwarded.update(
        {
            "QUERY_STRING": urlencode(passed),
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "CONTENT_LENGTH": str(len(document)),
            "wsgi.input": io.BytesIO(document),
        }
    )
    return forwarded


def refused_description(parameters: TapParameters) -> bytes:
    """The description a refused request's job shows: an ``adql:job`` with its ``QUERY``
    as sent (empty without one; characters XML cannot carry become U+FFFD), nothing else
    (what else it sent is what could not be read)."""
    root = etree.Element(f"{{{NAMESPACE}}}job", nsmap={"adql": NAMESPACE})
    etree.SubElement(root, f"{{{NAMESPACE}}}query").text = _xml_text(parameters.get("QUERY") or "")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


#: A character XML 1.0 cannot carry.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """``text`` with every character XML cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def job_description(
    adql: str,
    *,
    maxrec: int,
    serialization: str,
    uploads: Iterable[tuple[str, bytes | str]] = (),
) -> bytes:
    """The ``adql:job`` document of a TAP query: the uploads' VOTables carried in-line, or
    their URLs (``xlink:href``, fetched by the job's run)."""
    root = etree.Element(f"{{{NAMESPACE}}}job", nsmap={"adql": NAMESPACE, "xlink": XLINK})
    if _NOT_XML.search(adql):
        raise BadParameters("QUERY holds a character XML cannot carry (a control character)")
    etree.SubElement(root, f"{{{NAMESPACE}}}query").text = adql
    etree.SubElement(root, f"{{{NAMESPACE}}}maxrec").text = str(maxrec)
    etree.SubElement(root, f"{{{NAMESPACE}}}format").text = serialization
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for name, table in uploads:
        if isinstance(table, str):
            etree.SubElement(
                root, f"{{{NAMESPACE}}}upload", {"name": name, f"{{{XLINK}}}href": table}
            )
            continue
        try:
            votable = etree.fromstring(table, parser)
        except etree.XMLSyntaxError as error:
            raise BadParameters(f"UPLOAD {name}: not a VOTable ({error})") from None
        upload = etree.SubElement(root, f"{{{NAMESPACE}}}upload", name=name)
        upload.append(votable)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
