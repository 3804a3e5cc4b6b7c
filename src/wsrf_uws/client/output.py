"""What the client commands print: a job's state as ``key  value`` lines or as JSON.

The lines are for people (``phase      COMPLETED``); ``--json`` gives the same facts for
programs, times in ISO 8601 UTC. A contract's own part of the state (``cea:state``,
``adql:state``, ...) is shown as an indented outline of its elements: names, attributes
and text, which reads well for every contract without knowing any of them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from lxml import etree

from ..wire.times import format_utc
from .listing import JobListing
from .state import JobState

#: How many elements of a contract's state are shown at most (a state may list many rows).
MAX_OUTLINE_LINES = 60
_MAX_TEXT = 100


def when(value: datetime | None) -> str | None:
    """A time as ISO 8601 UTC to the second; None stays None."""
    return None if value is None else format_utc(value.replace(microsecond=0))


def write_json(value: Any, out: TextIO) -> None:
    """``value`` as indented JSON and a newline."""
    out.write(json.dumps(value, indent=2) + "\n")


def state_document(
    state: JobState, *, resource_id: str, terminates: datetime | str | None = "unknown"
) -> dict[str, Any]:
    """The JSON of a job's state (``terminates``: None means never; omitted when unknown)."""
    document: dict[str, Any] = {
        "resource_id": resource_id,
        "phase": state.phase,
        "progress": state.fraction,
        "creation_time": when(state.creation_time),
        "start_time": when(state.start_time),
        "end_time": when(state.end_time),
        "estimated_duration": (
            None if state.estimated_duration is None else state.estimated_duration.total_seconds()
        ),
        "error": None
        if state.error is None
        else {"type": state.error.type, "message": state.error.message},
        "note": state.note,
        "results": [result._asdict() for result in state.results],
        "contract_state": None if state.contract is None else outline_document(state.contract),
    }
    if not isinstance(terminates, str):
        document["termination_time"] = None if terminates is None else when(terminates)
    return document


def write_state(
    state: JobState, out: TextIO, *, terminates: str | None = None, contract: bool = False
) -> None:
    """The lines ``status`` prints: phase, progress, times, estimate, error, results, and
    with ``contract`` the contract's own state."""

    def line(key: str, value: object) -> None:
        out.write(f"{key:<11} {value}\n")

    line("phase", state.phase)
    if state.fraction is not None:
        line("progress", f"{state.fraction:.0%}")
    line("created", when(state.creation_time))
    if state.start_time:
        line("started", when(state.start_time))
    if state.end_time:
        line("ended", when(state.end_time))
    if terminates is not None:
        line("terminates", terminates)
    if state.estimated_duration is not None:
        line("estimate", f"{state.estimated_duration.total_seconds():g} s")
    if state.error is not None:
        line("error", f"{state.error.type}: {state.error.message}")
    if state.note:
        line("note", state.note)
    for result in state.results:
        size = "" if result.size is None else f", {result.size} bytes"
        line("result", f"{result.name}  {result.href}  ({result.mime_type or '?'}{size})")
    if contract and state.contract is not None:
        line("contract", etree.QName(state.contract).localname)
        for text in outline(state.contract):
            out.write(f"  {text}\n")


def outline(element: etree._Element) -> list[str]:
    """The children of ``element`` as indented lines: ``name attr=value ...  text``."""
    lines: list[str] = []

    def visit(node: etree._Element, depth: int) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if len(lines) == MAX_OUTLINE_LINES:
                lines.append("...")
                return
            if len(lines) > MAX_OUTLINE_LINES:
                return
            attributes = " ".join(
                f"{etree.QName(key).localname}={value!s}" for key, value in child.attrib.items()
            )
            text = " ".join((child.text or "").split())
            if len(text) > _MAX_TEXT:
                text = text[:_MAX_TEXT] + "..."
            parts = [etree.QName(child).localname, attributes, text]
            lines.append("  " * depth + "  ".join(part for part in parts if part))
            visit(child, depth + 1)

    visit(element, 0)
    return lines


def outline_document(element: etree._Element) -> dict[str, Any]:
    """``element`` as JSON: ``{"name", "attributes", "text", "children"}``, recursively."""
    children = [outline_document(child) for child in element if isinstance(child.tag, str)]
    document: dict[str, Any] = {"name": etree.QName(element).localname}
    if element.attrib:
        document["attributes"] = {
            etree.QName(key).localname: value for key, value in element.attrib.items()
        }
    text = (element.text or "").strip()
    if text:
        document["text"] = text
    if children:
        document["children"] = children
    return document


def listing_document(listing: JobListing) -> dict[str, Any]:
    """One job of ``list``, as JSON."""
    return {
        "resource_id": listing.resource_id,
        "contract": listing.contract,
        "phase": listing.phase,
        "creation_time": when(listing.creation_time),
        "termination_time": when(listing.termination_time),
        "address": listing.address,
    }


def listing_line(listing: JobListing) -> str:
    """One job of ``list``, as a table row."""
    ends = when(listing.termination_time) or "never"
    return (
        f"{listing.resource_id}  {listing.contract or '-':<8} {listing.phase:<9} "
        f"created {when(listing.creation_time)}  terminates {ends}"
    )
