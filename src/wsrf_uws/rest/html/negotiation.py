"""Whether a request is a browser asking for a page rather than a client reading a UWS document.

The ``Accept`` header alone cannot tell them apart: Java's HTTP client, under STILTS and
TOPCAT, sends ``text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2`` by default, which
prefers HTML as much as a browser's does. So a page is served when the request

- prefers HTML to XML in ``Accept``: HTML is named explicitly, with a greater weight than
  any XML type, or the same weight and named first (``*/*`` names neither); and
- is a browser's: a navigation (``Sec-Fetch-Dest: document``, which browsers set and a page
  cannot), or it accepts XHTML too (``application/xhtml+xml``, in the ``Accept`` of every
  browser's navigation, older ones included, and in no UWS client's).

Every other request keeps getting the UWS documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_HTML = "text/html"
_XHTML = "application/xhtml+xml"
_XML = frozenset({"text/xml", "application/xml"})

#: Media ranges read from one Accept header at most (it is the caller's text).
_MAX_RANGES = 64


def wants_html(environ: Mapping[str, Any]) -> bool:
    """True for a browser that prefers HTML to XML (see the module)."""
    ranks = _ranks(str(environ.get("HTTP_ACCEPT", "")))
    html = max(ranks.get(_HTML, _NONE), ranks.get(_XHTML, _NONE))
    xml = max((ranks.get(kind, _NONE) for kind in _XML), default=_NONE)
    if html[0] <= 0 or (xml[0] > 0 and xml >= html):
        return False
    navigation = str(environ.get("HTTP_SEC_FETCH_DEST", "")).lower() == "document"
    return navigation or ranks.get(_XHTML, _NONE)[0] > 0


#: The rank of a type the header does not name.
_NONE = (0.0, 0)


def _ranks(accept: str) -> dict[str, tuple[float, int]]:
    """Each media type named in ``accept`` with its rank: its weight, then (for equal
    weights) its position, the first named ranking highest."""
    ranks: dict[str, tuple[float, int]] = {}
    for position, media_range in enumerate(accept.split(",")[:_MAX_RANGES]):
        kind, _, parameters = media_range.partition(";")
        kind = kind.strip().lower()
        if kind and kind not in ranks:
            ranks[kind] = (_weight(parameters), -position)
    return ranks


def _weight(parameters: str) -> float:
    """The ``q`` of a media range's parameters (1 when absent, 0 when it does not parse)."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 0.0
            return weight if 0.0 <= weight <= 1.0 else 0.0
    return 1.0
