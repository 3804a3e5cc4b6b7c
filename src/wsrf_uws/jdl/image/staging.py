"""Planning and running a staging job: which images to make, then making them.

The plan (each field with the frames overlapping it) is made from the archive index alone, without
opening any image, so the service can quote a job at createJob from the same plan the
worker follows; the plan also checks that no image would be larger than the service
makes, so a job that could only fail is refused at createJob. Images are written into
the resource's folder and announced as results; with progressive staging each one as
soon as it is ready. Each image's table row is appended to a file in the folder
(:data:`ROWS_FILE`) just before the image is announced, so the job state, which lists
the rows whose image is announced, grows with the results at a constant cost per image.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...core.contract import JobContext
from ...core.errors import InvalidJobDescriptionError, JobFailure
from ...core.model import Result
from .archive import ArchiveIndex, Frame
from .cutout import StagedImage, make_cutout
from .fields import Field, tangent_plane
from .jdl import ImageJob
from .mosaic import make_mosaic, mosaic_shape
from .obscore import image_row

#: The table rows of the staged images, one JSON object per line, in the job's folder.
ROWS_FILE = "staged-images.jsonl"

#: FITS header and padding around the pixels of one image, for size estimates.
_FITS_OVERHEAD_BYTES = 2 * 2880


@dataclass(frozen=True)
class PlannedImage:
    """One image the job will make: a field and the frames it is made from."""

    field: Field
    frames: tuple[Frame, ...]

    @property
    def estimated_bytes(self) -> int:
        """Pixels of the field at the finest frame scale, as 32-bit values, plus headers."""
        scale = min(frame.pixel_scale for frame in self.frames)
        pixels = (self.field.width / scale) * (self.field.height / scale)
        return int(pixels * 4) + _FITS_OVERHEAD_BYTES

    def side(self, *, pixel_scale: float | None) -> int:
        """The longer side of the image in pixels (mosaics at ``pixel_scale`` deg/pixel)."""
        if len(self.frames) > 1 or pixel_scale is not None:
            scale = pixel_scale or min(frame.pixel_scale for frame in self.frames)
            height, width = mosaic_shape(self.field, pixel_scale=scale, max_side=2**31)
            return max(height, width)
        return cutout_side(self.frames[0], self.field)


def cutout_side(frame: Frame, field: Field) -> int:
    """The longer side of the cutout of ``field`` from ``frame``, from the index alone.

    The cutout keeps the frame's pixel grid, so it holds the field's rectangle turned by
    the frame's rotation; the rotation is that of the footprint's first edge, measured
    in the field's tangent plane (where both are straight).
    """
    corners = np.array(frame.footprint[:2])
    xi, eta, _ = tangent_plane(field.ra, field.dec, corners[:, 0], corners[:, 1])
    angle = math.atan2(float(eta[1] - eta[0]), float(xi[1] - xi[0]))
    cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
    half_x, half_y = field.half_extent
    step = math.radians(frame.pixel_scale)
    # One pixel more than the extent, as make_cutout adds for centring.
    extent = 2.0 * max(half_x * cos + half_y * sin, half_x * sin + half_y * cos)
    return math.ceil(extent / step + 1.0)


@dataclass(frozen=True)
class Plan:
    """Every image of a job, and the fields no frame covers (with the reason)."""

    images: tuple[PlannedImage, ...]
    uncovered: tuple[tuple[Field, str], ...]

    @property
    def estimated_bytes(self) -> int:
        """What the staged images will take on disk, roughly."""
        return sum(image.estimated_bytes for image in self.images)


def plan(job: ImageJob, index: ArchiveIndex) -> Plan:
    """What ``job`` will stage from the archive behind ``index``."""
    images: list[PlannedImage] = []
    uncovered: list[tuple[Field, str]] = []
    for field in job.fields:
        frames = index.covering(field, band=job.band, collection=job.collection)
        if not frames:
            uncovered.append((field, _no_frame_reason(job)))
        elif job.mode == "mosaic":
            # One mosaic per band: frames of different bands do not add up.
            bands = sorted({frame.band or "" for frame in frames})
            images.extend(
                PlannedImage(field=field, frames=tuple(f for f in frames if (f.band or "") == band))
                for band in bands
            )
        else:
            images.extend(PlannedImage(field=field, frames=(frame,)) for frame in frames)
    return Plan(images=tuple(images), uncovered=tuple(uncovered))


def check_sizes(job: ImageJob, staging: Plan, *, max_side: int) -> None:
    """Refuse a job one of whose images would be more than ``max_side`` pixels a side."""
    for image in staging.images:
        side = image.side(pixel_scale=job.pixel_scale if job.mode == "mosaic" else None)
        if side > max_side:
            kind = "mosaic" if job.mode == "mosaic" else f"cutout from {image.frames[0].obs_id}"
            raise InvalidJobDescriptionError(
                f"field {image.field.label!r}: its {kind} would be about {side} pixels across; "
                f"this service makes images of at most {max_side} pixels a side: ask for a "
                "smaller field" + (" or a coarser pixelScale" if job.mode == "mosaic" else "")
            )


def initial_state(job: ImageJob, staging: Plan) -> dict[str, Any]:
    """The job state at createJob: what will be staged, nothing staged yet."""
    return {
        "mode": job.mode,
        "fields": len(job.fields),
        "expected": len(staging.images),
        "uncovered": [
            {"field": field.label, "ra": field.ra, "dec": field.dec, "reason": reason}
            for field, reason in staging.uncovered
        ],
    }


def stage(
    job: ImageJob,
    index: ArchiveIndex,
    context: JobContext,
    *,
    publisher: str,
    max_side: int,
) -> None:
    """Make every image of ``job`` in ``context.workdir`` and announce them as results.

    A run after a restart starts over: the plan is made again and every image rewritten
    (results are replaced by name), so nothing half-written survives.
    """
    staging = plan(job, index)
    context.set_state(initial_state(job, staging))
    context.progress(0.0 if staging.images else 1.0)
    pending: list[Result] = []
    with (context.workdir / ROWS_FILE).open("w", encoding="utf-8") as rows:
        for number, image in enumerate(staging.images, start=1):
            name = result_name(number, image)
            try:
                staged = _make(job, image, context, name, max_side=max_side)
            except (OSError, ValueError) as error:
                raise JobFailure(
                    f"image {number} (field {image.field.label!r}): {error}"
                ) from error
            row = image_row(staged, field=image.field, result=name, publisher=publisher)
            # The row first: the table lists a row only once its result is announced, so
            # a reader never sees a row without its image (or the reverse).
            rows.write(json.dumps(row) + "\n")
            rows.flush()
            result = Result(name=name, location=name, mime_type="image/fits", size=staged.size)
            if job.progressive:
                context.add_result(result)
            else:
                pending.append(result)
            context.progress(number / len(staging.images))
    for result in pending:
        context.add_result(result)


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


def _make(
    job: ImageJob, image: PlannedImage, context: JobContext, name: str, *, max_side: int
) -> StagedImage:
    destination = context.workdir / name
    if job.mode == "mosaic":
        scale = job.pixel_scale or min(frame.pixel_scale for frame in image.frames)
        return make_mosaic(
            list(image.frames),
            image.field,
            pixel_scale=scale,
            destination=destination,
            max_side=max_side,
        )
    return make_cutout(image.frames[0], image.field, destination, max_side=max_side)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def result_name(number: int, image: PlannedImage) -> str:
    """A result name that is unique in the job and says what the image is."""
    what = "mosaic" if len(image.frames) > 1 else image.frames[0].obs_id
    stem = _UNSAFE.sub("_", f"{number:04d}-{image.field.label}-{what}").strip("_.")
    return f"{stem[:120]}.fits"


def _no_frame_reason(job: ImageJob) -> str:
    restrictions = [f"band {job.band!r}"] if job.band else []
    restrictions += [f"collection {job.collection!r}"] if job.collection else []
    if restrictions:
        return f"no frame of the archive in {' and '.join(restrictions)} overlaps this field"
    return "no frame of the archive overlaps this field"
