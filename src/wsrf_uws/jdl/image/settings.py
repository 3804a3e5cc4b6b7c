"""The settings of the contract ``image``: the ``[image]`` section of the service settings.

The registry validates the section against :class:`ImageSettings` (the contract's
``settings_model``), with environment overrides ``WSRF_UWS_IMAGE__{FIELD}``, and the
contract receives the result in its environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ImageSettings(BaseModel):
    """The image service with data staging (``image``): its archive and its limits.

    In TOML under ``[image]``; in the environment as ``WSRF_UWS_IMAGE__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    archive: Path | None = Field(
        None,
        description="Folder of FITS images with a celestial WCS (searched recursively); "
        "none: a small demonstration archive generated into the data folder on first use.",
    )
    max_fields: int = Field(1000, ge=1, description="Most fields one job may ask for.")
    max_field_size: float = Field(
        2.0, gt=0, le=10, description="Largest width or height of a field, in degrees."
    )
    max_images: int = Field(
        10000, ge=1, description="Most images one job may stage (a cutout per field and frame)."
    )
    max_image_pixels: int = Field(
        4096,
        ge=16,
        le=16384,
        description="Largest width or height of a staged image (cutout or mosaic), in pixels.",
    )
    seconds_per_image: float = Field(
        0.05, ge=0, description="Time quoted for one cutout (mosaics: per frame resampled)."
    )
    max_field_bytes: int = Field(
        256 * 1024**2,
        ge=1024**2,
        description="Most bytes the images of one field may take (a field covered by many "
        "frames makes a cutout from each), by the quote.",
    )
    max_image_bytes: int = Field(
        80 * 1024**2,
        ge=64 * 1024,
        description="Largest staged image (cutout or mosaic), in bytes (the default holds a "
        "4096-pixel square of 32-bit floats): refused at createJob by its estimate, and not "
        "written at run time if the real one is larger.",
    )
    staging_margin: float = Field(
        0.25,
        ge=0,
        le=10,
        description="How far the bytes a run stages may exceed the quote (0.25: by 25%) "
        "before the job stops in ERROR, so a wrong estimate cannot fill the disk.",
    )
