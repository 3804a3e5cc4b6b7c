"""A contract endpoint of a wsrf-uws service: where jobs are created and found again.

Example::

    service = Service("http://127.0.0.1:8080", "steps")
    job = service.create(jdl_bytes)
    job.start()
    state = job.wait(timeout=600)
    for result in state.results:
        job.download(result.name, result.name)
    job.destroy()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree
from zeep import xsd

from ..wire.elements import source_line
from ..wire.names import INITIAL_TERMINATION_TIME, RESOURCE_ID
from ..wire.namespaces import SOAP11, WSA, WSA_2004, q
from ..wire.parsing import safe_parser
from ..wire.times import as_utc
from .channel import Channel, connection_error, serialize
from .errors import InvalidJobDescription, TransportError
from .jdl import JdlSource, read_jdl
from .job import Job
from .listing import JobListings, parse_listing
from .times import INFINITE, Infinite

__all__ = ["INITIAL_TERMINATION_TIME", "Service", "endpoint_url", "published_wsdl"]


def endpoint_url(url: str, contract: str | None = None) -> str:
    """The contract endpoint: ``url`` itself, or ``{url}/uws/{contract}`` for a base URL.

    Raises ValueError for a URL that is not ``http(s)://host...`` (``127.0.0.1:8080``
    would otherwise be read as a file name).
    """
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        hint = "" if "://" in url else f" (did you mean http://{url}?)"
        raise ValueError(f"{url!r} is not an http(s) URL{hint}")
    if contract is not None:
        return f"{url}/uws/{contract}"
    if "/uws/" not in urlsplit(url).path:
        raise ValueError(
            f"{url} is not a contract endpoint (…/uws/{{contract}}); name the contract too"
        )
    return url


class Service:
    """The endpoint of one contract.

    ``url`` is the contract endpoint (``http://host:port/uws/steps``) or, with
    ``contract``, the service's base URL. Credentials, when given, travel in SOAP
    messages only as a WS-Security UsernameToken (PasswordDigest with ``digest``, so the
    password itself never goes over the wire), never as HTTP Basic. Result downloads,
    which are plain GETs, send them as HTTP Basic, and only to this endpoint's own
    scheme, host and port: a result linked elsewhere is fetched without them. Basic and
    PasswordText carry the password readably, so use https for anything but loopback.
    ``timeout`` (seconds) bounds every HTTP request. ``cache_folder`` keeps the WSDL
    and its schemas on disk between processes, revalidated with one conditional request
    (:mod:`wsrf_uws.client.wsdl_cache`; for wsrf-uws services).
    """

    def __init__(
        self,
        url: str,
        contract: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        digest: bool = False,
        timeout: float = 30,
        cache_folder: Path | None = None,
    ) -> None:
        self.endpoint = endpoint_url(url, contract)
        self._channel = Channel(
            wsdl_url=f"{self.endpoint}?wsdl",
            username=username,
            password=password,
            digest=digest,
            timeout=timeout,
            cache_folder=cache_folder,
        )

    def __repr__(self) -> str:
        return f"Service({self.endpoint!r})"

    @property
    def namespace(self) -> str:
        """The contract's namespace."""
        return self._channel.namespace

    def create(self, jdl: JdlSource, *, termination_time: datetime | Infinite | None = None) -> Job:
        """Create a job (createJob) from a job description; it starts PENDING.

        ``jdl`` is the contract's JDL document (bytes, text or an lxml element).
        ``termination_time`` asks for a termination time other than the service's default
        (naive means UTC; :data:`INFINITE` for none). An invalid description raises
        :class:`InvalidJobDescription`, whose ``line`` counts in ``jdl``.

        The contract asks for an infinite lifetime only with SetTerminationTime, so
        :data:`INFINITE` creates the job and then extends it; if the service refuses,
        the job is destroyed again and the refusal raised: nothing is left behind.
        """
        if termination_time is INFINITE:
            job = self.create(jdl)
            try:
                job.extend(until=INFINITE)
            except BaseException:
                job.destroy()
                raise
            return job
        description = read_jdl(jdl)
        create = self._channel.create_element
        # zeep renders the wrapper and InitialTerminationTime from the schema; the JDL goes
        # in as the caller wrote it, since a round trip through zeep's typed objects would
        # lose what zeep does not model (comments, open content, defaults left implicit).
        kwargs: dict[str, Any] = {self._channel.jdl_parameter: xsd.SkipValue}
        if isinstance(termination_time, datetime):
            kwargs["InitialTerminationTime"] = as_utc(termination_time)
        envelope = self._channel.message("createJob", address=self.endpoint, **kwargs)
        wrapper = envelope.find(f"{q(SOAP11, 'Body')}/{create}")
        assert wrapper is not None
        wrapper.insert(0, description.root)
        message = serialize(envelope)
        try:
            reply = self._channel.send_bytes("createJob", message, address=self.endpoint)
        except InvalidJobDescription as error:
            error.locate(
                message_line=_line_in_message(message, create.text),
                document_line=description.first_line,
            )
            raise
        return self._job_from_reference(reply)

    def list_jobs(
        self,
        *,
        phases: Iterable[str] = (),
        after: datetime | None = None,
        last: int | None = None,
    ) -> JobListings:
        """The caller's jobs (listJobs), of every contract, newest first.

        The filters are UWS 1.1's: ``phases`` (none: every phase but ARCHIVED), ``after``
        (created after that instant; naive means UTC), ``last`` (the most recent n; more
        than the service lists at once is refused). A list longer than the service's
        limit comes back cut, with ``truncated`` set.
        """
        kwargs: dict[str, Any] = {"Phase": [str(phase).upper() for phase in phases]}
        if after is not None:
            kwargs["After"] = as_utc(after)
        if last is not None:
            kwargs["Last"] = last
        reply = self._channel.call("listJobs", address=self.endpoint, **kwargs)
        return parse_listing(reply, url=self.endpoint)

    def job(self, resource_id: str, *, address: str | None = None) -> Job:
        """The job ``resource_id`` (at ``address``, by default this endpoint)."""
        return Job(channel=self._channel, resource_id=resource_id, address=address or self.endpoint)

    def _job_from_reference(self, reply: etree._Element) -> Job:
        epr = next(reply.iter(q(WSA, "EndpointReference"), q(WSA_2004, "EndpointReference")), None)
        identifier = None if epr is None else next(epr.iter(RESOURCE_ID), None)
        resource_id = "" if identifier is None else (identifier.text or "").strip()
        if epr is None or not resource_id:
            raise TransportError("createJob answered no endpoint reference", url=self.endpoint)
        address = (epr.findtext("{*}Address") or "").strip()
        return self.job(resource_id, address=address or None)


def _line_in_message(message: bytes, create_tag: str) -> int:
    """The line of ``message`` on which the createJob wrapper's first child starts."""
    root = etree.fromstring(message, parser=safe_parser())
    wrapper = next(root.iter(create_tag))
    first = next(child for child in wrapper if isinstance(child.tag, str))
    return source_line(first) or 1


def published_wsdl(
    url: str,
    contract: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30,
    addressing: str = "1.0",
) -> bytes:
    """The WSDL a contract endpoint publishes, as the service sends it.

    ``addressing`` is the WS-Addressing version it is for: ``1.0`` or ``2004-08``.
    """
    wsdl_url = f"{endpoint_url(url, contract)}?wsdl"
    if addressing != "1.0":
        wsdl_url += f"&addressing={addressing}"
    auth = None if username is None else (username, password or "")
    try:
        response = requests.get(wsdl_url, auth=auth, timeout=timeout)
    except requests.RequestException as error:
        raise connection_error(error, wsdl_url) from error
    if response.status_code != 200:
        raise TransportError(
            f"no WSDL at {wsdl_url}: HTTP {response.status_code} {response.text.strip()[:200]}",
            url=wsdl_url,
            status_code=response.status_code,
        )
    return response.content
