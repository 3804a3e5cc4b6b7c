"""Where the published contract documents are: the project's ``schemas/`` and ``wsdl/``.

In a source checkout (and an editable install) they are the repository's top-level
folders; a built wheel carries them inside the package as ``wsrf_uws/published``.
Nothing here reaches the network: schemas are compiled from these local files.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from .core.xmldoc import safe_parser

#: The namespaces of the project's schema set and the file declaring each.
SCHEMA_FILES = {
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://www.w3.org/1999/xlink": "xlink.xsd",
    "http://www.w3.org/2005/08/addressing": "ws-addr.xsd",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing": "ws-addr-2004-08.xsd",
    "http://docs.oasis-open.org/wsrf/bf-2": "wsrf-bf-2.xsd",
    "http://docs.oasis-open.org/wsrf/r-2": "wsrf-r-2.xsd",
    "http://docs.oasis-open.org/wsrf/rp-2": "wsrf-rp-2.xsd",
    "http://docs.oasis-open.org/wsrf/rl-2": "wsrf-rl-2.xsd",
    "http://www.ivoa.net/xml/UWS/v1.0": "uws-1.1.xsd",
    "urn:wsrf-uws:core:v1": "wsrf-uws-core.xsd",
}


@cache
def root() -> Path:
    """The folder holding ``schemas/`` and ``wsdl/``."""
    packaged = Path(__file__).with_name("published")
    if (packaged / "schemas").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "schemas").is_dir():
        return checkout
    raise FileNotFoundError("the published schemas are missing from this installation")


def schema_path(name: str) -> Path:
    """The project schema file ``name`` (a plain file name from :data:`SCHEMA_FILES`)."""
    return root() / "schemas" / name


def wsdl_path(name: str) -> Path:
    """The published WSDL document ``name``."""
    return root() / "wsdl" / name


def compile_schemas(extra: dict[str, Path] | None = None) -> etree.XMLSchema:
    """One validator for the project's schema set plus ``extra`` (namespace → file).

    A driver document imports every namespace from its file, so imports between the
    files resolve by namespace whatever ``schemaLocation`` they carry: a contract's
    schema imports the core one as ``wsrf-uws-core.xsd`` wherever the file sits.
    """
    locations = {ns: schema_path(name) for ns, name in SCHEMA_FILES.items()}
    locations.update(extra or {})
    xs = "http://www.w3.org/2001/XMLSchema"
    driver = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    for namespace, path in locations.items():
        etree.SubElement(
            driver, f"{{{xs}}}import", namespace=namespace, schemaLocation=path.resolve().as_uri()
        )
    document = etree.fromstring(etree.tostring(driver), safe_parser())
    return etree.XMLSchema(document)
