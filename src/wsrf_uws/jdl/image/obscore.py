"""The job state's table of staged images: ObsCore 1.1 / SIAv2 columns, one row per image.

A row is recorded (as JSON in the job state) when an image is staged; the table is
rendered on every read of the job state, with ``access_url`` pointing at the result's
download URL, so the URL follows the service's public address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from ...vo.columns import ColumnInfo
from .cutout import StagedImage
from .fields import Field

_SPATIAL = "Char.SpatialAxis."
_TIME = "Char.TimeAxis."
_SPECTRAL = "Char.SpectralAxis."

# name, datatype, unit, UCD, utype (after "obscore:"), description
_TABLE = (
    ("dataproduct_type", "char", None, "meta.code.class", "ObsDataset.dataProductType",
     "Data product type (image)"),
    ("calib_level", "short", None, "meta.code;obs.calib", "ObsDataset.calibLevel",
     "Calibration level: 2 for cutouts, 3 for mosaics"),
    ("obs_collection", "char", None, "meta.id", "DataID.Collection",
     "Collection of the frames used"),
    ("obs_id", "char", None, "meta.id", "DataID.observationID",
     "Identifier of the staged image"),
    ("obs_publisher_did", "char", None, "meta.ref.ivoid", "Curation.PublisherDID",
     "Identifier of the staged image at this service"),
    ("access_url", "char", None, "meta.ref.url", "Access.Reference",
     "Where the image downloads from, until the resource is destroyed"),
    ("access_format", "char", None, "meta.code.mime", "Access.Format", "Format of the image"),
    ("access_estsize", "long", "kbyte", "phys.size;meta.file", "Access.Size",
     "Size of the image file"),
    ("target_name", "char", None, "meta.id;src", "Target.Name",
     "Label of the field the image was made for"),
    ("s_ra", "double", "deg", "pos.eq.ra",
     _SPATIAL + "Coverage.Location.Coord.Position2D.Value2.C1",
     "Right ascension of the image centre (ICRS)"),
    ("s_dec", "double", "deg", "pos.eq.dec",
     _SPATIAL + "Coverage.Location.Coord.Position2D.Value2.C2",
     "Declination of the image centre (ICRS)"),
    ("s_fov", "double", "deg", "phys.angSize;instr.fov",
     _SPATIAL + "Coverage.Bounds.Extent.diameter", "Diameter of the image"),
    ("s_region", "char", None, "pos.outline;obs.field", _SPATIAL + "Coverage.Support.Area",
     "Outline of the image (STC-S)"),
    ("s_resolution", "double", "arcsec", "pos.angResolution",
     _SPATIAL + "Resolution.Refval.value", "Pixel scale"),
    ("s_xel1", "long", None, "meta.number", _SPATIAL + "numBins1",
     "Pixels along the first axis"),
    ("s_xel2", "long", None, "meta.number", _SPATIAL + "numBins2",
     "Pixels along the second axis"),
    ("t_min", "double", "d", "time.start;obs.exposure",
     _TIME + "Coverage.Bounds.Limits.StartTime", "Start of the exposures (MJD)"),
    ("t_max", "double", "d", "time.end;obs.exposure",
     _TIME + "Coverage.Bounds.Limits.StopTime", "End of the exposures (MJD)"),
    ("t_exptime", "double", "s", "time.duration;obs.exposure",
     _TIME + "Coverage.Support.Extent", "Exposure time"),
    ("t_resolution", "double", "s", "time.resolution", _TIME + "Resolution.Refval.value",
     "Time resolution (unknown)"),
    ("t_xel", "long", None, "meta.number", _TIME + "numBins", "Samples along time"),
    ("em_min", "double", "m", "em.wl;stat.min", _SPECTRAL + "Coverage.Bounds.Limits.LoLimit",
     "Shortest wavelength of the band"),
    ("em_max", "double", "m", "em.wl;stat.max", _SPECTRAL + "Coverage.Bounds.Limits.HiLimit",
     "Longest wavelength of the band"),
    ("em_res_power", "double", None, "spect.resolution",
     _SPECTRAL + "Resolution.ResolPower.refVal", "Spectral resolving power (unknown)"),
    ("em_xel", "long", None, "meta.number", _SPECTRAL + "numBins", "Samples along wavelength"),
    ("o_ucd", "char", None, "meta.ucd", "Char.ObservableAxis.ucd", "What the pixels measure"),
    ("pol_states", "char", None, "meta.code;phys.polarization",
     "Char.PolarizationAxis.stateList", "Polarization states (none)"),
    ("pol_xel", "long", None, "meta.number", "Char.PolarizationAxis.numBins",
     "Polarization samples"),
    ("facility_name", "char", None, "meta.id;instr.tel", "Provenance.ObsConfig.Facility.name",
     "Telescope"),
    ("instrument_name", "char", None, "meta.id;instr", "Provenance.ObsConfig.Instrument.name",
     "Instrument"),
)  # fmt: skip

#: The columns, in order: the ObsCore 1.1 mandatory set (names, units, UCDs, utypes).
COLUMNS: tuple[ColumnInfo, ...] = tuple(
    ColumnInfo(
        name,
        datatype,
        arraysize="*" if datatype == "char" else None,
        unit=unit,
        ucd=ucd,
        description=description,
        utype="obscore:" + utype,
    )
    for name, datatype, unit, ucd, utype, description in _TABLE
)


def image_row(staged: StagedImage, *, field: Field, result: str, publisher: str) -> dict[str, Any]:
    """The row of one staged image, as kept in the job state (``result`` names its file).

    ``access_url`` is filled in when the table is rendered (:func:`table`); ``publisher``
    is the job's IVOA identifier, which the image's identifier extends.
    """
    corners = " ".join(f"{ra:.7f} {dec:.7f}" for ra, dec in staged.footprint)
    return {
        "result": result,
        "dataproduct_type": "image",
        "calib_level": staged.calib_level,
        "obs_collection": staged.collection,
        "obs_id": staged.obs_id,
        "obs_publisher_did": f"{publisher}/{staged.obs_id}",
        "access_format": "image/fits",
        "access_estsize": max(1, round(staged.size / 1024)),
        "target_name": field.label,
        "s_ra": staged.ra,
        "s_dec": staged.dec,
        "s_fov": staged.fov,
        "s_region": f"Polygon ICRS {corners}",
        "s_resolution": staged.pixel_scale * 3600.0,
        "s_xel1": staged.naxis1,
        "s_xel2": staged.naxis2,
        "t_min": staged.t_min,
        "t_max": staged.t_max,
        "t_exptime": staged.exptime,
        "t_resolution": None,
        "t_xel": 1,
        "em_min": staged.em_min,
        "em_max": staged.em_max,
        "em_res_power": None,
        "em_xel": 1,
        "o_ucd": "phot.count",
        "pol_states": None,
        "pol_xel": None,
        "facility_name": staged.facility,
        "instrument_name": staged.instrument,
    }


_ARROW_TYPES = {
    "char": pa.string(),
    "short": pa.int16(),
    "long": pa.int64(),
    "double": pa.float64(),
}

#: The Arrow schema of the table, from :data:`COLUMNS`.
SCHEMA = pa.schema([(column.name, _ARROW_TYPES[column.datatype]) for column in COLUMNS])


def table(
    rows: Sequence[Mapping[str, Any]], *, access_url: Callable[[str], str | None]
) -> pa.Table:
    """The rows as a table, ``access_url`` resolved from each row's result name."""
    data: dict[str, list[Any]] = {column.name: [] for column in COLUMNS}
    for row in rows:
        for column in COLUMNS:
            if column.name == "access_url":
                data["access_url"].append(access_url(str(row["result"])))
            else:
                data[column.name].append(row.get(column.name))
    return pa.table(data, schema=SCHEMA)
