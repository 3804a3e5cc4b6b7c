"""The operators' state in the store (the queue's hold, the generation of their actions),
the operator's rerun, and the counts by contract and phase; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from wsrf_uws.core.model import ErrorSummary
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.ports import JobChanges, JobStore

from conftest import StoreFactory
from factories import T0, make_job


def test_a_new_store_runs_its_queue_at_generation_zero(store: JobStore) -> None:
    state = store.operator_state()
    assert (state.generation, state.hold) == (0, None)


def test_hold_and_release_persist_and_every_action_moves_the_generation(
    store_factory: StoreFactory,
) -> None:
    first, second = store_factory(), store_factory()
    held = first.operator_acted(hold=True, by="alice", now=T0)
    assert held.generation == 1
    assert held.hold is not None and (held.hold.by, held.hold.since) == ("alice", T0)
    # Holding again keeps who held it first; another opening of the store sees it.
    again = second.operator_acted(hold=True, by="bob", now=T0 + timedelta(hours=1))
    assert again.generation == 2 and again.hold == held.hold
    assert second.operator_state() == again
    assert first.operator_acted().hold == held.hold  # an action that is no hold keeps it
    released = first.operator_acted(hold=False, by="carol")
    assert (released.generation, released.hold) == (4, None)
    assert second.operator_state() == released


def test_rerun_queues_an_ended_job_again_and_nothing_else(store: JobStore) -> None:
    failed = make_job(phase=Phase.ERROR, error=ErrorSummary("boom"), end_time=T0, run_count=1)
    done = make_job(phase=Phase.COMPLETED, end_time=T0)
    store.insert_many([failed, done])
    rerun = store.rerun(
        failed.resource_id, changes=JobChanges(error=None, end_time=None, note="rerun")
    )
    assert rerun is not None
    assert (rerun.phase, rerun.error, rerun.end_time, rerun.note) == (
        Phase.QUEUED,
        None,
        None,
        "rerun",
    )
    assert store.rerun(failed.resource_id) is None  # QUEUED now: not ended
    assert store.rerun(done.resource_id) is None  # COMPLETED is not rerun
    assert store.get(done.resource_id).phase is Phase.COMPLETED  # type: ignore[union-attr]


def test_jobs_are_counted_by_contract_and_phase(store: JobStore) -> None:
    assert store.count_by_contract_and_phase() == {}
    store.insert_many(
        [
            make_job(contract="steps", phase=Phase.PENDING),
            make_job(contract="steps", phase=Phase.PENDING),
            make_job(contract="steps", phase=Phase.COMPLETED),
            make_job(contract="cea", phase=Phase.EXECUTING),
        ]
    )
    assert store.count_by_contract_and_phase() == {
        ("steps", Phase.PENDING): 2,
        ("steps", Phase.COMPLETED): 1,
        ("cea", Phase.EXECUTING): 1,
    }
