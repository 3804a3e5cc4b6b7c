"""Reading an ``image:job`` description.

The schema has already checked the shape and the ranges of every number; this module
checks what depends on the service: the number of fields and their sizes against the
configured limits, unique field labels, and whether a mosaic can be made at all (the
``mosaic`` extra installed). A problem raises
:class:`~wsrf_uws.core.errors.InvalidJobDescriptionError` naming the field and the
line, so nothing is created for a job that could not run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from ...core.errors import InvalidJobDescriptionError
from ...wire.elements import source_line
from .fields import Field

NAMESPACE = "urn:wsrf-uws:image:v1"
_NS = {"image": NAMESPACE}

Mode = Literal["cutout", "mosaic"]


@dataclass(frozen=True)
class ImageJob:
    """A checked job: what to stage, from which frames, and how."""

    fields: tuple[Field, ...]
    mode: Mode = "cutout"
    band: str | None = None
    collection: str | None = None
    #: Mosaics: degrees per pixel, or None for the finest scale among the frames used.
    pixel_scale: float | None = None
    progressive: bool = True
    execution_duration: int | None = None


@dataclass(frozen=True)
class JobLimits:
    """What the service accepts (from ``[image]`` settings)."""

    max_fields: int
    max_field_size: float


def read_job(root: etree._Element, *, limits: JobLimits) -> ImageJob:
    """Check a schema-valid ``image:job`` element and turn it into an :class:`ImageJob`."""
    mode: Mode = "mosaic" if _text(root, "mode") == "mosaic" else "cutout"
    # Imported here: the mosaic module imports astropy, which a restarting service
    # should not wait for before it serves (see the contract's module).
    from .mosaic import MOSAIC_EXTRA, mosaic_available

    if mode == "mosaic" and not mosaic_available():
        raise InvalidJobDescriptionError(
            "mode mosaic needs the reproject library, which this service does not have "
            f"(its provider installs it with: pip install '{MOSAIC_EXTRA}'); ask for cutouts",
            line=source_line(_element(root, "mode")),
        )
    scale_element = root.find("image:pixelScale", _NS)
    pixel_scale = None
    if scale_element is not None:
        if mode != "mosaic":
            raise InvalidJobDescriptionError(
                "pixelScale applies to mosaics only; cutouts keep the frames' own pixels",
                line=source_line(scale_element),
            )
        pixel_scale = float(scale_element.text or "") / 3600.0
    elements = root.findall("image:field", _NS)
    if len(elements) > limits.max_fields:
        raise InvalidJobDescriptionError(
            f"the job asks for {len(elements)} fields; this service takes at most "
            f"{limits.max_fields} per job",
            line=source_line(elements[limits.max_fields]),
        )
    fields: list[Field] = []
    labels: set[str] = set()
    for number, element in enumerate(elements, start=1):
        field = _field(element, number=number, limits=limits)
        if field.label in labels:
            raise InvalidJobDescriptionError(
                f"two fields are labelled {field.label!r}; labels must be unique",
                line=source_line(element),
            )
        labels.add(str(field.label))
        fields.append(field)
    duration = _text(root, "executionDuration")
    return ImageJob(
        fields=tuple(fields),
        mode=mode,
        band=_text(root, "band"),
        collection=_text(root, "collection"),
        pixel_scale=pixel_scale,
        progressive=_text(root, "progressive") not in ("false", "0"),
        execution_duration=int(duration) if duration is not None else None,
    )


def _field(element: etree._Element, *, number: int, limits: JobLimits) -> Field:
    label = element.get("id") or f"field{number}"
    where = f"field {label!r}"
    try:
        box = element.find("image:box", _NS)
        if box is not None:
            field = Field.from_box(
                float(box.get("raMin", "")),
                float(box.get("raMax", "")),
                float(box.get("decMin", "")),
                float(box.get("decMax", "")),
            )
        else:
            position = element.find("image:position", _NS)
            size = element.find("image:size", _NS)
            # The schema requires both.
            assert position is not None
            assert size is not None
            field = Field(
                ra=float(position.get("ra", "")),
                dec=float(position.get("dec", "")),
                width=float(size.get("width", "")),
                height=float(size.get("height", "")),
            )
    except ValueError as error:
        raise InvalidJobDescriptionError(f"{where}: {error}", line=source_line(element)) from None
    largest = max(field.width, field.height)
    if largest > limits.max_field_size:
        raise InvalidJobDescriptionError(
            f"{where} is {largest:g} degrees across; this service cuts fields of at most "
            f"{limits.max_field_size:g} degrees",
            line=source_line(element),
        )
    return dataclasses.replace(field, label=label)


def _element(root: etree._Element, name: str) -> etree._Element:
    found = root.find(f"image:{name}", _NS)
    return root if found is None else found


def _text(root: etree._Element, name: str) -> str | None:
    element = root.find(f"image:{name}", _NS)
    return None if element is None or element.text is None else element.text.strip()
