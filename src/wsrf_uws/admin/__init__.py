"""``wsrf-uws admin``: an operator's bulk actions on the jobs of a store, and the queue's
hold. They work on the store itself (SQLite or PostgreSQL), so they need the data
directory or the database, not a password; running services notice what changed
(:mod:`wsrf_uws.core.operator_watch`)."""
