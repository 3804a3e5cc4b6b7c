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
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from lxml import etree

from ..jdl.adql.jdl import NAMESPACE
from .formats import UnknownFormat
from .parameters import BadParameters, read_parameters
from .sync import SyncQueries
from .worker import error_answer

#: The namespace of ``xlink:href``, naming an upload by URL.
XLINK = "http://www.w3.org/1999/xlink"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: The UWS parameters of a job's creation, passed on to the job list as they are.
_UWS_PARAMETERS = ("PHASE", "EXECUTIONDURATION", "DESTRUCTION")


class AsyncQueries:
    """``/tap/async`` (``path``): creation from TAP parameters, the rest the ``job_list``'s."""

    def __init__(self, *, job_list: WsgiApp, path: str, sync: SyncQueries) -> None:
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
            answer = error_answer(str(error))
            start_response(
                "400 Bad Request",
                [("Content-Type", answer.media_type), ("Content-Length", str(len(answer.body)))],
            )
            return [answer.body]
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
        return self.job_list(forwarded, start_response)


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
