"""The contract ``vospace``: spaces with a negotiated size and lifetime (pattern §3.3).

createJob reads the request (size, lifetime) and makes the offer from the owner's quota
policy (:mod:`.offer`); nothing is created. The run, started by startJob, creates the
space: a container node owned by the requester in the :class:`~.store.SpaceStore`,
which the service's VOSpace 2.1 endpoint (``/vospace``, :mod:`.rest`) serves. The
resource's termination time is the space's expiry: ``SetTerminationTime`` renegotiates it
within the policy, and Destroy or expiry deletes the space and everything in it.
Creating the space writes outside the job's folder, so the contract is not isolated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lxml import etree

from ...core.clock import Clock, SystemClock
from ...core.contract import Assessment, Contract, JobContext, WsgiApplication
from ...core.errors import (
    JobFailure,
    TerminationTimeRejectedError,
    UnableToSetTerminationTimeError,
)
from ...core.model import Job, Result
from ...core.phases import Phase
from ...published import schema_path
from .errors import QuotaExceeded
from .offer import NAMESPACE, SpaceOffer, SpaceRequest, make_offer, read_request
from .rest import VOSpaceApplication
from .store import SpaceStore
from .vosi import ResourceCaps

if TYPE_CHECKING:
    from ...core.service import JobService
    from ...settings import Settings, VospaceSettings


class VospaceContract(Contract):
    """VOSpace with controlled lifetime, namespace ``urn:wsrf-uws:vospace:v1``."""

    name = "vospace"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("vospace.xsd")
    isolated = False

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        from ...settings import VospaceSettings

        self.options: VospaceSettings = (
            settings.vospace if settings is not None else VospaceSettings()
        )
        self.authority = settings.authority if settings is not None else "wsrf-uws.invalid"
        self.root = self.data_dir / "vospace"
        self.base_url = settings.base_url if settings is not None else "http://127.0.0.1:8080"
        self.clock: Clock = SystemClock()

    @property
    def store(self) -> SpaceStore:
        """The spaces, opened on first use in each process."""
        return self.per_process("store", self._open_store)

    def _open_store(self) -> SpaceStore:
        self.root.mkdir(parents=True, exist_ok=True)
        return SpaceStore(
            self.root,
            authority=self.authority,
            clock=self.clock,
            max_nodes_per_space=self.options.max_nodes_per_space,
        )

    def describe(self, root: etree._Element) -> SpaceRequest:
        return read_request(root)

    def assess(self, description: SpaceRequest, *, owner: str) -> Assessment:
        offer = make_offer(
            description,
            owner=owner,
            policy=self.options,
            granted=self._granted_to(owner),
            service_max_lifetime=self.settings.max_lifetime if self.settings else None,
        )
        return Assessment(lifetime=offer.lifetime, jdl_state=offer.state(description))

    def run(self, description: SpaceRequest, context: JobContext) -> None:
        offer = SpaceOffer.from_state(context.jdl_state)
        try:
            space = self.store.create_space(
                name=context.resource_id,
                owner=offer.owner,
                quota_bytes=offer.size,
                expires=context.termination_time,
                owner_limit=self.options.limits_for(offer.owner)[1],
            )
        except QuotaExceeded as refused:
            # Offers are not reservations: other spaces of the owner started meanwhile.
            raise JobFailure(f"the space was not created: {refused.detail}") from None
        context.set_state({**context.jdl_state, "identifier": space.identifier})
        context.progress(1.0)

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        space = self.store.space(job.resource_id) if "identifier" in job.jdl_state else None
        return SpaceOffer.from_state(job.jdl_state).element(
            job.jdl_state, space=space, node_url=self._node_url(job.resource_id)
        )

    def review_termination_time(self, job: Job, requested: datetime | None) -> None:
        """Accept a new expiry within the owner's policy, and move the space's expiry too.

        Also called at createJob for an ``InitialTerminationTime`` (the job has no id
        yet). While the space is being created the expiry cannot move: the run gives the
        space the termination time it started with.
        """
        if job.phase in (Phase.QUEUED, Phase.EXECUTING):
            raise UnableToSetTerminationTimeError(
                "the space is being created: set its termination time once the job has completed"
            )
        longest = self.options.limits_for(job.owner)[2]
        if self.settings is not None:
            longest = min(longest, self.settings.max_lifetime)
        latest = self.clock.now() + longest
        if requested is None:
            raise UnableToSetTerminationTimeError(
                "a space cannot live for ever: ask for a termination time within "
                f"{longest} from now"
            )
        if requested > latest:
            raise TerminationTimeRejectedError(requested, latest)
        if job.resource_id and self.store.space(job.resource_id) is not None:
            self.store.set_expiry(job.resource_id, requested)

    def release(self, job: Job) -> None:
        self.store.delete_space(job.resource_id)

    def web_routes(
        self, *, service: JobService, base_url: str, authenticate: Callable[..., str]
    ) -> Mapping[str, WsgiApplication]:
        self.base_url = base_url
        self.clock = service.clock
        # The server is not serving yet, so no upload can be under way: leftovers of one
        # that a crash cut short are reclaimed now.
        self.store.sweep(stale_after=timedelta(0))
        options = self.options
        endpoint = VOSpaceApplication(
            store=self.store,
            base_url=base_url,
            authenticate=authenticate,
            max_document_bytes=options.max_document_bytes,
            max_upload_bytes=options.largest_space_bytes,
            transfer_lifetime=options.transfer_lifetime,
            unused_transfer_lifetime=options.unused_transfer_lifetime,
            max_transfers_per_owner=options.max_transfers_per_owner,
            max_anonymous_transfers=options.max_anonymous_transfers,
            anonymous_interface=self.settings is None or self.settings.allow_anonymous,
        )
        caps = ResourceCaps(base_url=base_url, authority=self.authority)
        return {"/vospace": endpoint, "/reg/resource-caps": caps}

    def _granted_to(self, owner: str) -> int:
        """Bytes of the owner's live spaces together."""
        return sum(s.quota_bytes for s in self.store.spaces() if s.owner == owner)

    def _node_url(self, name: str) -> str:
        return f"{self.base_url}/vospace/nodes/{name}"
