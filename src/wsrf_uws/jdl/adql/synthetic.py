"""A synthetic catalogue ``synthetic.main``: stars uniform on the sky, any number of them.

It stands in for a large survey (benchmarks, load tests, a service without real data).
Rows are generated in chunks from one seeded generator, so the same ``rows`` and
``seed`` give the same table, and ten million rows need only one chunk in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from ...vo.columns import ColumnInfo
from .sphere import healpix_index
from .tap_schema import TableInfo, healpix_column

#: The HEALPix order of the ``hpx`` column.
HEALPIX_ORDER = 10
#: Rows generated at a time.
CHUNK_ROWS = 1_000_000

SCHEMA_DESCRIPTION = "Synthetic stars, uniformly distributed on the sky (for tests and load)."

TABLE = TableInfo(
    schema_name="synthetic",
    table_name="main",
    description=(
        "Synthetic stars uniform on the sky with made-up photometry; sorted by hpx, the "
        "HEALPix index of the position."
    ),
    columns=(
        ColumnInfo("id", "long", ucd="meta.id;meta.main", description="Star identifier"),
        ColumnInfo(
            "ra",
            "double",
            unit="deg",
            ucd="pos.eq.ra;meta.main",
            description="Right ascension (ICRS)",
        ),
        ColumnInfo(
            "dec",
            "double",
            unit="deg",
            ucd="pos.eq.dec;meta.main",
            description="Declination (ICRS)",
        ),
        ColumnInfo(
            "gmag",
            "float",
            unit="mag",
            ucd="phot.mag;em.opt",
            description="Broad-band optical magnitude",
        ),
        ColumnInfo(
            "bpmag", "float", unit="mag", ucd="phot.mag;em.opt.B", description="Blue magnitude"
        ),
        ColumnInfo(
            "rpmag", "float", unit="mag", ucd="phot.mag;em.opt.R", description="Red magnitude"
        ),
        ColumnInfo(
            "parallax", "float", unit="mas", ucd="pos.parallax.trig", description="Parallax"
        ),
        ColumnInfo("flags", "short", ucd="meta.code", description="Quality flags (bits 0-3)"),
        healpix_column(HEALPIX_ORDER),
    ),
    ra_column="ra",
    dec_column="dec",
    healpix_column="hpx",
    healpix_order=HEALPIX_ORDER,
)


def batches(rows: int, *, seed: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.RecordBatch]:
    """The rows of the table in generation order (not sorted), ``chunk_rows`` at a time."""
    if rows < 1:
        raise ValueError(f"the synthetic catalogue needs at least one row, not {rows}")
    generator = np.random.default_rng(seed)
    schema = pa.schema([(c.name, _ARROW[c.datatype]) for c in TABLE.columns])
    for start in range(0, rows, chunk_rows):
        count = min(chunk_rows, rows - start)
        ra = generator.uniform(0.0, 360.0, count)
        # Uniform on the sphere: sin(dec) uniform in [-1, 1].
        dec = np.degrees(np.arcsin(generator.uniform(-1.0, 1.0, count)))
        gmag = generator.normal(17.0, 2.0, count).astype(np.float32)
        colour = generator.normal(0.8, 0.4, count).astype(np.float32)
        columns = {
            "id": np.arange(start + 1, start + count + 1, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "gmag": gmag,
            "bpmag": gmag + colour / 2,
            "rpmag": gmag - colour / 2,
            "parallax": np.abs(generator.normal(1.0, 0.5, count)).astype(np.float32),
            "flags": generator.integers(0, 16, count, dtype=np.int16),
            "hpx": healpix_index(ra, dec, order=HEALPIX_ORDER),
        }
        yield pa.record_batch([columns[f.name] for f in schema], schema=schema)


_ARROW = {"long": pa.int64(), "double": pa.float64(), "float": pa.float32(), "short": pa.int16()}
