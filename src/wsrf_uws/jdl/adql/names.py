"""The contract's XML namespace, in a module of its own: the contract's module names it
without importing the query machinery (sqlglot, DuckDB, pyarrow) that :mod:`.jdl` needs."""

NAMESPACE = "urn:wsrf-uws:adql:v1"
