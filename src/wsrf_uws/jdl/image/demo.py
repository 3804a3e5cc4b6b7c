"""A small synthetic FITS archive, so the image contract works (and is tested) out of the box.

Eighteen 512x512 float32 frames (about 1 MB each) at 2 arcsec per pixel: a 3x3 grid of
pointings about RA 150.1, Dec 2.2 (the COSMOS field), observed in g and in r. Each frame has its
own small dither and a rotation of 0 to 40 degrees, so neighbouring frames of one band overlap
only at some corners and rotated grids get exercised. The pixels are a sky background with
noise plus Gaussian stars drawn from one star list, so a star falls on the same sky position
in every frame that sees it (a mosaic test can match them). Headers carry a TAN WCS with a CD
matrix and the keywords ObsCore needs (OBS_ID, OBSCOLL, TELESCOP, INSTRUME, FILTER, EXPTIME,
MJD-OBS, MJD-END, DATE-OBS, BUNIT, WAVELMIN/WAVELMAX in nm).

Everything derives from the seed, so the files are the same byte for byte for a given seed
(with the same numpy). Each file is written under a temporary name and renamed; a file already
present from the same seed is left alone, so a second call on a complete archive writes
nothing.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from numpy.typing import NDArray

from .cutout import write_fits_atomically

__all__ = [
    "DEMO_BANDS",
    "DEMO_CENTRE",
    "DEMO_FILES",
    "DEMO_SEED",
    "DemoStar",
    "demo_archive_complete",
    "demo_stars",
    "make_demo_archive",
]

#: The default seed.
DEMO_SEED = 2005
#: The middle of the grid of pointings (RA, Dec) in degrees.
DEMO_CENTRE = (150.1, 2.2)
#: The bands observed, each over the whole grid.
DEMO_BANDS = ("g", "r")
#: Pointings per side of the grid.
GRID = 3
#: Frame side in pixels, and pixel size in degrees (2 arcsec).
SIDE = 512
SCALE = 2.0 / 3600.0
#: Distance between neighbouring pointings, degrees (a frame is 0.284 degrees across).
SPACING = 0.3
#: The files of a complete archive, in order.
DEMO_FILES = tuple(
    f"demo-{band}-{number:02d}.fits" for band in DEMO_BANDS for number in range(GRID * GRID)
)

# Bumped whenever the generated pixels or headers change, so an old archive is regenerated.
_VERSION = 1
_STAR_DENSITY = 3500.0  # stars per square degree
_BAND_SETUP = {
    # band: (sky level ADU, exposure s, first MJD, wavelength range nm)
    "g": (150.0, 120.0, 60400.10, (401.0, 550.0)),
    "r": (320.0, 90.0, 60401.12, (562.0, 695.0)),
}
_STAMP = 6  # stars are drawn on (2 * _STAMP + 1)^2 pixel stamps


@dataclass(frozen=True)
class DemoStar:
    """One star of the demo sky: position (degrees) and peak brightness per band (ADU)."""

    ra: float
    dec: float
    peak: dict[str, float]


def demo_stars(*, seed: int = DEMO_SEED) -> list[DemoStar]:
    """The stars every demo frame is drawn from (brightest first)."""
    ra, dec, peaks = _star_list(seed)
    order = np.argsort(-peaks["r"], kind="stable")
    return [
        DemoStar(float(ra[i]), float(dec[i]), {band: float(peaks[band][i]) for band in DEMO_BANDS})
        for i in order
    ]


def make_demo_archive(folder: Path, *, seed: int = DEMO_SEED) -> list[Path]:
    """Write the demo archive into ``folder`` (created if needed); return its files in order.

    Files already there from the same seed and version are kept as they are.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stars: tuple[NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]] | None
    stars = None
    paths = []
    for band_number, band in enumerate(DEMO_BANDS):
        for number in range(GRID * GRID):
            path = folder / f"demo-{band}-{number:02d}.fits"
            paths.append(path)
            plan = _plan(seed, band_number, band, number)
            if _is_current(path, plan):
                continue
            if stars is None:
                stars = _star_list(seed)
            write_fits_atomically(_render(plan, stars), path)
    return paths


