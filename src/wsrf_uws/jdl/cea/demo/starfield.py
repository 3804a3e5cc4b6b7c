"""``wsrf-uws-starfield``: the demonstration library's long-running application.

It draws a synthetic star field (Gaussian stars on a noisy sky, in a FITS image with
a celestial TAN WCS) and writes the catalogue of the stars it placed as a VOTable.
The work is spread over ``--seconds`` in ``--steps`` steps, and the fraction complete
is written to ``progress.txt`` after each, so a client can watch a CEA job advance.
The same program, with fixed seeds, made the demonstration data the service
publishes under ``/demo/cea/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.io.votable.tree import Field, Resource, TableElement, VOTableFile
from astropy.wcs import WCS

PIXEL_DEGREES = 1.0 / 3600  # one arcsecond


def main(argv: list[str] | None = None) -> int:
    """Run the application; returns the exit status."""
    parser = argparse.ArgumentParser(prog="wsrf-uws-starfield", description=__doc__)
    parser.add_argument("--size", type=int, default=128, help="image width and height, pixels")
    parser.add_argument("--stars", type=int, default=50, help="number of stars")
    parser.add_argument("--ra", type=float, default=250.42, help="centre right ascension, deg")
    parser.add_argument("--dec", type=float, default=36.46, help="centre declination, deg")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--seconds", type=float, default=0.0, help="spread the work over this")
    parser.add_argument("--steps", type=int, default=10, help="progress reports")
    parser.add_argument("--image", type=Path, default=Path("starfield.fits"))
    parser.add_argument("--catalogue", type=Path, default=Path("stars.vot"))
    parser.add_argument("--progress", type=Path, default=Path("progress.txt"))
    args = parser.parse_args(argv)
    if not 8 <= args.size <= 4096 or args.stars < 0 or args.steps < 1:
        parser.error("size must lie in 8..4096, stars must not be negative, steps must be >= 1")

    rng = np.random.default_rng(args.seed)
    wcs = _wcs(args.size, args.ra, args.dec)
    image = rng.normal(100.0, 5.0, (args.size, args.size)).astype(np.float32)
    x = rng.uniform(0, args.size - 1, args.stars)
    y = rng.uniform(0, args.size - 1, args.stars)
    flux = rng.lognormal(8.0, 1.0, args.stars)
    rows, columns = np.mgrid[0 : args.size, 0 : args.size]
    chunks = np.array_split(np.arange(args.stars), args.steps)
    for step, chunk in enumerate(chunks, start=1):
        for i in chunk:
            image += (
                flux[i]
                / (2 * np.pi * 1.5**2)
                * np.exp(-((columns - x[i]) ** 2 + (rows - y[i]) ** 2) / (2 * 1.5**2))
            ).astype(np.float32)
        time.sleep(args.seconds / args.steps)
        _report(args.progress, step / args.steps, f"{chunk[-1] + 1 if len(chunk) else 0} stars")

    header = wcs.to_header()
    header["OBJECT"] = ("STARFIELD", "synthetic field made by wsrf-uws-starfield")
    header["BUNIT"] = "adu"
    header["SEED"] = (args.seed, "random seed")
    fits.PrimaryHDU(image, header).writeto(args.image, overwrite=True)
    ra, dec = wcs.pixel_to_world_values(x, y)
    _write_catalogue(args.catalogue, ra, dec, flux)
    return 0


def _wcs(size: int, ra: float, dec: float) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    wcs.wcs.cdelt = [-PIXEL_DEGREES, PIXEL_DEGREES]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.radesys = "ICRS"
    return wcs


def _report(path: Path, fraction: float, message: str) -> None:
    with path.open("a", encoding="utf-8") as stream:
        stream.write(f"{fraction:.3f} {message}\n")


def _write_catalogue(path: Path, ra: np.ndarray, dec: np.ndarray, flux: np.ndarray) -> None:
    document = VOTableFile()
    resource = Resource()
    document.resources.append(resource)
    table = TableElement(document, name="stars")
    resource.tables.append(table)
    table.fields.extend(
        [
            Field(document, name="id", datatype="int", ucd="meta.id;meta.main"),
            Field(document, name="ra", datatype="double", unit="deg", ucd="pos.eq.ra;meta.main"),
            Field(document, name="dec", datatype="double", unit="deg", ucd="pos.eq.dec;meta.main"),
            Field(document, name="flux", datatype="double", unit="adu", ucd="phot.flux"),
        ]
    )
    table.create_arrays(len(ra))
    for i in range(len(ra)):
        table.array[i] = (i + 1, ra[i], dec[i], flux[i])
    document.to_xml(str(path))


if __name__ == "__main__":
    raise SystemExit(main())
