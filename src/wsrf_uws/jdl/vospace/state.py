"""The contract's state: what the client asked for, what the service offered, and the space.

The state (:class:`VospaceState`) is kept as JSON in the store and rendered as
``vospace:state``, with the live usage figures of the space once it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import Any

from lxml import etree

from ...wire.namespaces import q
from .nodes import Space
from .offer import NAMESPACE, SpaceOffer, SpaceRequest, format_duration


@dataclass(frozen=True)
class VospaceState:
    """The state of a space job: the request (its size, and its lifetime as the client wrote
    it), the offer, and, once the run created it, the space's identifier.

    Kept in the store as the JSON of :meth:`to_dict`: ``owner``, ``requested`` (``size``,
    ``lifetime``), ``offer`` (``size``, ``lifetime`` in seconds, ``reasons``) and
    ``identifier``.
    """

    offer: SpaceOffer
    requested_size: int
    requested_lifetime: str | None = None
    identifier: str | None = None

    @classmethod
    def for_offer(cls, offer: SpaceOffer, request: SpaceRequest) -> VospaceState:
        """The state of a new job: the request and the offer made for it."""
        return cls(
            offer=offer, requested_size=request.size, requested_lifetime=request.lifetime_text
        )

    def with_space(self, identifier: str) -> VospaceState:
        """This state once the space ``identifier`` is created."""
        return replace(self, identifier=identifier)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form the store keeps."""
        data: dict[str, Any] = {
            "owner": self.offer.owner,
            "requested": {"size": self.requested_size, "lifetime": self.requested_lifetime},
            "offer": {
                "size": self.offer.size,
                "lifetime": self.offer.lifetime.total_seconds(),
                "reasons": list(self.offer.reasons),
            },
        }
        if self.identifier is not None:
            data["identifier"] = self.identifier
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VospaceState:
        """The state a :meth:`to_dict` form (as stored by any version) describes."""
        offer = data["offer"]
        requested = data["requested"]
        lifetime = requested.get("lifetime")
        identifier = data.get("identifier")
        return cls(
            offer=SpaceOffer(
                owner=str(data["owner"]),
                size=int(offer["size"]),
                lifetime=timedelta(seconds=float(offer["lifetime"])),
                reasons=tuple(str(reason) for reason in offer.get("reasons", ())),
            ),
            requested_size=int(requested["size"]),
            requested_lifetime=None if lifetime is None else str(lifetime),
            identifier=None if identifier is None else str(identifier),
        )


def state_element(state: VospaceState, *, space: Space | None, node_url: str) -> etree._Element:
    """``vospace:state``; ``space`` (once created) gives the live usage figures."""
    root = etree.Element(_q("state"), nsmap={"vospace": NAMESPACE})
    requested = etree.SubElement(root, _q("requested"), size=str(state.requested_size))
    if state.requested_lifetime:
        requested.set("lifetime", state.requested_lifetime)
    offer = state.offer
    offered = etree.SubElement(
        root, _q("offer"), size=str(offer.size), lifetime=format_duration(offer.lifetime)
    )
    for reason in offer.reasons:
        etree.SubElement(offered, _q("reason")).text = reason
    if space is not None:
        element = etree.SubElement(root, _q("space"))
        etree.SubElement(element, _q("identifier")).text = space.identifier
        etree.SubElement(element, _q("node")).text = node_url
        etree.SubElement(element, _q("size")).text = str(space.quota_bytes)
        etree.SubElement(element, _q("used")).text = str(space.used_bytes)
        etree.SubElement(element, _q("available")).text = str(space.available_bytes)
    return root


_q = partial(q, NAMESPACE)
