"""The negotiation: what a ``vospace:job`` asks for, and what the service offers.

The offer is the request cut down by the owner's policy: the size by the largest space
and by what the owner's other live spaces already hold, the lifetime by the longest
allowed. Each cut is explained in the offer (``reason``), so a client knows why it got
less. The offer is kept in the job state (:mod:`.state`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from ...core.errors import InvalidJobDescriptionError, NotAuthenticatedError, QuotaExceededError
from ...core.model import ANONYMOUS
from ...wire.elements import source_line
from .settings import VospaceSettings

NAMESPACE = "urn:wsrf-uws:vospace:v1"
_NS = {"vospace": NAMESPACE}

#: xs:duration without years or months (their length in seconds is not fixed).
_DURATION = re.compile(
    r"P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


@dataclass(frozen=True)
class SpaceRequest:
    """What the client asks for: bytes, and a lifetime (None: the service's default)."""

    size: int
    lifetime: timedelta | None = None
    lifetime_text: str | None = None


@dataclass(frozen=True)
class SpaceOffer:
    """What the service grants, to whom, and why it is less than asked (if it is)."""

    owner: str
    size: int
    lifetime: timedelta
    reasons: tuple[str, ...] = ()


def read_request(root: etree._Element) -> SpaceRequest:
    """The request in a schema-valid ``vospace:job``."""
    size = int(root.findtext("vospace:size", namespaces=_NS) or "0")
    element = root.find("vospace:lifetime", _NS)
    if element is None:
        return SpaceRequest(size=size)
    text = (element.text or "").strip()
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise InvalidJobDescriptionError(
            f"lifetime {text!r}: give days, hours, minutes or seconds (P7D, PT12H); years "
            "and months have no fixed length",
            line=source_line(element),
        )
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    try:
        lifetime = timedelta(**parts)
    except OverflowError:
        raise InvalidJobDescriptionError(
            f"lifetime {text!r} is longer than any this service could keep",
            line=source_line(element),
        ) from None
    if lifetime <= timedelta(0):
        raise InvalidJobDescriptionError(
            f"lifetime {text!r} is not positive", line=source_line(element)
        )
    return SpaceRequest(size=size, lifetime=lifetime, lifetime_text=text)


def make_offer(
    request: SpaceRequest,
    *,
    owner: str,
    policy: VospaceSettings,
    granted: int,
    service_max_lifetime: timedelta | None = None,
) -> SpaceOffer:
    """The offer for ``owner``, who already holds ``granted`` bytes in live spaces.

    ``service_max_lifetime`` is the service's cap on any resource's lifetime, which a
    space cannot outlive whatever its owner's policy says.
    """
    if owner == ANONYMOUS:
        raise NotAuthenticatedError(
            "a space belongs to a user, and only its owner may write in it: call with "
            "credentials (WS-Security UsernameToken or HTTP Basic)"
        )
    max_space, max_owner, max_lifetime = policy.limits_for(owner)
    reasons: list[str] = []
    size = request.size
    if size > max_space:
        size = max_space
        reasons.append(f"size: the largest space this service offers {owner} is {max_space} bytes")
    left = max(0, max_owner - granted)
    if size > left:
        size = left
        reasons.append(
            f"size: {owner}'s spaces may hold {max_owner} bytes together, and {granted} "
            "are already granted"
        )
    if size <= 0:
        raise QuotaExceededError(
            f"{owner} has no space left to offer: {granted} of {max_owner} bytes are granted "
            "to live spaces; destroy one, or wait for one to expire"
        )
    if service_max_lifetime is not None:
        max_lifetime = min(max_lifetime, service_max_lifetime)
    lifetime = request.lifetime or policy.default_lifetime
    if lifetime > max_lifetime:
        lifetime = max_lifetime
        reasons.append(f"lifetime: spaces of {owner} live at most {format_duration(max_lifetime)}")
    return SpaceOffer(owner=owner, size=size, lifetime=lifetime, reasons=tuple(reasons))


def format_duration(value: timedelta) -> str:
    """An xs:duration in days and seconds (``P7D``, ``P1DT3600S``)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    text = "P" + (f"{days}D" if days else "")
    if rest or not days:
        text += f"T{rest}S"
    return text
