"""``wsrf-uws cluster status``: the nodes, their heartbeats, the leader and the queue."""

from __future__ import annotations

import json
from typing import Any

from .core.cluster import SLURM_NODE, ClusterStatus
from .wire.times import format_utc


def status_document(status: ClusterStatus, *, ttl: float) -> dict[str, Any]:
    """``status`` as JSON-able values; a node silent for more than ``ttl`` s is ``dead``."""
    return {
        "leader": status.leader,
        "leader_since": format_utc(status.leader_since) if status.leader_since else None,
        "queued": status.queued,
        "executing": sum(status.executing.values()),
        "nodes": [
            {
                "name": node.name,
                "role": str(node.role),
                "slots": node.slots,
                "host": node.host,
                "pid": node.pid,
                "started": format_utc(node.started),
                "heartbeat": format_utc(node.heartbeat),
                "silent_for": round(node.silent_for, 3),
                "alive": node.silent_for <= ttl,
                "leader": node.name == status.leader,
                "executing": status.executing.get(node.name, 0),
            }
            for node in status.nodes
        ],
        # Jobs recorded as running on a node that has no record: those in Slurm (on
        # SLURM_NODE, which is no node), and those of a node being swept.
        "executing_elsewhere": {
            name: count
            for name, count in status.executing.items()
            if name not in {node.name for node in status.nodes}
        },
    }


def print_status(status: ClusterStatus, *, as_json: bool, ttl: float) -> None:
    """Print ``status`` as a table (or as JSON)."""
    document = status_document(status, ttl=ttl)
    if as_json:
        print(json.dumps(document, indent=2))
        return
    header = f"{'NODE':<20} {'ROLE':<9} {'SLOTS':>5} {'RUNNING':>7} {'HEARTBEAT':>10}  STATE"
    print(header)
    for node in document["nodes"]:
        state = "alive" if node["alive"] else "DEAD"
        if node["leader"]:
            state += ", leader"
        print(
            f"{node['name']:<20} {node['role']:<9} {node['slots']:>5} {node['executing']:>7} "
            f"{node['silent_for']:>8.1f} s  {state}  ({node['host']}, pid {node['pid']})"
        )
    leader = document["leader"] or "none (no node holds the leadership)"
    since = f" since {document['leader_since']}" if document["leader_since"] else ""
    print(f"\nleader: {leader}{since}")
    print(f"queued jobs: {document['queued']}; executing: {document['executing']}")
    for name, count in document["executing_elsewhere"].items():
        if name == SLURM_NODE:
            print(f"  {count} job(s) in Slurm, followed by the leader")
        else:
            print(f"  {count} job(s) still recorded on {name}, which has left (being swept)")
