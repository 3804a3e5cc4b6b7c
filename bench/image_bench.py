"""Benchmark of the image contract's engine: cutouts, and the archive index.

Why: an image job's duration is its cutouts, and every createJob plans the job with the
archive index (which frames cover each field), so both set how fast the service answers.

What it measures, with baselines measured in the same run:

1. Cutouts from 2048x2048 float32 frames (1 arcsec per pixel, rotated TAN WCS) for fields of
   1' and 10': ``make_cutout`` per call (ms, cutouts per second), against
   - *section slice* (the baseline): open the file, read the same pixel box through
     ``hdu.section`` (the lazy read make_cutout uses), write it as a bare FITS file;
   - *memmap slice*: the same through a memory map (uncompressed files only);
   - *full read*: read the whole frame, slice it, write the box (what a naive cutout does).
   The ratio of make_cutout to the baseline is what the WCS handling, padding, keywords and
   the atomic (fsync'ed) write cost on top of reading and writing the pixels.
2. The archive index over N small frames scattered over a 10 x 10 degree patch: the time to
   index a new archive (frames per second; headers only), to re-open it unchanged, and the
   time of ``covering`` for random fields against a brute force that opens every frame's
   header, builds its WCS and tests the footprint (their ratio; both must agree).

Run from the project root: ``python bench/image_bench.py`` (quick preset, about 15 s) or
``python bench/image_bench.py --full`` (more frames and calls; a minute or two). Figures are
printed and written to ``bench/out/image_bench.json``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from wsrf_uws.jdl.image.archive import ArchiveIndex
from wsrf_uws.jdl.image.cutout import make_cutout
from wsrf_uws.jdl.image.fields import Field

from report import apply_preset, environment, percentile, table, write_figures

QUICK = {"frames": 2, "cutouts": 40, "archive": 50, "queries": 20}
FULL = {"frames": 4, "cutouts": 200, "archive": 500, "queries": 20}
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "image_bench.json"

BIG_SIDE = 2048
BIG_SCALE = 1.0 / 3600.0
CUTOUT_SIZES_ARCMIN = (1.0, 10.0)

warnings.simplefilter("ignore", AstropyWarning)


# -- frames ----------------------------------------------------------------------------------


def tan_header(ra: float, dec: float, *, side: int, scale: float, rotation: float) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(side + 1) / 2.0, (side + 1) / 2.0]
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    wcs.wcs.cd = np.array([[-scale * cos, scale * sin], [scale * sin, scale * cos]])
    wcs.wcs.radesys = "ICRS"
    return wcs.to_header()


def write_frame(
    path: Path, *, ra: float, dec: float, side: int, scale: float, rng: np.random.Generator
) -> None:
    header = tan_header(ra, dec, side=side, scale=scale, rotation=float(rng.uniform(0, 40)))
    header["OBS_ID"] = path.stem
    header["FILTER"] = "r"
    header["EXPTIME"] = 300.0
    header["MJD-OBS"] = 60000.0
    header["TELESCOP"] = "BENCH"
    data = rng.normal(100.0, 5.0, (side, side)).astype(np.float32)
    fits.PrimaryHDU(data, header).writeto(path)


# -- 1. cutouts --------------------------------------------------------------------------------


def timed_us(function: Callable[[], Any]) -> int:
    start = time.perf_counter_ns()
    function()
    return (time.perf_counter_ns() - start) // 1000


def summary(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    mean_ms = sum(ordered) / len(ordered) / 1000.0
    return {
        "calls": len(ordered),
        "p50_ms": percentile(ordered, 0.5) / 1000.0,
        "p90_ms": percentile(ordered, 0.9) / 1000.0,
        "mean_ms": mean_ms,
        "per_s": 1000.0 / mean_ms,
    }


def cutouts(args: argparse.Namespace, folder: Path, rng: np.random.Generator) -> dict[str, Any]:
    archive = folder / "big"
    archive.mkdir()
    start = time.perf_counter()
    for number in range(args.frames):
        write_frame(
            archive / f"big{number}.fits",
            ra=150.0 + number * 0.6,
            dec=2.0,
            side=BIG_SIDE,
            scale=BIG_SCALE,
            rng=rng,
        )
    made = time.perf_counter() - start
    index = ArchiveIndex.open(archive, index_path=folder / "big.sqlite")
    frames = index.frames()
    out = folder / "cutouts"
    results: dict[str, Any] = {"frames": len(frames), "make_frames_s": made, "sizes": {}}
    for size_arcmin in CUTOUT_SIZES_ARCMIN:
        size = size_arcmin / 60.0
        ours: list[int] = []
        sliced: list[int] = []
        mapped: list[int] = []
        full: list[int] = []
        for call in range(args.cutouts):
            frame = frames[call % len(frames)]
            # Anywhere on the frame with the whole field inside it.
            margin = size / BIG_SCALE
            x, y = rng.uniform(margin, BIG_SIDE - margin, 2)
            wcs = WCS(fits.getheader(frame.path))
            ra, dec = (float(v) for v in wcs.pixel_to_world_values(x, y))
            field = Field(ra, dec, size, size)
            half = round(size / BIG_SCALE / 2.0)
            box = (slice(round(y) - half, round(y) + half), slice(round(x) - half, round(x) + half))
            destination = out / f"{size_arcmin:g}-{call}.fits"
            ours.append(timed_us(partial(make_cutout, frame, field, destination)))
            sliced.append(timed_us(partial(slice_baseline, frame.path, box, out / "s.fits")))
            mapped.append(timed_us(partial(memmap_baseline, frame.path, box, out / "m.fits")))
            full.append(timed_us(partial(full_read_baseline, frame.path, box, out / "f.fits")))
        results["sizes"][f"{size_arcmin:g}arcmin"] = {
            "make_cutout": summary(ours),
            "slice": summary(sliced),
            "memmap": summary(mapped),
            "full_read": summary(full),
        }
    index.close()
    return results


def slice_baseline(path: Path, box: tuple[slice, slice], destination: Path) -> None:
    with fits.open(path, memmap=False) as hdus:
        data = hdus[0].section[box]
    fits.PrimaryHDU(data).writeto(destination, overwrite=True)


def memmap_baseline(path: Path, box: tuple[slice, slice], destination: Path) -> None:
    with fits.open(path, memmap=True) as hdus:
        data = np.array(hdus[0].data[box])
    fits.PrimaryHDU(data).writeto(destination, overwrite=True)


def full_read_baseline(path: Path, box: tuple[slice, slice], destination: Path) -> None:
    data = fits.getdata(path, memmap=False)
    fits.PrimaryHDU(data[box]).writeto(destination, overwrite=True)


# -- 2. the index ----------------------------------------------------------------------------


def index_figures(
    args: argparse.Namespace, folder: Path, rng: np.random.Generator
) -> dict[str, Any]:
    archive = folder / "small"
    archive.mkdir()
    for number in range(args.archive):
        write_frame(
            archive / f"f{number:05d}.fits",
            ra=float(rng.uniform(100.0, 110.0)),
            dec=float(rng.uniform(-5.0, 5.0)),
            side=64,
            scale=float(rng.uniform(0.1, 0.3)) / 64,
            rng=rng,
        )
    index_path = folder / "small.sqlite"
    start = time.perf_counter()
    index = ArchiveIndex.open(archive, index_path=index_path)
    first = time.perf_counter() - start
    index.close()
    start = time.perf_counter()
    index = ArchiveIndex.open(archive, index_path=index_path)
    again = time.perf_counter() - start

    paths = sorted(archive.iterdir())
    ours: list[int] = []
    brute: list[int] = []
    found = disagreements = 0
    for _ in range(args.queries):
        size = float(rng.uniform(0.05, 0.5))
        field = Field(float(rng.uniform(100.0, 110.0)), float(rng.uniform(-5.0, 5.0)), size, size)
        answer: list[str] = []
        expected: list[str] = []
        ours.append(timed_us(partial(covering_ids, index, field, answer)))
        brute.append(timed_us(partial(brute_force, paths, field, expected)))
        found += len(answer)
        disagreements += sorted(answer) != sorted(expected)
    index.close()
    return {
        "frames": args.archive,
        "index_new_s": first,
        "index_frames_per_s": args.archive / first,
        "reopen_unchanged_s": again,
        "queries": args.queries,
        "frames_found": found,
        "disagreements": disagreements,
        "covering": summary(ours),
        "brute_force": summary(brute),
    }


def covering_ids(index: ArchiveIndex, field: Field, found: list[str]) -> None:
    found.extend(frame.obs_id for frame in index.covering(field))


def brute_force(paths: list[Path], field: Field, found: list[str]) -> None:
    """Open every header, build its WCS and footprint, test it against the field."""
    for path in paths:
        header = fits.getheader(path)
        wcs = WCS(header)
        corners = wcs.calc_footprint(axes=(header["NAXIS1"], header["NAXIS2"]), center=False)
        if field.overlaps([(float(r), float(d)) for r, d in corners]):
            found.append(header["OBS_ID"])


# -- report ----------------------------------------------------------------------------------


def row(label: str, figures: dict[str, float], baseline: dict[str, float] | None) -> list[str]:
    ratio = f"{figures['mean_ms'] / baseline['mean_ms']:.2f}" if baseline else "1.00"
    return [
        label,
        f"{figures['calls']:,}",
        f"{figures['p50_ms']:.2f}",
        f"{figures['p90_ms']:.2f}",
        f"{figures['mean_ms']:.2f}",
        f"{figures['per_s']:,.0f}",
        ratio,
    ]


def report(env: dict[str, Any], cut: dict[str, Any], idx: dict[str, Any], full: bool) -> str:
    lines = [
        "wsrf_uws image benchmark" + ("" if full else " (quick preset; --full for more calls)"),
        f"Python {env['python']}, astropy {env['astropy']}, numpy {env['numpy']}, "
        f"{env['cpus']} CPUs, {env['platform']}",
        "",
        f"1. Cutouts from {cut['frames']} frames of {BIG_SIDE}x{BIG_SIDE} float32 "
        f"(made in {cut['make_frames_s']:.1f} s); ratio = mean time / the slice baseline's",
        "",
    ]
    rows = []
    for size, figures in cut["sizes"].items():
        base = figures["slice"]
        rows.append(row(f"{size} make_cutout", figures["make_cutout"], base))
        rows.append(row(f"{size} section slice (baseline)", base, None))
        rows.append(row(f"{size} memmap slice", figures["memmap"], base))
        rows.append(row(f"{size} full read", figures["full_read"], base))
    lines.append(table(["cutout", "calls", "p50 ms", "p90 ms", "mean ms", "per s", "ratio"], rows))
    ratio = idx["brute_force"]["mean_ms"] / idx["covering"]["mean_ms"]
    lines += [
        "",
        f"2. Archive index of {idx['frames']:,} frames of 64x64 pixels over 10x10 degrees",
        "",
        f"indexing a new archive: {idx['index_new_s']:.2f} s "
        f"({idx['index_frames_per_s']:,.0f} frames/s); re-opening it unchanged: "
        f"{idx['reopen_unchanged_s'] * 1000:.1f} ms",
        "",
        table(
            ["query", "calls", "p50 ms", "p90 ms", "mean ms", "per s", "ratio"],
            [
                row("covering", idx["covering"], None),
                row("brute force", idx["brute_force"], idx["covering"]),
            ],
        ),
        "",
        f"covering is {ratio:,.0f}x faster than opening every header; "
        f"{idx['frames_found']} frames found in {idx['queries']} queries, "
        f"{idx['disagreements']} disagreements with the brute force",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="more frames and calls (minutes)")
    parser.add_argument("--frames", type=int, help="2048x2048 frames to cut from (2; --full 4)")
    parser.add_argument("--cutouts", type=int, help="cutouts per size (40; --full 200)")
    parser.add_argument(
        "--archive", type=int, help="frames in the indexed archive (50; --full 500)"
    )
    parser.add_argument("--queries", type=int, help="covering queries (20; --full 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    return apply_preset(args, FULL if args.full else QUICK)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    env = environment("astropy", "numpy")
    with tempfile.TemporaryDirectory(prefix="image-bench-") as scratch:
        folder = Path(scratch)
        cut = cutouts(args, folder, rng)
        idx = index_figures(args, folder, rng)
    print(report(env, cut, idx, args.full))
    figures = {
        "environment": env,
        "full": args.full,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "cutouts": cut,
        "index": idx,
    }
    write_figures(args.out, figures)


if __name__ == "__main__":
    main()
