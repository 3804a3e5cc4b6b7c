"""Planning and running a staging job: which images to make, then making them.

The plan (each field with the frames overlapping it) is made from the archive index alone, without
opening any image, so the service can quote a job at createJob from the same plan the
worker follows; the plan also checks that no image would be larger than the service
makes, and none beyond the service's byte limits (:mod:`.limits`), so a job that could
only fail is refused at createJob. The quote's bytes are what
the run may write: a run that would stage more than the quote plus a margin stops in
ERROR before writing the image that would cross it (:class:`.budget.StagingBudget`), so a wrong
estimate cannot fill the disk. Images are written into
the resource's folder and announced as results; with progressive staging each one as
soon as it is ready. Each image's table row is appended to a file in the folder
(:data:`.state.ROWS_FILE`) just before the image is announced, so the job state, which lists
the rows whose image is announced, grows with the results at a constant cost per image.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ...core.contract import JobContext
from ...core.errors import JobFailure
from ...core.model import Result
from .archive import ArchiveIndex
from .budget import OverBudget, StagingBudget
from .cutout import StagedImage, make_cutout
from .fields import Field, tangent_plane
from .frames import Frame
from .jdl import ImageJob
from .limits import StagingLimits
from .mosaic import make_mosaic, mosaic_shape
from .obscore import image_row
from .state import ROWS_FILE, ImageState, UncoveredField

#: FITS header and padding around the pixels of one image, for size estimates.
_FITS_OVERHEAD_BYTES = 2 * 2880


@dataclass(frozen=True)
class PlannedImage:
    """One image the job will make: a field and the frames it is made from.

    ``pixel_scale`` (degrees per pixel) is that of a mosaic: the job's, or the finest of
    its frames; None for a cutout, which keeps its frame's pixels.
    """

    field: Field
    frames: tuple[Frame, ...]
    pixel_scale: float | None = None

    @cached_property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the image in pixels, from the index alone."""
        if self.pixel_scale is not None:
            return mosaic_shape(self.field, pixel_scale=self.pixel_scale, max_side=2**31)
        return cutout_shape(self.frames[0], self.field)

    @property
    def side(self) -> int:
        """The longer side of the image in pixels."""
        return max(self.shape)

    @property
    def estimated_bytes(self) -> int:
        """The size of the image's FITS file: its pixels as floats, plus headers."""
        height, width = self.shape
        # Mosaics are float32; a cutout keeps its frame's values (float32 or float64).
        pixel_bytes = 4 if self.pixel_scale is not None else self.frames[0].pixel_bytes
        return height * width * pixel_bytes + _FITS_OVERHEAD_BYTES


def cutout_shape(frame: Frame, field: Field) -> tuple[int, int]:
    """(height, width) of the cutout of ``field`` from ``frame``, from the index alone.

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
    width = math.ceil(2.0 * (half_x * cos + half_y * sin) / step + 1.0)
    height = math.ceil(2.0 * (half_x * sin + half_y * cos) / step + 1.0)
    return height, width


@dataclass(frozen=True)
class Plan:
    """Every image of a job, and the fields no frame covers (with the reason)."""

    images: tuple[PlannedImage, ...]
    uncovered: tuple[tuple[Field, str], ...]

    @property
    def estimated_bytes(self) -> int:
        """What the staged images will take on disk, roughly."""
        return sum(image.estimated_bytes for image in self.images)


def plan(job: ImageJob, index: ArchiveIndex, *, limits: StagingLimits | None = None) -> Plan:
    """What ``job`` will stage from the archive behind ``index``.

    With ``limits`` (at createJob), each field's images are checked as soon as they are
    planned, and a job beyond a limit is refused before the rest is planned.
    """
    images: list[PlannedImage] = []
    uncovered: list[tuple[Field, str]] = []
    for field in job.fields:
        frames = index.covering(field, band=job.band, collection=job.collection)
        if not frames:
            uncovered.append((field, _no_frame_reason(job)))
            continue
        if job.mode == "mosaic":
            # One mosaic per band: frames of different bands do not add up.
            field_images = []
            for band in sorted({frame.band or "" for frame in frames}):
                used = tuple(f for f in frames if (f.band or "") == band)
                scale = job.pixel_scale or min(frame.pixel_scale for frame in used)
                field_images.append(PlannedImage(field=field, frames=used, pixel_scale=scale))
        else:
            field_images = [PlannedImage(field=field, frames=(frame,)) for frame in frames]
        if limits is not None:
            limits.check_field(
                field_images,
                mosaic=job.mode == "mosaic",
                images_before=len(images),
            )
        images.extend(field_images)
    return Plan(images=tuple(images), uncovered=tuple(uncovered))


def initial_state(job: ImageJob, staging: Plan) -> ImageState:
    """The job state at createJob: what will be staged, nothing staged yet.

    ``quoted_bytes`` is the quote's estimate, the run's budget (:class:`.budget.StagingBudget`).
    """
    return ImageState(
        mode=job.mode,
        fields=len(job.fields),
        expected=len(staging.images),
        quoted_bytes=staging.estimated_bytes,
        uncovered=tuple(
            # read_job labels every field (given id, or "field{n}").
            UncoveredField(field=str(field.label), ra=field.ra, dec=field.dec, reason=reason)
            for field, reason in staging.uncovered
        ),
    )


def stage(
    job: ImageJob,
    index: ArchiveIndex,
    context: JobContext,
    *,
    publisher: str,
    max_side: int,
    max_image_bytes: int,
    margin: float,
) -> None:
    """Make every image of ``job`` in ``context.workdir`` and announce them as results.

    The run may write the bytes quoted at createJob (``quoted_bytes`` of the job state)
    plus ``margin`` (a fraction), and no image larger than ``max_image_bytes``: an image
    that would go beyond is not written, and the job fails keeping the images staged so
    far. A run after a restart starts over: the plan is made again and every image
    rewritten (results are replaced by name), so nothing half-written survives.
    """
    staging = plan(job, index)
    # A job quoted before quotes were kept is held to the plan's own estimate.
    quoted = ImageState.from_dict(context.jdl_state).quoted_bytes
    if quoted is None:
        quoted = staging.estimated_bytes
    budget = StagingBudget(quoted_bytes=quoted, margin=margin, max_image_bytes=max_image_bytes)
    context.set_state(replace(initial_state(job, staging), quoted_bytes=quoted).to_dict())
    context.progress(0.0 if staging.images else 1.0)
    pending: list[Result] = []
    with (context.workdir / ROWS_FILE).open("w", encoding="utf-8") as rows:
        for number, image in enumerate(staging.images, start=1):
            name = result_name(number, image)
            where = f"image {number} (field {image.field.label!r})"
            try:
                staged = _make(
                    job, image, context, name, max_side=max_side, max_bytes=budget.next_image
                )
            except OverBudget as error:
                raise JobFailure(f"{where}: {error}: {budget.explain()}") from error
            except (OSError, ValueError) as error:
                raise JobFailure(f"{where}: {error}") from error
            budget.add(staged.size)
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


def _make(
    job: ImageJob,
    image: PlannedImage,
    context: JobContext,
    name: str,
    *,
    max_side: int,
    max_bytes: int,
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
            max_bytes=max_bytes,
        )
    return make_cutout(
        image.frames[0], image.field, destination, max_side=max_side, max_bytes=max_bytes
    )


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
