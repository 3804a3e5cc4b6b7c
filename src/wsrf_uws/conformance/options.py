"""What the kit is asked to check: the endpoint, the job descriptions, the users, the restart."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from .wire import Credentials

#: The contracts that ship a built-in sample job (``samples/{contract}.xml``).
SAMPLE_CONTRACTS = ("steps", "cea", "adql", "vospace", "image")
#: Contracts whose samples need an authenticated caller (VOSpace spaces belong to users).
NEEDS_USER = frozenset({"vospace"})


@dataclass(frozen=True)
class Options:
    """One run of the kit.

    ``jdl`` is the job description of the lifecycle (a JDL document, as bytes);
    ``restart_jdl`` an isolated job long enough to be running when the service restarts,
    ``held_jdl`` a job that is not isolated (it waits in HELD after a restart). Each
    falls back to the contract's built-in sample, where there is one.
    """

    url: str
    contract: str
    jdl: bytes | None = None
    restart_jdl: bytes | None = None
    held_jdl: bytes | None = None
    user: Credentials | None = None
    other_user: Credentials | None = None
    restart_command: str | None = None
    #: How long a job may take to reach a final phase, or the service to come back.
    timeout: float = 120.0
    #: How long one HTTP request may take.
    request_timeout: float = 30.0

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` of the endpoint: where its documents must be served from."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def default_contract(url: str) -> str:
    """The contract an endpoint URL names: its last path segment (``/uws/steps`` → steps)."""
    return urlsplit(url).path.rstrip("/").rpartition("/")[2]


def builtin_sample(contract: str, kind: str = "") -> bytes | None:
    """The built-in sample job of ``contract`` (``kind``: ``""``, ``restart`` or ``held``)."""
    if contract not in SAMPLE_CONTRACTS:
        return None
    name = f"{contract}-{kind}.xml" if kind else f"{contract}.xml"
    sample = resources.files(__package__).joinpath("samples", name)
    return sample.read_bytes() if sample.is_file() else None
