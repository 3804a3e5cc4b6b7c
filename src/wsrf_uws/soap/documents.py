"""The documents a client loads to learn the contract: WSDLs and every schema they import.

They are built once, at start-up, from the configured public URL: every import points
at this service (no client ever needs the internet), and nothing in a request, not its
``Host`` header either, can change what is served.

Routes: ``/uws/{contract}?wsdl``, ``/wsdl/wsrf-uws-common.wsdl``, ``/schemas/{file}``
(the project's schemas) and ``/schemas/contracts/{contract}.xsd`` (each contract's).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from .. import published
from ..core.contract import Contract
from ..core.xmldoc import safe_parser
from .namespaces import XSD
from .wsdl import COMMON_WSDL, render_wsdl

#: Where the committed WSDL copies say the service is (they are for reading).
EXAMPLE_BASE_URL = "http://localhost:8080"


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _relocate(path: Path, locations: dict[str, str]) -> bytes:
    """The schema at ``path`` with each ``xs:import`` pointed at ``locations[namespace]``."""
    tree = etree.parse(str(path), safe_parser())
    for element in tree.getroot().iter(f"{{{XSD}}}import"):
        location = locations.get(element.get("namespace", ""))
        if location is not None:
            element.set("schemaLocation", location)
    return _serialize(tree.getroot())


class Documents:
    """Every document served to clients, as bytes, by route path."""

    def __init__(self, *, base_url: str, contracts: Iterable[Contract]) -> None:
        self.base_url = base_url
        self.by_path: dict[str, bytes] = {}
        self.wsdl_by_contract: dict[str, bytes] = {}
        contracts = list(contracts)
        locations = {
            ns: f"{base_url}/schemas/{name}" for ns, name in published.SCHEMA_FILES.items()
        }
        own = {
            c.namespace: f"{base_url}/schemas/contracts/{c.name}.xsd"
            for c in contracts
            if c.schema_path
        }
        for name in published.SCHEMA_FILES.values():
            self.by_path[f"/schemas/{name}"] = _relocate(published.schema_path(name), locations)
        for contract in contracts:
            if contract.schema_path:
                self.by_path[f"/schemas/contracts/{contract.name}.xsd"] = _relocate(
                    contract.schema_path, locations
                )
        self.by_path[f"/wsdl/{COMMON_WSDL}"] = _relocate(
            published.wsdl_path(COMMON_WSDL), locations
        )
        for contract in contracts:
            wsdl = render_wsdl(
                contract,
                address=f"{base_url}/uws/{contract.name}",
                locations=schema_locations(contract, locations, own),
                common_wsdl=f"{base_url}/wsdl/{COMMON_WSDL}",
            )
            self.wsdl_by_contract[contract.name] = _serialize(wsdl)

    def get(self, path: str) -> bytes | None:
        """The document served at ``path``, or None."""
        return self.by_path.get(path)


def schema_locations(
    contract: Contract, standard: dict[str, str], own: dict[str, str]
) -> dict[str, str]:
    """The schemas a contract's WSDL imports itself: its own, or else the core one.

    The shared WSDL's types import the WS-RF schemas and the core schema, and a
    contract's schema imports the core one (and through it WS-Addressing and UWS).
    """
    if contract.namespace in own:
        return {contract.namespace: own[contract.namespace]}
    core = "urn:wsrf-uws:core:v1"
    return {core: standard[core]}


def committed_wsdl(contract: Contract) -> bytes:
    """The WSDL as kept in the repository's ``wsdl/`` folder: relative schema locations."""
    standard = {ns: f"../schemas/{name}" for ns, name in published.SCHEMA_FILES.items()}
    own: dict[str, str] = {}
    if contract.schema_path:
        # A shipped contract keeps its schema beside the core ones, so the relative
        # imports of both resolve when the files are read straight from the repository.
        own[contract.namespace] = f"../schemas/{contract.schema_path.name}"
    return _serialize(
        render_wsdl(
            contract,
            address=f"{EXAMPLE_BASE_URL}/uws/{contract.name}",
            locations=schema_locations(contract, standard, own),
            common_wsdl=COMMON_WSDL,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m wsrf_uws.soap.documents CONTRACT``: print the WSDL kept in ``wsdl/``."""
    import sys

    from ..core.registry import ContractRegistry

    names = sys.argv[1:] if argv is None else argv
    registry = ContractRegistry.from_entry_points()
    for name in names:
        sys.stdout.buffer.write(committed_wsdl(registry.get(name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
