"""The contract ``image``: cutouts and mosaics from a FITS archive, staged for the lifetime.

A job lists fields on the sky (:mod:`.jdl`). At createJob the service plans the job
from the archive index (:mod:`.staging`): the images it will make, the fields nothing
covers, and from those the quote (seconds and bytes). A job one of whose images or
fields would take more than the ``[image]`` limits allow is refused then (:mod:`.limits`;
the whole job's bytes are the owner's quota, which the core checks against the quote),
and the run holds to the quote (:mod:`.budget`). The run writes the images into the
resource's folder, where they stay, downloadable, until the resource is destroyed or
expires; ``SetTerminationTime`` keeps them longer. The job only writes inside its own
folder, so it is isolated: after a restart it runs again by itself.

Without a configured archive the service generates a small demonstration archive in
its data folder on first use (:mod:`.demo`).

The archive, staging and state modules (astropy, cdshealpix: about 0.3 s) are imported
on first use, not with this module: a service restarting with many resources serves
again before its first image request needs them. The warm parent of the contract's jobs
preloads them (:attr:`ImageContract.preload`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from lxml import etree

from ...core.contract import Assessment, Contract, ContractEnvironment, JobContext
from ...core.model import Job, Quote, Result
from ...published import schema_path
from .jdl import NAMESPACE, ImageJob, JobLimits, read_job
from .limits import StagingLimits
from .settings import ImageSettings

if TYPE_CHECKING:
    from .archive import ArchiveIndex

log = logging.getLogger(__name__)

#: Address space a worker maps before it opens a frame: Python, numpy, astropy and, for
#: mosaics, reproject (measured: 1.6 GiB mapped for 0.15 GiB resident).
ADDRESS_SPACE_RESERVE = 2 * 1024**3
#: Copies of the largest image a worker may hold at once (a cutout's pixels, their float
#: conversion, a mosaic's sum and coverage arrays).
IMAGE_COPIES = 8


class ImageContract(Contract):
    """Image service with data staging, namespace ``urn:wsrf-uws:image:v1``."""

    name = "image"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("image.xsd")
    settings_model = ImageSettings
    #: What a run imports: staging (with the archive, astropy) and a mosaic's reproject
    #: (scipy, dask: about 0.5 s).
    preload = ("wsrf_uws.jdl.image.staging", "reproject", "reproject.mosaicking")

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        super().__init__(environment)
        self.options: ImageSettings = self.settings
        self.authority = self.environment.authority
        #: The folder of FITS images, and the index of it (kept beside the store).
        self.archive = self.options.archive or self.data_dir / "image" / "demo-archive"
        self.index_path = self.data_dir / "image" / "archive-index.sqlite"
        self.limits = JobLimits(
            max_fields=self.options.max_fields,
            max_field_size=self.options.max_field_size,
        )

    @property
    def index(self) -> ArchiveIndex:
        """The archive's index, brought up to date on first use in each process.

        The first use also generates the demonstration archive when no archive is
        configured.
        """
        return self.per_process("index", self._open_index)

    def _open_index(self) -> ArchiveIndex:
        from .archive import ArchiveIndex
        from .demo import make_demo_archive

        if self.options.archive is None:
            make_demo_archive(self.archive)
        elif not self.archive.is_dir():
            raise FileNotFoundError(f"the image archive {self.archive} does not exist")
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        index = ArchiveIndex.open(self.archive, index_path=self.index_path)
        for path, reason in index.skipped:
            log.warning("image archive: skipped %s: %s", path, reason)
        return index

    def describe(self, root: etree._Element) -> ImageJob:
        return read_job(root, limits=self.limits)

    def assess(self, description: ImageJob, *, owner: str) -> Assessment:
        from .staging import initial_state, plan

        staging = plan(description, self.index, limits=self.staging_limits())
        frames = sum(len(image.frames) for image in staging.images)
        return Assessment(
            quote=Quote(
                duration=timedelta(seconds=frames * self.options.seconds_per_image),
                cost={"bytes": float(staging.estimated_bytes), "images": len(staging.images)},
            ),
            execution_duration=description.execution_duration,
            jdl_state=initial_state(description, staging).to_dict(),
        )

    def job_memory_bytes(self, *, default: int) -> int:
        """Room to memory-map the largest frame file and work on the largest image.

        The address-space limit (RLIMIT_AS) counts memory maps and what libraries
        reserve, not what they use: a mosaic of the largest size maps 2 GiB, the
        service's default. The memory a staging job uses is bounded by the image limits
        (``max_image_pixels``, ``max_image_bytes``) instead, and the address-space limit
        stays a backstop above what the largest image needs.
        """
        if default <= 0:
            return default
        needed = (
            ADDRESS_SPACE_RESERVE
            + self.per_process("largest_file_bytes", self._largest_file_bytes)
            + IMAGE_COPIES * self.options.max_image_bytes
        )
        return max(default, needed)

    def _largest_file_bytes(self) -> int:
        """The largest frame file the index knows, read once per process.

        The executor asks while it starts a job, holding its lock: the index file is read
        as it is, never brought up to date here (that walks the whole archive).
        """
        if not self.index_path.is_file():
            return 0  # no job was ever assessed: none can be running
        from .archive import ArchiveIndex

        index = ArchiveIndex.open(self.archive, index_path=self.index_path, refresh=False)
        try:
            return index.largest_file_bytes()
        finally:
            index.close()

    def staging_limits(self) -> StagingLimits:
        """What one job may stage (the bytes of the whole job are the owner's quota)."""
        return StagingLimits(
            max_side=self.options.max_image_pixels,
            max_image_bytes=self.options.max_image_bytes,
            max_field_bytes=self.options.max_field_bytes,
            max_images=self.options.max_images,
        )

    def run(self, description: ImageJob, context: JobContext) -> None:
        from .archive import ArchiveIndex
        from .staging import stage

        publisher = f"ivo://{self.authority}/image?{context.resource_id}"
        # The service process keeps the index up to date; a worker only reads it.
        index = ArchiveIndex.open(self.archive, index_path=self.index_path, refresh=False)
        try:
            stage(
                description,
                index,
                context,
                publisher=publisher,
                max_side=self.options.max_image_pixels,
                max_image_bytes=self.options.max_image_bytes,
                margin=self.options.staging_margin,
            )
        finally:
            index.close()

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        from .state import state_element

        return state_element(job, workdir=self.job_folder(job.resource_id), result_url=result_url)
