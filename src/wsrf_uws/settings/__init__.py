"""One settings object for the whole service.

Values come, highest priority first, from command-line flags (passed to
:meth:`Settings.load` as overrides), ``WSRF_UWS_*`` environment variables, a TOML
configuration file, and the defaults below, which run a service on a laptop.
Durations accept seconds or ISO 8601 (``"P7D"``, ``"PT1H"``).

The settings are a package: :mod:`.service` (:class:`Settings`), :mod:`.sections` (its
nested sections) and :mod:`.sources` (the TOML file, the environment, contract sections).
"""

from .sections import (
    EXECUTION_KEYS,
    ClusterSettings,
    ContractExecution,
    HttpSettings,
    OwnerQuota,
    QuotaSettings,
    RestSettings,
    SlurmJobSettings,
    SlurmSettings,
)
from .service import Settings, http_base_url
from .sources import paths_relative_to

__all__ = [
    "EXECUTION_KEYS",
    "ClusterSettings",
    "ContractExecution",
    "HttpSettings",
    "OwnerQuota",
    "QuotaSettings",
    "RestSettings",
    "Settings",
    "SlurmJobSettings",
    "SlurmSettings",
    "http_base_url",
    "paths_relative_to",
]
