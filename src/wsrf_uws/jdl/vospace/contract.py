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

from lxml import etree

from ...core.contract import (
    Assessment,
    Authenticate,
    Contract,
    ContractEnvironment,
    JobContext,
    WebRoute,
)
from ...core.errors import (
    JobFailure,
    TerminationTimeRejectedError,
    UnableToSetTerminationTimeError,
)
from ...core.model import Job, Result
from ...core.phases import Phase
from ...published import schema_path
from .errors import QuotaExceeded
from .offer import NAMESPACE, SpaceRequest, make_offer, read_request
from .rest import VOSpaceApplication
from .settings import VospaceSettings
from .state import VospaceState, state_element
from .store import SpaceStore
from .vosi import ResourceCaps


class VospaceContract(Contract):
    """VOSpace with controlled lifetime, namespace ``urn:wsrf-uws:vospace:v1``."""

    name = "vospace"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("vospace.xsd")
    isolated = False

    settings_model = VospaceSettings
    preload = ()  # a run needs no module beyond this one's

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        super().__init__(environment)
        self.options: VospaceSettings = self.settings
        self.authority = self.environment.authority
        self.root = self.data_dir / "vospace"

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
            service_max_lifetime=self.environment.max_lifetime,
        )
        state = VospaceState.for_offer(offer, description)
        return Assessment(lifetime=offer.lifetime, jdl_state=state.to_dict())

    def run(self, description: SpaceRequest, context: JobContext) -> None:
        state = VospaceState.from_dict(context.jdl_state)
        offer = state.offer
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
        context.set_state(state.with_space(space.identifier).to_dict())
        context.progress(1.0)

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        state = VospaceState.from_dict(job.jdl_state)
        space = self.store.space(job.resource_id) if state.identifier is not None else None
        return state_element(state, space=space, node_url=self._node_url(job.resource_id))

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
        if self.environment.max_lifetime is not None:
            longest = min(longest, self.environment.max_lifetime)
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

    def web_routes(self, *, authenticate: Authenticate) -> Mapping[str, WebRoute]:
        """The VOSpace 2.1 endpoint (``/vospace``) and its VOSI capabilities.

        An upload may be as large as the largest space any owner may have; the endpoint
        holds its other requests to ``max_document_bytes``
        (:meth:`~.rest.VOSpaceApplication.largest_body`).
        """
        # The server is not serving yet, so no upload can be under way: leftovers of one
        # that a crash cut short are reclaimed now.
        self.store.sweep(stale_after=timedelta(0))
        options = self.options
        endpoint = VOSpaceApplication(
            store=self.store,
            base_url=self.public_url,
            authenticate=authenticate,
            max_document_bytes=options.max_document_bytes,
            max_upload_bytes=options.largest_space_bytes,
            transfer_lifetime=options.transfer_lifetime,
            unused_transfer_lifetime=options.unused_transfer_lifetime,
            max_transfers_per_owner=options.max_transfers_per_owner,
            max_anonymous_transfers=options.max_anonymous_transfers,
            anonymous_interface=self.environment.allow_anonymous,
        )
        caps = ResourceCaps(base_url=self.public_url, authority=self.authority)
        return {
            "/vospace": WebRoute(
                endpoint,
                max_body_bytes=options.largest_space_bytes,
                body_limit=endpoint.largest_body,
            ),
            "/reg/resource-caps": WebRoute(caps),
        }

    def _granted_to(self, owner: str) -> int:
        """Bytes of the owner's live spaces together."""
        return sum(s.quota_bytes for s in self.store.spaces() if s.owner == owner)

    def _node_url(self, name: str) -> str:
        return f"{self.public_url}/vospace/nodes/{name}"
