"""TAP 1.1 on the ``adql`` contract, at ``{public-url}/tap`` (sync, VOSI; async: the UWS job list).

See :mod:`.application` for the routes, :mod:`.sync` and :mod:`.pool` for how a
synchronous query is run, bounded, outside the request threads.
"""
