"""DuckDB's one-time start-up costs, paid once in the adql contract's warm parent.

The first DuckDB a process starts takes longer than the next ones: measured on two cores,
an in-memory instance took 17 ms the first time and 9 ms after, and the first ATTACH of a
database file 1 ms more. Every adql job process is forked from the warm parent
(:mod:`wsrf_uws.execution.warm`), so importing this module there, as one of the
contract's :attr:`~wsrf_uws.jdl.adql.contract.AdqlContract.preload` modules, takes that
cost off every job (about 5 ms of the 25 a spare spends preparing its catalogue).

The instance is closed before the import ends: closing joins DuckDB's threads, so the
warm parent is left with one thread and no open file, as forking safely needs (the warm
parent checks both after each import).
"""

from __future__ import annotations

import duckdb


def _start_and_stop() -> None:
    connection = duckdb.connect(":memory:", config={"threads": 1})
    try:
        connection.execute("ATTACH ':memory:' AS warmup")
        connection.execute("SELECT 1").fetchall()
    finally:
        connection.close()


_start_and_stop()
