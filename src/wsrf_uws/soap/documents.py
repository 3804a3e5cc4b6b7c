"""The documents a client loads to learn the contract: WSDLs and every schema they import.

They are built once, at start-up, from the configured public URL: every import points
at this service (no client ever needs the internet), and nothing in a request, not its
``Host`` header either, can change what is served.

Each document exists once per WS-Addressing version (see :mod:`wsrf_uws.published`).
For WS-Addressing 1.0: ``/uws/{contract}?wsdl``, ``/wsdl/wsrf-uws-common.wsdl``, the
project's schemas at ``/schemas/{file}`` and each contract's at
``/schemas/contracts/{contract}.xsd``. For the 2004/08 member submission:
``/uws/{contract}?wsdl&addressing=2004-08``, and the others under ``/wsdl/2004-08/``
and ``/schemas/2004-08/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from .. import published
from ..core.contract import Contract
from ..published import AddressingVersion
from ..wire.namespaces import XSD
from ..wire.parsing import safe_parser
from .wsdl import COMMON_WSDL, render_wsdl

#: Where the committed WSDL copies say the service is (they are for reading).
EXAMPLE_BASE_URL = "http://localhost:8080"


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _relocate(path: Path, locations: dict[str, str], addressing: AddressingVersion) -> bytes:
    """The document at ``path`` for ``addressing``, each ``xs:import`` at ``locations[ns]``."""
    document = published.for_addressing(path.read_bytes(), addressing)
    root = etree.fromstring(document, safe_parser())
    for element in root.iter(f"{{{XSD}}}import"):
        location = locations.get(element.get("namespace", ""))
        if location is not None:
            element.set("schemaLocation", location)
    return _serialize(root)


def _folder(addressing: AddressingVersion) -> str:
    """The path segment of the documents written for ``addressing`` ('' for 1.0)."""
    return "" if addressing is AddressingVersion.W3C else f"/{addressing.value}"


class Documents:
    """Every document served to clients, as bytes, by route path."""

    def __init__(self, *, base_url: str, contracts: Iterable[Contract]) -> None:
        self.base_url = base_url
        self.by_path: dict[str, bytes] = {}
        self.wsdl_by_contract: dict[tuple[str, AddressingVersion], bytes] = {}
        contracts = list(contracts)
        for addressing in AddressingVersion:
            self._add(contracts, addressing)
        #: The strong validator of every document: a digest of them all, so a client that
        #: finds a WSDL unchanged knows every schema it imports is too
        #: (:mod:`wsrf_uws.client.wsdl_cache`).
        everything = hashlib.sha256()
        for document in [*self.by_path.values(), *self.wsdl_by_contract.values()]:
            everything.update(hashlib.sha256(document).digest())
        self.etag = f'"{everything.hexdigest()[:32]}"'

    def _add(self, contracts: list[Contract], addressing: AddressingVersion) -> None:
        schemas = f"{self.base_url}/schemas{_folder(addressing)}"
        files = published.schema_files(addressing)
        locations = {ns: f"{schemas}/{name}" for ns, name in files.items()}
        own = {c.namespace: f"{schemas}/contracts/{c.name}.xsd" for c in contracts if c.schema_path}
        for name in files.values():
            self.by_path[f"/schemas{_folder(addressing)}/{name}"] = _relocate(
                published.schema_path(name), locations, addressing
            )
        for contract in contracts:
            if contract.schema_path:
                self.by_path[f"/schemas{_folder(addressing)}/contracts/{contract.name}.xsd"] = (
                    _relocate(contract.schema_path, locations, addressing)
                )
        common = f"/wsdl{_folder(addressing)}/{COMMON_WSDL}"
        self.by_path[common] = _relocate(published.wsdl_path(COMMON_WSDL), locations, addressing)
        for contract in contracts:
            wsdl = render_wsdl(
                contract,
                address=f"{self.base_url}/uws/{contract.name}",
                locations=schema_locations(contract, locations, own),
                common_wsdl=f"{self.base_url}{common}",
                addressing=addressing,
            )
            self.wsdl_by_contract[contract.name, addressing] = _serialize(wsdl)

    def get(self, path: str) -> bytes | None:
        """The document served at ``path``, or None."""
        return self.by_path.get(path)

    def wsdl(self, contract: str, addressing: AddressingVersion) -> bytes:
        """The WSDL of the installed contract named ``contract``."""
        return self.wsdl_by_contract[contract, addressing]


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
    """The WSDL as kept in the repository's ``wsdl/`` folder: relative schema locations.

    Only the WS-Addressing 1.0 documents are kept; the 2004/08 ones derive from them.
    """
    standard = {ns: f"../schemas/{name}" for ns, name in published.schema_files().items()}
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
