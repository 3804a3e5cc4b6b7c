"""The HTTP of the REST binding over plain WSGI: a decoded request, the answers, and
the mapping of the engine's errors onto UWS 1.1 status codes.

UWS parameter names are case-insensitive (``PHASE``, ``phase``): :class:`RestRequest`
keeps them upper-cased, each with every value given, from the query string and, for a
``POST`` of ``application/x-www-form-urlencoded``, from the body too. Errors are
answered as short ``text/plain`` bodies (UWS 1.1 §2.2: the status code says what went
wrong, the body says why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from ..core.errors import (
    ContractUnknownError,
    InvalidJobDescriptionError,
    InvalidPhaseError,
    NotAuthenticatedError,
    QuotaExceededError,
    ResourceNotDestroyedError,
    ResourceUnknownError,
    TerminationTimeRejectedError,
    UnableToSetTerminationTimeError,
    UwsError,
)
from ..observability.answers import uncached_answer

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: Most parameters one request may carry (query string and form together).
MAX_PARAMETERS = 100
FORM = "application/x-www-form-urlencoded"


class RestError(Exception):
    """A request answered with ``status`` and the plain-text ``message``."""

    def __init__(self, status: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def bad_parameter(message: str) -> RestError:
    """400: a parameter the binding cannot use."""
    return RestError("400 Bad Request", message)


#: The status of each engine error (UWS 1.1 §2.2 and §3). Another owner's job is
#: answered like an unknown one (404), as the SOAP binding does, so that ids cannot be
#: probed; a request the job's phase does not allow is a conflict with its state (409).
_STATUS: tuple[tuple[type[UwsError], str], ...] = (
    (ResourceUnknownError, "404 Not Found"),
    (ContractUnknownError, "404 Not Found"),
    (InvalidJobDescriptionError, "400 Bad Request"),
    (InvalidPhaseError, "409 Conflict"),
    (TerminationTimeRejectedError, "400 Bad Request"),
    (UnableToSetTerminationTimeError, "400 Bad Request"),
    (QuotaExceededError, "403 Forbidden"),
    (NotAuthenticatedError, "401 Unauthorized"),
    (ResourceNotDestroyedError, "500 Internal Server Error"),
)


def error_for(error: UwsError) -> RestError:
    """The HTTP answer to an engine error."""
    status = next((s for kind, s in _STATUS if isinstance(error, kind)), None)
    if status is None:
        status = "400 Bad Request" if error.client_fault else "500 Internal Server Error"
    if isinstance(error, NotAuthenticatedError):
        return RestError(status, error.description, **{"WWW-Authenticate": CHALLENGE})
    return RestError(status, error.description)


#: The HTTP Basic challenge of a 401 (RFC 7617; the users file holds UTF-8 names).
CHALLENGE = 'Basic realm="wsrf-uws", charset="UTF-8"'


class RestRequest:
    """One request: method, path below the job list, parameters and body."""

    def __init__(self, environ: dict[str, Any], *, path: str) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        #: The path below the job list, without leading or trailing slashes.
        self.path = path.strip("/")
        self.body = b""
        pairs = _pairs(str(environ.get("QUERY_STRING", "")), what="query string")
        if self.method == "POST":
            self.body = _read_body(environ)
            content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
            if content_type == FORM:
                try:
                    form = self.body.decode("utf-8")
                except UnicodeDecodeError:
                    raise bad_parameter("the form is not UTF-8") from None
                pairs += _pairs(form, what="form")
                self.body = b""
        if len(pairs) > MAX_PARAMETERS:
            raise bad_parameter(f"more than {MAX_PARAMETERS} parameters")
        #: Every value of each parameter, by upper-cased name.
        self.parameters: dict[str, list[str]] = {}
        for name, value in pairs:
            self.parameters.setdefault(name.upper(), []).append(value)

    def one(self, name: str) -> str | None:
        """The value of parameter ``name`` (given once at most), or None."""
        values = self.parameters.get(name, [])
        if len(values) > 1:
            raise bad_parameter(f"{name} is given {len(values)} times; give it once")
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        """Every value of the repeatable parameter ``name``."""
        return self.parameters.get(name, [])


def _pairs(text: str, *, what: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except (ValueError, UnicodeError):
        raise bad_parameter(
            f"the {what} is malformed, not UTF-8 or has over {MAX_PARAMETERS} fields"
        ) from None


def _read_body(environ: Mapping[str, Any]) -> bytes:
    """The request body (its size was bounded by the service before it was read)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise bad_parameter("Content-Length is not a number") from None
    if length <= 0:
        return b""
    data: bytes = environ["wsgi.input"].read(length)
    return data


def answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    *,
    content_type: str,
    head: bool = False,
    **headers: str,
) -> list[bytes]:
    """A complete answer, never cached (a job changes under the same URL)."""
    return uncached_answer(
        start_response, status, body, content_type=content_type, head=head, headers=headers.items()
    )


def text(start_response: StartResponse, value: str, *, head: bool = False) -> list[bytes]:
    """200 with an atomic value as ``text/plain`` (UWS 1.1 §2.2.1)."""
    return answer(
        start_response,
        "200 OK",
        value.encode(),
        content_type="text/plain; charset=utf-8",
        head=head,
    )


def xml(start_response: StartResponse, document: bytes, *, head: bool = False) -> list[bytes]:
    """200 with a UWS document."""
    return answer(
        start_response, "200 OK", document, content_type="text/xml; charset=utf-8", head=head
    )


def see_other(start_response: StartResponse, location: str) -> list[bytes]:
    """303 to ``location`` (an absolute URL), the answer of every state change (§2.2.3)."""
    return answer(
        start_response,
        "303 See Other",
        (location + "\n").encode(),
        content_type="text/plain; charset=utf-8",
        Location=location,
    )


def failure(start_response: StartResponse, error: RestError, *, head: bool = False) -> list[bytes]:
    """The plain-text answer of ``error``."""
    return answer(
        start_response,
        error.status,
        (error.message + "\n").encode(),
        content_type="text/plain; charset=utf-8",
        head=head,
        **error.headers,
    )
