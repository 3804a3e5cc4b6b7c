"""The Slurm executor's parts that need no Slurm: what it asks of sbatch, how it reads
squeue, its records, and the settings that choose an executor per contract."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from wsrf_uws.core.cluster import NodeRole
from wsrf_uws.core.contract import ContractSettingsError
from wsrf_uws.core.node_executor import NodeExecutor
from wsrf_uws.execution.slurm_commands import parse_squeue
from wsrf_uws.execution.slurm_leader import SlurmLeader
from wsrf_uws.execution.slurm_records import SlurmRecord, SlurmRecords
from wsrf_uws.execution.slurm_submission import (
    SlurmJobOptions,
    sbatch_arguments,
    slurm_time,
    time_limit,
)
from wsrf_uws.jdl.cea.settings import CeaSettings
from wsrf_uws.runtime import build_service
from wsrf_uws.settings import Settings


def arguments(**changes: object) -> list[str]:
    options: dict[str, object] = {
        "resource_id": "abc123",
        "command": ["/venv/bin/python", "-m", "wsrf_uws.cli", "run-job", "abc123", "--data", "/d"],
        "options": SlurmJobOptions(),
        "isolated": True,
        "time_limit_seconds": 0,
        "workdir": Path("/d"),
        "output": Path("/d/out-%j"),
        "error": Path("/d/err-%j"),
    }
    options.update(changes)
    return sbatch_arguments(**options)  # type: ignore[arg-type]


def test_sbatch_arguments_name_the_job_and_choose_requeueing_by_isolation() -> None:
    isolated = arguments()
    assert "--job-name=wsrf-uws-abc123" in isolated
    assert "--requeue" in isolated and "--no-requeue" not in isolated
    assert "--no-requeue" in arguments(isolated=False)
    wrap = isolated[-1]
    assert wrap.startswith("--wrap=exec ")
    assert shlex.split(wrap.removeprefix("--wrap="))[1:] == [
        "/venv/bin/python", "-m", "wsrf_uws.cli", "run-job", "abc123", "--data", "/d",
    ]  # fmt: skip
    assert not any(a.startswith(("--time", "--partition", "--mem")) for a in isolated)


def test_sbatch_arguments_carry_the_contract_options() -> None:
    options = SlurmJobOptions(
        partition="long", account="astro", memory_mb=512, cpus=4, extra_args=("--qos=low",)
    )
    given = arguments(options=options, time_limit_seconds=90)
    for expected in (
        "--partition=long",
        "--account=astro",
        "--mem=512M",
        "--cpus-per-task=4",
        "--qos=low",
        "--time=0-00:02:00",
    ):
        assert expected in given


def test_the_time_asked_of_slurm_is_the_duration_with_a_margin_within_the_cap() -> None:
    assert time_limit(600, margin=60, cap=0) == 660
    assert time_limit(600, margin=60, cap=300) == 300
    assert time_limit(0, margin=60, cap=0) == 0  # unlimited: the partition's default
    assert time_limit(0, margin=60, cap=7200) == 7200
    assert slurm_time(1) == "0-00:01:00"
    assert slurm_time(90061) == "1-01:02:00"


def test_squeue_output_is_read_field_by_field() -> None:
    out = (
        "12|wsrf-uws-abc|PENDING|Priority|0||2030-01-01T10:00:00|\n"
        "13|wsrf-uws-def|RUNNING|None|2|node7|2030-01-01T09:00:00|\n"
        "garbage\n"
    )
    pending, running = parse_squeue(out)
    assert (pending.job_id, pending.state, pending.known_reason) == ("12", "PENDING", "Priority")
    assert pending.known_start == "2030-01-01T10:00:00" and not pending.final
    assert (running.restarts, running.nodes, running.known_reason) == (2, "node7", "")


def test_records_keep_intents_ids_and_requeues_across_instances(tmp_path: Path) -> None:
    records = SlurmRecords(tmp_path / "slurm")
    assert records.all() == []
    records.intend("aaa")
    records.record("bbb", "42", restarts=1)
    (tmp_path / "slurm" / "ccc.json").write_text("{not json")
    again = SlurmRecords(tmp_path / "slurm")
    assert again.all() == [SlurmRecord("aaa", None), SlurmRecord("bbb", "42", 1)]
    again.forget("aaa")
    again.forget("aaa")  # forgetting twice is no error
    assert [r.resource_id for r in records.all()] == ["bbb"]
    with pytest.raises(ValueError):
        records.intend("../escape")


def test_a_contract_section_chooses_its_executor_and_its_model_never_sees_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WSRF_UWS_CEA__SLURM__PARTITION", "from-env")
    monkeypatch.setenv("WSRF_UWS_CEA__SLURM__EXTRA_ARGS", '["--qos=x"]')
    settings = Settings(
        cea={"executor": "slurm", "max_cpu_seconds": 7, "slurm": {"cpus": 2, "partition": "t"}}
    )
    execution = settings.contract_execution("cea")
    assert execution.executor == "slurm"
    assert (execution.slurm.partition, execution.slurm.cpus) == ("from-env", 2)
    assert execution.slurm.extra_args == ["--qos=x"]
    # The contract's own model forbids unknown keys: the service's were taken out.
    assert settings.contract_settings("cea", CeaSettings).max_cpu_seconds == 7
    with pytest.raises(ContractSettingsError, match="executor"):
        Settings(cea={"executor": "pbs"}).contract_execution("cea")
    assert Settings().contract_execution("adql").executor == "local"  # the default
    monkeypatch.setenv("WSRF_UWS_CEA__EXECUTOR", "local")  # the environment outranks the table
    assert settings.contract_execution("cea").executor == "local"


@pytest.mark.parametrize("role", [NodeRole.FRONTEND, NodeRole.WORKER, NodeRole.ALL])
def test_every_cluster_node_can_lead_the_contracts_on_slurm_and_none_claims_them(
    role: NodeRole, tmp_path: Path, postgres_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=postgres_url, cea={"executor": "slurm"}
    )
    service = build_service(settings, role=role, node="n0")
    try:
        executor = service.executor
        assert isinstance(executor, NodeExecutor)
        assert isinstance(executor.leader, SlurmLeader)
        assert executor.leader.contracts == {"cea"}
        assert service.duties.node == "n0"
    finally:
        service.store.close()
