"""The settings of the contract ``vospace``: the ``[vospace]`` section of the service settings.

The registry validates the section against :class:`VospaceSettings` (the contract's
``settings_model``), with environment overrides ``WSRF_UWS_VOSPACE__{FIELD}``, and the
contract receives the result in its environment.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SpaceLimits(BaseModel):
    """What one owner may have of the ``vospace`` contract; any field left out keeps the
    contract-wide value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_space_bytes: int | None = Field(None, ge=0, description="Largest space, in bytes.")
    max_owner_bytes: int | None = Field(
        None, ge=0, description="Most bytes of all the owner's live spaces together."
    )
    max_lifetime: timedelta | None = Field(
        None, description="Longest lifetime of a space, counted from now."
    )


class VospaceSettings(BaseModel):
    """VOSpace with controlled lifetime (``vospace``): the quota policy and the endpoint.

    In TOML under ``[vospace]`` (per-owner limits under ``[vospace.owners.NAME]``); in the
    environment as ``WSRF_UWS_VOSPACE__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_lifetime: timedelta = Field(
        timedelta(days=7), description="Lifetime offered when the JDL asks none."
    )
    max_lifetime: timedelta = Field(
        timedelta(days=30), description="Longest lifetime of a space, counted from now."
    )
    max_space_bytes: int = Field(1024**3, ge=0, description="Largest space, in bytes.")
    max_owner_bytes: int = Field(
        10 * 1024**3, ge=0, description="Most bytes of all an owner's live spaces together."
    )
    owners: dict[str, SpaceLimits] = Field(
        default_factory=dict, description="Limits for particular owners, by user name."
    )
    max_nodes_per_space: int = Field(
        100_000, ge=1, description="Most nodes (files, folders, links) in one space."
    )
    max_document_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest body of a VOSpace request other than an upload (node and "
        "transfer documents); larger ones get HTTP 413 before they are read.",
    )
    max_transfers_per_owner: int = Field(
        10_000,
        ge=1,
        description="Most live negotiated transfers one user holds; beyond, HTTP 429.",
    )
    max_anonymous_transfers: int = Field(
        100,
        ge=1,
        description="Most live negotiated transfers all anonymous callers hold together; "
        "beyond, HTTP 429.",
    )
    transfer_lifetime: timedelta = Field(
        timedelta(hours=1),
        description="How long a data URL works once used (counted from its negotiation).",
    )
    unused_transfer_lifetime: timedelta = Field(
        timedelta(minutes=10),
        description="How long a negotiated transfer is kept while its data URL is unused.",
    )

    @model_validator(mode="after")
    def _check_lifetimes(self) -> VospaceSettings:
        lifetimes = [("default_lifetime", self.default_lifetime)]
        lifetimes += [("max_lifetime", self.max_lifetime)]
        lifetimes += [("transfer_lifetime", self.transfer_lifetime)]
        lifetimes += [("unused_transfer_lifetime", self.unused_transfer_lifetime)]
        lifetimes += [
            (f"owners.{name}.max_lifetime", limits.max_lifetime)
            for name, limits in self.owners.items()
            if limits.max_lifetime is not None
        ]
        for name, value in lifetimes:
            if value <= timedelta(0):
                raise ValueError(f"vospace.{name} must be positive")
        return self

    @property
    def largest_space_bytes(self) -> int:
        """The largest space any owner may have: the largest upload the endpoint takes."""
        own = [o.max_space_bytes for o in self.owners.values() if o.max_space_bytes is not None]
        return max([self.max_space_bytes, *own])

    def limits_for(self, owner: str) -> tuple[int, int, timedelta]:
        """(max_space_bytes, max_owner_bytes, max_lifetime) for ``owner``."""
        own = self.owners.get(owner, SpaceLimits())
        return (
            self.max_space_bytes if own.max_space_bytes is None else own.max_space_bytes,
            self.max_owner_bytes if own.max_owner_bytes is None else own.max_owner_bytes,
            self.max_lifetime if own.max_lifetime is None else own.max_lifetime,
        )
