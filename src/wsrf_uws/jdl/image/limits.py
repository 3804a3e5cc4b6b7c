"""What the service stages for one job: pixels and bytes per image, bytes per field,
images per job; checked field by field while the job is planned at createJob.

A field covered by many frames makes a cutout from each, and a cutout is as large as the
field whatever the frame (pixels beyond it are NaN), so a few hundred large fields can
ask for hundreds of gigabytes. The plan is checked as it grows, so such a job is refused
when its first field crosses a limit, without planning the rest: the cost of a refusal
does not grow with the size of the request. The bytes of the whole job are the owner's
quota, which the core checks against the quote (``[quotas] max_job_bytes``, smaller for
anonymous callers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.errors import InvalidJobDescriptionError, QuotaExceededError
from ...core.sizes import format_bytes

if TYPE_CHECKING:
    from .staging import PlannedImage

__all__ = ["StagingLimits"]


@dataclass(frozen=True)
class StagingLimits:
    """The limits of one job (from ``[image]`` settings)."""

    max_side: int
    max_image_bytes: int
    max_field_bytes: int
    max_images: int

    def check_field(
        self,
        images: Sequence[PlannedImage],
        *,
        mosaic: bool,
        images_before: int,
    ) -> None:
        """Refuse the job if the ``images`` of one field, added to the ``images_before``
        images planned for earlier fields, cross a limit.

        An image too large to make is an ``InvalidJobDescriptionError`` (the job could
        only fail); the rest are quotas (``QuotaExceededError``).
        """
        remedy = "ask for a smaller field" + (" or a coarser pixelScale" if mosaic else "")
        for image in images:
            kind = "mosaic" if mosaic else f"cutout from {image.frames[0].obs_id}"
            where = f"field {image.field.label!r}: its {kind}"
            if image.side > self.max_side:
                raise InvalidJobDescriptionError(
                    f"{where} would be about {image.side} pixels across; this service makes "
                    f"images of at most {self.max_side} pixels a side: {remedy}"
                )
            if image.estimated_bytes > self.max_image_bytes:
                raise InvalidJobDescriptionError(
                    f"{where} would take about {format_bytes(image.estimated_bytes)}; this service "
                    f"makes images of at most {format_bytes(self.max_image_bytes)}: {remedy}"
                )
        if not images:
            return
        field_bytes = sum(image.estimated_bytes for image in images)
        label = images[0].field.label
        if field_bytes > self.max_field_bytes:
            raise QuotaExceededError(
                f"field {label!r} would stage {len(images)} images of about "
                f"{format_bytes(field_bytes)} together; this service stages at most "
                f"{format_bytes(self.max_field_bytes)} per field: ask for a smaller field, or "
                "restrict the band or the collection"
            )
        count = images_before + len(images)
        if count > self.max_images:
            raise QuotaExceededError(
                f"the job would stage at least {count} images (up to field {label!r}); this "
                f"service stages at most {self.max_images} per job: ask for fewer fields, or "
                "restrict the band or the collection"
            )
