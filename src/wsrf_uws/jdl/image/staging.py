"""Planning and running a staging job: which images to make, then making them.

The plan (each field with the frames overlapping it) is made from the archive index alone, without
opening any image, so the service can quote a job at createJob from the same plan the
worker follows. Images are written into the resource's folder and announced as
results; with progressive staging each one as soon as it is ready, with its row in the
job state, so a client polling the state sees the table grow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...core.contract import JobContext
from ...core.errors import JobFailure
from ...core.model import Result
from .archive import ArchiveIndex, Frame
from .cutout import StagedImage, make_cutout
from .fields import Field
from .jdl import ImageJob
from .mosaic import make_mosaic
from .obscore import image_row

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
        "rows": [],
    }


def stage(job: ImageJob, index: ArchiveIndex, context: JobContext, *, publisher: str) -> None:
    """Make every image of ``job`` in ``context.workdir`` and announce them as results.

    A run after a restart starts over: the plan is made again and every image rewritten
    (results are replaced by name), so nothing half-written survives.
    """
    staging = plan(job, index)
    state = initial_state(job, staging)
    context.set_state(state)
    context.progress(0.0 if staging.images else 1.0)
    pending: list[tuple[Result, dict[str, Any]]] = []
    for number, image in enumerate(staging.images, start=1):
        name = result_name(number, image)
        try:
            staged = _make(job, image, context, name)
        except (OSError, ValueError) as error:
            raise JobFailure(f"image {number} (field {image.field.label!r}): {error}") from error
        result = Result(name=name, location=name, mime_type="image/fits", size=staged.size)
        row = image_row(staged, field=image.field, result=name, publisher=publisher)
        if job.progressive:
            # The row first: the table lists a row only once its result is announced, so
            # a reader never sees a row without its image (or the reverse).
            state["rows"].append(row)
            context.set_state(state)
            context.add_result(result)
        else:
            pending.append((result, row))
        context.progress(number / len(staging.images))
    for result, row in pending:
        context.add_result(result)
        state["rows"].append(row)
    if pending:
        context.set_state(state)


def _make(job: ImageJob, image: PlannedImage, context: JobContext, name: str) -> StagedImage:
    destination = context.workdir / name
    if job.mode == "mosaic":
        scale = job.pixel_scale or min(frame.pixel_scale for frame in image.frames)
        return make_mosaic(
            list(image.frames), image.field, pixel_scale=scale, destination=destination
        )
    return make_cutout(image.frames[0], image.field, destination)


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