def demo_archive_complete(folder: Path, *, seed: int = DEMO_SEED) -> bool:
    """Whether ``folder`` holds every demo file, each complete and made from ``seed``."""
    folder = Path(folder)
    return all(
        _is_current(folder / f"demo-{band}-{number:02d}.fits", _plan(seed, i, band, number))
        for i, band in enumerate(DEMO_BANDS)
        for number in range(GRID * GRID)
    )


# -- one frame ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Everything about one frame except its pixels."""

    band: str
    number: int
    header: fits.Header
    wcs: WCS
    seed: tuple[int, ...]
    sky: float
    sigma: float  # of the stars' Gaussian, pixels

    @property
    def file_bytes(self) -> int:
        header_bytes = len(self.header.tostring(padding=True))
        data_bytes = SIDE * SIDE * 4
        return header_bytes + math.ceil(data_bytes / 2880) * 2880


def _plan(seed: int, band_number: int, band: str, number: int) -> _Plan:
    stream = np.random.default_rng([seed, 1, band_number, number])
    row, column = divmod(number, GRID)
    offset = (GRID - 1) / 2.0
    dither = stream.uniform(-30.0, 30.0, 2) / 3600.0
    centre_dec = DEMO_CENTRE[1] + (row - offset) * SPACING + dither[1]
    centre_ra = DEMO_CENTRE[0] + ((column - offset) * SPACING + dither[0]) / math.cos(
        math.radians(centre_dec)
    )
    rotation = math.radians(stream.uniform(0.0, 40.0))
    sigma = float(stream.uniform(1.0, 1.4))
    sky, exptime, first_mjd, (wave_min, wave_max) = _BAND_SETUP[band]
    # An observing sequence: one frame every exposure plus 40 s of overheads.
    mjd_obs = round(first_mjd + number * (exptime + 40.0) / 86400.0, 8)
    mjd_end = round(mjd_obs + exptime / 86400.0, 8)

    cos, sin = math.cos(rotation), math.sin(rotation)
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = SIDE
    header["NAXIS2"] = SIDE
    header["EXTEND"] = True
    header["WCSAXES"] = 2
    header["CTYPE1"] = ("RA---TAN", "Gnomonic projection")
    header["CTYPE2"] = ("DEC--TAN", "Gnomonic projection")
    header["CUNIT1"] = "deg"
    header["CUNIT2"] = "deg"
    header["CRVAL1"] = (round(centre_ra, 8), "[deg] RA at the reference pixel")
    header["CRVAL2"] = (round(centre_dec, 8), "[deg] Dec at the reference pixel")
    header["CRPIX1"] = (SIDE / 2.0 + 0.5, "Reference pixel: the middle of the frame")
    header["CRPIX2"] = (SIDE / 2.0 + 0.5, "Reference pixel: the middle of the frame")
    header["CD1_1"] = -SCALE * cos
    header["CD1_2"] = SCALE * sin
    header["CD2_1"] = SCALE * sin
    header["CD2_2"] = SCALE * cos
    header["RADESYS"] = "ICRS"
    header["EQUINOX"] = 2000.0
    header["OBS_ID"] = (f"demo-{band}-{number:02d}", "Observation identifier")
    header["OBSCOLL"] = ("wsrf-uws-demo", "Collection (ObsCore obs_collection)")
    header["OBJECT"] = ("COSMOS", "Target field")
    header["TELESCOP"] = ("DEMO-1.2m", "Synthetic telescope")
    header["INSTRUME"] = ("DEMOCAM", "Synthetic camera")
    header["FILTER"] = (band, "Filter")
    header["EXPTIME"] = (exptime, "[s] Exposure time")
    header["TIMESYS"] = "UTC"
    header["MJD-OBS"] = (mjd_obs, "[d] Start of the exposure (MJD)")
    header["MJD-END"] = (mjd_end, "[d] End of the exposure (MJD)")
    header["DATE-OBS"] = (Time(mjd_obs, format="mjd", scale="utc").isot, "Start of the exposure")
    header["BUNIT"] = ("adu", "Pixel unit")
    header["WAVELMIN"] = (wave_min, "[nm] Shortest wavelength of the filter")
    header["WAVELMAX"] = (wave_max, "[nm] Longest wavelength of the filter")
    header["GAIN"] = (1.5, "[e-/adu] Detector gain")
    header["SEEING"] = (round(sigma * 2.3548 * SCALE * 3600.0, 3), "[arcsec] PSF FWHM")
    header["ORIGIN"] = ("wsrf-uws demo archive", "Synthetic data: not a real observation")
    header["DEMOSEED"] = (seed, "Seed the demo archive was made from")
    header["DEMOVER"] = (_VERSION, "Version of the demo archive generator")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        wcs = WCS(header)
    return _Plan(band, number, header, wcs, (seed, 2, band_number, number), sky, sigma)


