"""The demonstration contract ``steps``: jobs of timed steps (no real work).

It shows everything the engine offers a contract, and the tests use it to drive the
engine: see :mod:`.contract`.
"""
