"""Helpers for the TAP tests: the truths read from Hipparcos with numpy, the SOAP answer.

The service runs on its default catalogue (Hipparcos 2, built into the data folder on
the first query). Expected answers come from the catalogue's source file read with numpy
by the ``adql`` contract's test helpers (``tests/jdl/adql/adql_support.py``: TAP is that
contract's face, so its truths and fixtures are imported, not written twice), never
from the SQL under test. A test module takes the stars as ``adql_support``'s fixture
``hipparcos`` (``from tap_support import hipparcos as hipparcos``).
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io.votable import parse as parse_votable
from lxml import etree

from wsrf_uws.client import Service

# The adql contract's helpers live with its tests; pytest puts that folder on the path only
# when it collects a test there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jdl" / "adql"))

from adql_support import hipparcos as hipparcos  # the fixture, re-exported
from adql_support import separation

ADQL = "urn:wsrf-uws:adql:v1"
#: UWS 1.1's schema, as published with the service.
UWS_SCHEMA = etree.XMLSchema(
    etree.parse(str(Path(__file__).resolve().parents[2] / "schemas" / "uws-1.1.xsd"))
)
#: Sirius, and a 0.5-degree cone around it (the benchmark's cone) and a wider one.
SIRIUS = (101.287155, -16.716116)


def cone_query(radius: float, *, columns: str = "hip, ra, dec") -> str:
    ra, dec = SIRIUS
    return (
        f"SELECT {columns} FROM hipparcos.main WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        f"CIRCLE('ICRS', {ra}, {dec}, {radius})) ORDER BY hip"
    )


def cone_truth(stars: dict[str, np.ndarray], radius: float) -> list[int]:
    """The HIP numbers within ``radius`` degrees of Sirius, ascending."""
    inside = separation(stars["ra"], stars["dec"], *SIRIUS) <= radius
    return sorted(int(h) for h in stars["hip"][inside])


def soap_rows(service: Service, query: str) -> Any:
    """The whole result of ``query`` run as a job over SOAP, as an astropy table."""
    document = f'<job xmlns="{ADQL}"><query>{query.replace("<", "&lt;")}</query></job>'
    job = service.create(document)
    job.start()
    state = job.wait(timeout=120, poll=0.1)
    assert state.phase == "COMPLETED", state.error
    buffer = io.BytesIO()
    job.download("result", buffer)
    job.destroy()
    return read_votable(buffer.getvalue())


def read_votable(content: bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_votable(io.BytesIO(content)).get_first_table().to_table()


def query_status(content: bytes) -> tuple[str | None, str | None]:
    """The last ``QUERY_STATUS`` INFO of a VOTable: its value and text."""
    root = etree.fromstring(content)
    infos = root.findall(".//{*}RESOURCE/{*}INFO[@name='QUERY_STATUS']")
    if not infos:
        return None, None
    return infos[-1].get("value"), infos[-1].text
