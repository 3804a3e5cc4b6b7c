"""Uploads by URI: ``<upload name="list" xlink:href="..."/>``, checked at createJob, fetched
by the run.

A user's table may live elsewhere than in the job description (a list another service
published, the service's own demonstration data): the job names its URI, and the service
fetches it on the user's behalf. So the URI must match the contract's allow-list,
``[adql] fetch_allow`` (by default only the service's own ``/demo/`` data): createJob checks
it (syntax only, no network, :func:`remote_upload`), and the job's run fetches the table into
its folder (:func:`fetch_upload`), in the worker process, never in a request thread. The
fetch is the shared hardened one (:mod:`wsrf_uws.vo.transfer`: private addresses refused,
every redirect checked, the size counted while it streams), bounded by what is left of
``[adql] max_upload_bytes`` after the job's in-line uploads. A failure ends the job in
ERROR with a message naming the upload and the reason; the cause a client must not see
(which port of which host did not answer) goes to the service's log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ...core.sizes import format_bytes
from ...vo.transfer import (
    TransferError,
    TransferPolicy,
    TransferRefused,
    TransferTooLarge,
    fetch,
)
from ...wire.parsing import XmlDocumentError, parse_xml
from .uploads import Upload, UploadError, check_upload_name, read_upload_bytes

__all__ = ["UPLOAD_FOLDER", "RemoteUpload", "fetch_upload", "remote_upload"]

log = logging.getLogger(__name__)

#: The folder of a job's workdir a fetched upload is written to, until it is read.
UPLOAD_FOLDER = "uploads"


@dataclass(frozen=True)
class RemoteUpload:
    """An upload the job names by URI: ``TAP_UPLOAD.name``, and the absolute URI to fetch."""

    name: str
    uri: str


def remote_upload(name: str, href: str, *, policy: TransferPolicy | None) -> RemoteUpload:
    """The upload ``name`` of ``href``, checked against ``policy`` (None: no fetching).

    ``href`` may be a path on the service itself (``/demo/adql/bright-stars.vot``), resolved
    against its public URL. Only the URI's form is checked here (no DNS, no request): the
    address check runs when the job fetches it. Raises :class:`UploadError` saying why not.
    """
    check_upload_name(name)
    if policy is None or not policy.allowed:
        raise UploadError(
            f"upload {name!r}: this service fetches no uploads by URI ([adql] fetch_allow is "
            "empty); put the VOTable in the job description"
        )
    uri = policy.resolve(href.strip())
    try:
        policy.check(uri)
    except TransferRefused as error:
        raise UploadError(
            f"upload {name!r}: {error} (this service fetches uploads only from "
            f"{', '.join(policy.allowed)}: [adql] fetch_allow)"
        ) from None
    return RemoteUpload(name, uri)


def fetch_upload(
    remote: RemoteUpload,
    *,
    folder: Path,
    policy: TransferPolicy,
    max_bytes: int,
    total_bytes: int,
    timeout: float,
) -> tuple[Upload, int]:
    """Fetch ``remote`` into ``folder`` and read it: the table and its size in bytes.

    At most ``max_bytes`` are fetched (what the job's other uploads left of ``total_bytes``,
    ``[adql] max_upload_bytes``); the file is removed once read. Raises
    :class:`UploadError` naming the upload for a refused URI or redirect, an unreachable
    server, an HTTP error, a document too large, or one that is not a readable VOTable.
    """
    folder.mkdir(parents=True, exist_ok=True)
    destination = folder / f"{remote.name.lower()}.vot"
    try:
        size = fetch(remote.uri, destination, policy=policy, max_bytes=max_bytes, timeout=timeout)
        document = destination.read_bytes()
    except TransferTooLarge as error:
        raise UploadError(
            f"upload {remote.name!r}: {error}, what is left for it of the "
            f"{format_bytes(total_bytes)} the uploads of a job may take together "
            "([adql] max_upload_bytes)"
        ) from None
    except TransferError as error:
        if error.detail:
            log.warning("adql: upload %r: %s", remote.name, error.detail)
        raise UploadError(f"upload {remote.name!r}: {error}") from None
    finally:
        destination.unlink(missing_ok=True)
    try:
        parse_xml(document)  # the safe parser: no DOCTYPE, no entities, before astropy reads it
    except XmlDocumentError as error:
        where = f" (line {error.line})" if error.line else ""
        raise UploadError(
            f"upload {remote.name!r}: {remote.uri} is not an XML document{where}: {error}"
        ) from None
    return read_upload_bytes(remote.name, document, max_bytes=max_bytes), size
