"""The parameters of a TAP request (DALI 1.1 §3): from the query string, a form or multipart.

Parameter names are case-insensitive, values are not; a parameter given twice keeps its
first value, except ``UPLOAD``, which may be given several times and lists
``name,location`` pairs separated by ``;``. A ``multipart/form-data`` body carries the
other parameters and the uploaded files; ``param:{part}`` in ``UPLOAD`` names such a
file (TAP 1.1 §2.5.2), an ``http://`` or ``https://`` location a table to fetch (the
contract's allow-list decides whether it may be, :mod:`wsrf_uws.jdl.adql.remote_uploads`).
The body was already bounded by the route's limit
(``max_request_bytes``) before it is read here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

#: Where an uploaded table is: its VOTable XML (sent with the request) or its URL.
UploadSource = bytes | str


class BadParameters(ValueError):
    """A request whose parameters cannot be read; the message says why."""


@dataclass(frozen=True)
class TapParameters:
    """Every parameter of one request (names upper-cased), and the files sent with it."""

    values: dict[str, list[str]]
    files: dict[str, bytes] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """The first value of ``name`` (None if absent)."""
        found = self.values.get(name.upper())
        return found[0] if found else None

    def uploads(self) -> list[tuple[str, UploadSource]]:
        """The tables ``UPLOAD`` names: ``(name, VOTable XML)`` for a ``param:`` part,
        ``(name, URL)`` for a table to fetch."""
        tables: list[tuple[str, UploadSource]] = []
        for value in self.values.get("UPLOAD", []):
            for pair in filter(None, (p.strip() for p in value.split(";"))):
                name, comma, location = pair.partition(",")
                if not comma or not name.strip() or not location.strip():
                    raise BadParameters(f"UPLOAD {pair!r}: give name,location")
                location = location.strip()
                if location.lower().startswith(("http://", "https://")):
                    tables.append((name.strip(), location))
                    continue
                if not location.startswith("param:"):
                    raise BadParameters(
                        f"UPLOAD {name.strip()}: give param:part (a file of a "
                        "multipart/form-data request) or an http(s) URL, not " + repr(location)
                    )
                part = location[len("param:") :]
                if part not in self.files:
                    raise BadParameters(
                        f"UPLOAD {name.strip()}: the request has no file part {part!r}"
                    )
                tables.append((name.strip(), self.files[part]))
        return tables


def read_parameters(environ: dict[str, Any]) -> TapParameters:
    """The parameters of a GET or POST request."""
    values: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    _add(values, parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if environ.get("REQUEST_METHOD") == "POST":
        body = _body(environ)
        content_type = environ.get("CONTENT_TYPE", "")
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind == "multipart/form-data":
            _read_multipart(content_type, body, values, files)
        elif kind in ("application/x-www-form-urlencoded", ""):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadParameters("the form is not UTF-8") from None
            _add(values, parse_qsl(text, keep_blank_values=True))
        else:
            raise BadParameters(
                f"a POST body of type {kind!r} is not a form: send "
                "application/x-www-form-urlencoded or multipart/form-data"
            )
    return TapParameters(values, files)


def _add(values: dict[str, list[str]], pairs: list[tuple[str, str]]) -> None:
    for name, value in pairs:
        values.setdefault(name.upper(), []).append(value)


def _body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadParameters("the Content-Length is not a number") from None
    stream = environ["wsgi.input"]
    return bytes(stream.read(length)) if length > 0 else b""


def _read_multipart(
    content_type: str, body: bytes, values: dict[str, list[str]], files: dict[str, bytes]
) -> None:
    """The fields (into ``values``) and files (into ``files``, by field name) of a form."""
    content_type, body = _plain_boundary(content_type, body)
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadParameters("the multipart/form-data body has no parts")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise BadParameters("a part of the form has no name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None or (
            name.upper() not in _TEXT_FIELDS and part.get_content_type() != "text/plain"
        ):
            files[name] = data
        else:
            charset = part.get_content_charset() or "utf-8"
            try:
                values.setdefault(name.upper(), []).append(data.decode(charset))
            except (UnicodeDecodeError, LookupError):
                raise BadParameters(f"the form field {name!r} is not {charset} text") from None


_BOUNDARY = re.compile(r'boundary=(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)


def _plain_boundary(content_type: str, body: bytes) -> tuple[str, bytes]:
    """``content_type`` and ``body`` with a boundary the ``email`` parser reads as sent.

    The parser drops ``<`` and ``>`` around a boundary (they quote addresses in mail), and
    STILTS sends ``boundary="<<<---...--->>>"``: such a boundary is replaced by a plain one
    that does not occur in the body.
    """
    found = _BOUNDARY.search(content_type)
    if found is None:
        return content_type, body
    boundary = found.group(1) or found.group(2)
    if "<" not in boundary and ">" not in boundary:
        return content_type, body
    plain = "wsrf-uws-" + secrets.token_hex(16)
    replaced = body.replace(b"--" + boundary.encode("latin-1"), b"--" + plain.encode())
    head, tail = content_type[: found.start()], content_type[found.end() :]
    return f'{head}boundary="{plain}"{tail}', replaced


#: Fields that are always parameters, never files.
_TEXT_FIELDS = frozenset(
    {"REQUEST", "LANG", "QUERY", "MAXREC", "RESPONSEFORMAT", "FORMAT", "UPLOAD"}
)
