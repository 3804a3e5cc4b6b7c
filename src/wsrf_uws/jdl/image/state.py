"""The contract's state: what a job stages, the fields nothing covers, and its staged images.

The state (:class:`ImageState`) is kept as small JSON in the store: counts, the quote's
bytes and the uncovered fields. The table of staged images is not in it: each image's
ObsCore row is appended to a file in the job's folder (:data:`ROWS_FILE`) just before the
image is announced, and read from there when the state is rendered as ``image:state``, so
the state grows with the results at a constant cost per image.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from lxml import etree

from ...core.model import Job, Result
from ...vo.votable import votable_bytes
from ...wire.namespaces import q
from ...wire.parsing import safe_parser
from .jdl import NAMESPACE
from .obscore import COLUMNS, table

#: The table rows of the staged images, one JSON object per line, in the job's folder.
ROWS_FILE = "staged-images.jsonl"


@dataclass(frozen=True)
class UncoveredField:
    """A field of the job that no frame of the archive covers, and why."""

    field: str
    ra: float
    dec: float
    reason: str


@dataclass(frozen=True)
class ImageState:
    """The state of a staging job: its mode, how many fields and images, the bytes it was
    quoted (None for a job quoted before quotes were kept), and the uncovered fields.

    Kept in the store as the JSON of :meth:`to_dict`: ``mode``, ``fields``, ``expected``,
    ``quoted_bytes`` and ``uncovered`` (``field``, ``ra``, ``dec``, ``reason`` each).
    """

    mode: str
    fields: int
    expected: int
    quoted_bytes: int | None = None
    uncovered: tuple[UncoveredField, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form the store keeps."""
        data: dict[str, Any] = {
            "mode": self.mode,
            "fields": self.fields,
            "expected": self.expected,
        }
        if self.quoted_bytes is not None:
            data["quoted_bytes"] = self.quoted_bytes
        data["uncovered"] = [
            {"field": u.field, "ra": u.ra, "dec": u.dec, "reason": u.reason} for u in self.uncovered
        ]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageState:
        """The state a :meth:`to_dict` form (as stored by any version) describes."""
        quoted = data.get("quoted_bytes")
        return cls(
            mode=str(data.get("mode", "cutout")),
            fields=int(data.get("fields", 0)),
            expected=int(data.get("expected", 0)),
            quoted_bytes=None if quoted is None else int(quoted),
            uncovered=tuple(
                UncoveredField(
                    field=str(entry["field"]),
                    ra=float(entry["ra"]),
                    dec=float(entry["dec"]),
                    reason=str(entry["reason"]),
                )
                for entry in data.get("uncovered", ())
            ),
        )


def staged_rows(workdir: Path, *, announced: Container[str]) -> list[dict[str, Any]]:
    """The rows of the images staged in ``workdir`` whose result is ``announced``."""
    try:
        lines = (workdir / ROWS_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line being written
        if row.get("result") in announced:
            rows.append(row)
    return rows


def state_element(
    job: Job, *, workdir: Path, result_url: Callable[[Result], str]
) -> etree._Element:
    """``image:state``: counts, uncovered fields and the VOTable of staged images."""
    state = ImageState.from_dict(job.jdl_state)
    results = {result.name: result for result in job.results}
    # A row is recorded just before its result is announced; until then it is not staged.
    rows = staged_rows(workdir, announced=results)
    root = etree.Element(_q("state"), nsmap={"image": NAMESPACE})
    etree.SubElement(root, _q("mode")).text = state.mode
    etree.SubElement(root, _q("fields")).text = str(state.fields)
    etree.SubElement(root, _q("expected")).text = str(state.expected)
    etree.SubElement(root, _q("staged")).text = str(len(rows))
    for entry in state.uncovered:
        uncovered = etree.SubElement(root, _q("uncovered"))
        uncovered.set("field", entry.field)
        uncovered.set("ra", repr(entry.ra))
        uncovered.set("dec", repr(entry.dec))
        uncovered.text = entry.reason

    def access_url(name: str) -> str | None:
        return result_url(results[name]) if name in results else None

    document = votable_bytes(
        table(rows, access_url=access_url),
        columns=list(COLUMNS),
        serialization="TABLEDATA",
        infos=[("progress", f"{len(rows)}/{state.expected}", None)],
        description="Images staged by this job (ObsCore 1.1 / SIAv2 columns)",
    )
    images = etree.SubElement(root, _q("images"))
    images.append(etree.fromstring(document, safe_parser()))
    return root


_q = partial(q, NAMESPACE)
