"""How ``wsrf-uws cluster status`` prints jobs recorded on no live node."""

from __future__ import annotations

import pytest

from wsrf_uws.cluster_status import print_status
from wsrf_uws.core.cluster import SLURM_NODE, ClusterStatus


def test_jobs_in_slurm_are_not_reported_as_a_node_being_swept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = ClusterStatus(
        nodes=[], leader=None, leader_since=None, queued=1, executing={SLURM_NODE: 2, "w9": 1}
    )
    print_status(status, as_json=False, ttl=5.0)
    printed = capsys.readouterr().out
    assert "2 job(s) in Slurm, followed by the leader" in printed
    assert "1 job(s) still recorded on w9, which has left (being swept)" in printed
    assert f"recorded on {SLURM_NODE}" not in printed
    assert "executing: 3" in printed
