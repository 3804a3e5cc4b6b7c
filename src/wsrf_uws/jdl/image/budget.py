"""The bytes a staging run may write, checked before each image is written.

createJob quotes a job's bytes from the archive index and refuses a job beyond the
service's limits; the run then holds to that quote. An estimate can be wrong (a frame
re-written since it was indexed, an unusual file), so each image is measured before it is
written and the run stops, in ERROR and with the images staged so far, rather than write
more than the quote plus a margin: the disk holds what was accepted, not what the
archive happens to produce.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.sizes import format_bytes

__all__ = ["OverBudget", "StagingBudget", "check_size"]


class OverBudget(ValueError):
    """An image would take more bytes than the run may still write; nothing was written."""


@dataclass
class StagingBudget:
    """The bytes a run may still write: the quote plus ``margin`` (a fraction, 0.25 for
    25%), and at most ``max_image_bytes`` for any one image."""

    quoted_bytes: int
    margin: float
    max_image_bytes: int
    staged_bytes: int = 0

    @property
    def total(self) -> int:
        """The most bytes the run may stage."""
        return int(self.quoted_bytes * (1.0 + self.margin))

    @property
    def next_image(self) -> int:
        """The largest the next image may be, in bytes."""
        return max(0, min(self.max_image_bytes, self.total - self.staged_bytes))

    def add(self, size: int) -> None:
        """Count an image of ``size`` bytes just written."""
        self.staged_bytes += size

    def explain(self) -> str:
        """Why an image larger than :attr:`next_image` is not written."""
        if self.next_image == self.max_image_bytes:
            return f"this service makes images of at most {format_bytes(self.max_image_bytes)}"
        return (
            f"the job was quoted {format_bytes(self.quoted_bytes)} and may stage {self.margin:.0%} "
            f"more, {format_bytes(self.total)}, of which {format_bytes(self.staged_bytes)} are "
            "staged: the estimate was wrong, and staging stops rather than fill the disk"
        )


def check_size(size: int, *, max_bytes: int | None, what: str) -> None:
    """Raise :class:`OverBudget` if ``what`` (an image about to be written) is too large."""
    if max_bytes is not None and size > max_bytes:
        raise OverBudget(
            f"{what} would take {format_bytes(size)}; "
            f"at most {format_bytes(max_bytes)} may be written"
        )
