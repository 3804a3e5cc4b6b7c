"""``published.compile_schemas`` from many threads at once, as a fresh service's first requests do.

lxml resolves a schema's imports through state that threads share while libxml2 compiles
without the GIL: compilations of different contracts at once read each other's documents,
and one came out without its own elements (a createJob then failed "No matching global
declaration") or did not compile at all. Real compilations of every installed contract.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lxml import etree

from wsrf_uws.core.registry import ContractRegistry
from wsrf_uws.published import compile_schemas


def test_every_contract_compiles_its_own_schema_while_the_others_compile_theirs() -> None:
    contracts = list(ContractRegistry.from_entry_points())
    assert len(contracts) >= 4
    for _ in range(40):
        with ThreadPoolExecutor(len(contracts)) as pool:
            schemas = list(
                pool.map(lambda c: compile_schemas({c.namespace: c.schema_path}), contracts)
            )
        for contract, schema in zip(contracts, schemas, strict=True):
            jdl = etree.Element(f"{{{contract.namespace}}}{contract.jdl_element}")
            schema.validate(jdl)  # invalid (empty), but its element must be declared
            messages = [error.message for error in schema.error_log]
            assert not any("No matching global declaration" in m for m in messages), messages