def _is_current(path: Path, plan: _Plan) -> bool:
    """Whether ``path`` is this frame, complete, from this seed and generator version."""
    try:
        if path.stat().st_size != plan.file_bytes:
            return False
        header = fits.getheader(path)
    except (OSError, ValueError):
        return False
    return bool(
        header.get("DEMOSEED") == plan.header["DEMOSEED"]
        and header.get("DEMOVER") == _VERSION
        and header.get("OBS_ID") == plan.header["OBS_ID"]
    )


def _render(
    plan: _Plan,
    stars: tuple[NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]],
) -> fits.PrimaryHDU:
    stream = np.random.default_rng(list(plan.seed))
    data = stream.normal(plan.sky, math.sqrt(plan.sky * 1.5) / 1.5, (SIDE, SIDE))
    ra, dec, peaks = stars
    x, y = plan.wcs.wcs_world2pix(ra, dec, 0)
    near = (x > -_STAMP) & (x < SIDE - 1 + _STAMP) & (y > -_STAMP) & (y < SIDE - 1 + _STAMP)
    _add_stars(data, x[near], y[near], peaks[plan.band][near], sigma=plan.sigma)
    header = plan.header.copy()
    return fits.PrimaryHDU(data=data.astype(np.float32), header=header)


def _add_stars(
    data: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    peak: NDArray[np.float64],
    *,
    sigma: float,
) -> None:
    """Add Gaussian stars of the given peaks at pixel positions (x, y), clipped to the frame."""
    offsets = np.arange(-_STAMP, _STAMP + 1)
    base_x = np.round(x).astype(np.int64)
    base_y = np.round(y).astype(np.int64)
    # Every (star, stamp row, stamp column) at once: a few hundred stars by 169 pixels.
    pixel_x = base_x[:, None, None] + offsets[None, None, :]
    pixel_y = base_y[:, None, None] + offsets[None, :, None]
    distance2 = (pixel_x - x[:, None, None]) ** 2 + (pixel_y - y[:, None, None]) ** 2
    flux = peak[:, None, None] * np.exp(-distance2 / (2.0 * sigma * sigma))
    inside = (pixel_x >= 0) & (pixel_x < SIDE) & (pixel_y >= 0) & (pixel_y < SIDE)
    inside = np.broadcast_to(inside, flux.shape)
    np.add.at(
        data,
        (
            np.broadcast_to(pixel_y, flux.shape)[inside],
            np.broadcast_to(pixel_x, flux.shape)[inside],
        ),
        flux[inside],
    )


def _star_list(
    seed: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Positions (degrees) and peaks (ADU per band) of the demo sky's stars."""
    stream = np.random.default_rng([seed, 0])
    half = (GRID - 1) / 2.0 * SPACING + 0.3  # beyond the outer frames, rotated or not
    count = int(_STAR_DENSITY * (2.0 * half) ** 2)
    dec = DEMO_CENTRE[1] + stream.uniform(-half, half, count)
    ra = DEMO_CENTRE[0] + stream.uniform(-half, half, count) / np.cos(np.radians(dec))
    # Many faint stars, few bright ones; colours g - r around 0.6 magnitudes.
    peak_r = 40.0 * (1.0 - stream.uniform(0.0, 1.0, count)) ** -1.2
    peak_r = np.minimum(peak_r, 50000.0)
    colour = stream.normal(0.6, 0.3, count)
    peaks = {"r": peak_r, "g": peak_r * 10.0 ** (-0.4 * colour) * 0.8}
    return ra, dec, peaks
