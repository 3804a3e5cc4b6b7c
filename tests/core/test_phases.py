"""The phase table, and the store enforcing it as compare-and-set."""

from __future__ import annotations

import itertools

import pytest

from wsrf_uws.core.phases import FINAL_PHASES, TRANSITIONS, Phase, is_legal, sources_of
from wsrf_uws.store import SQLiteJobStore

from factories import make_job

#: The legal transitions, written out independently of the table under test.
LEGAL = {
    ("PENDING", "QUEUED"), ("PENDING", "HELD"), ("PENDING", "ABORTED"), ("PENDING", "ERROR"),
    ("QUEUED", "EXECUTING"), ("QUEUED", "HELD"), ("QUEUED", "ABORTED"), ("QUEUED", "ERROR"),
    ("EXECUTING", "COMPLETED"), ("EXECUTING", "ERROR"), ("EXECUTING", "ABORTED"),
    ("EXECUTING", "QUEUED"), ("EXECUTING", "HELD"), ("EXECUTING", "SUSPENDED"),
    ("HELD", "QUEUED"), ("HELD", "ABORTED"), ("HELD", "ERROR"),
    ("SUSPENDED", "QUEUED"), ("SUSPENDED", "EXECUTING"), ("SUSPENDED", "HELD"),
    ("SUSPENDED", "ABORTED"), ("SUSPENDED", "ERROR"),
    ("COMPLETED", "ARCHIVED"), ("ERROR", "ARCHIVED"), ("ABORTED", "ARCHIVED"),
} | {
    ("UNKNOWN", p) for p in
    ("PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "HELD", "SUSPENDED")
}  # fmt: skip

ALL_PAIRS = list(itertools.product(Phase, Phase))


def test_table_covers_every_phase() -> None:
    assert set(TRANSITIONS) == set(Phase)


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=lambda p: p.value)
def test_every_pair_is_legal_exactly_when_listed(source: Phase, target: Phase) -> None:
    assert is_legal(source, target) == ((source.value, target.value) in LEGAL)


def test_sources_invert_the_table() -> None:
    for target in Phase:
        assert sources_of(target) == {s for s in Phase if (s.value, target.value) in LEGAL}


def test_final_phases_only_lead_to_archived() -> None:
    for phase in FINAL_PHASES:
        assert TRANSITIONS[phase] <= {Phase.ARCHIVED}


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=lambda p: p.value)
def test_store_applies_legal_pairs_and_refuses_illegal(
    store: SQLiteJobStore, source: Phase, target: Phase
) -> None:
    job = make_job(phase=source)
    store.insert(job)
    if (source.value, target.value) in LEGAL:
        changed = store.transition(job.resource_id, target, expected={source})
        assert changed is not None
        assert changed.phase is target
        assert store.get(job.resource_id).phase is target  # type: ignore[union-attr]
    else:
        with pytest.raises(ValueError, match="not a legal transition"):
            store.transition(job.resource_id, target, expected={source})
        assert store.get(job.resource_id).phase is source  # type: ignore[union-attr]


def test_compare_and_set_fails_when_phase_moved(store: SQLiteJobStore) -> None:
    job = make_job(phase=Phase.PENDING)
    store.insert(job)
    assert store.transition(job.resource_id, Phase.QUEUED, expected={Phase.PENDING})
    # A second writer that still believes the job is PENDING loses and changes nothing.
    assert store.transition(job.resource_id, Phase.QUEUED, expected={Phase.PENDING}) is None
    assert store.transition(job.resource_id, Phase.ABORTED, expected={Phase.PENDING}) is None
    assert store.get(job.resource_id).phase is Phase.QUEUED  # type: ignore[union-attr]


def test_default_expected_phases_follow_the_table(store: SQLiteJobStore) -> None:
    done = make_job(phase=Phase.COMPLETED)
    store.insert(done)
    assert store.transition(done.resource_id, Phase.ERROR) is None  # ERROR is not reachable
    assert store.transition(done.resource_id, Phase.ARCHIVED) is not None
