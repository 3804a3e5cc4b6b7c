"""A throw-away one-node Slurm cluster for tests and benchmarks (Debian's ``slurm-wlm``).

Everything lives in a temporary folder: a munge key and its daemon on a socket of its
own, a generated ``slurm.conf`` whose one node is this host, the controller's state and
the node's spool, the logs. ``slurmctld`` and ``slurmd`` run in the foreground as
children of this process (as root, as CI runs: ``slurmd`` must be root to start jobs as
their users), on ports chosen free, so several clusters, or a system's own, do not meet.
Commands find the cluster through ``SLURM_CONF`` (:attr:`SlurmCluster.environment`).

The node declares more CPUs than the machine has (``SlurmdParameters=config_overrides``):
the tests' jobs mostly wait, and a 2-core machine would otherwise run two at a time.
Processes are followed by descent (``proctrack/linuxproc``), without cgroups, which a
container may not offer. ``KillWait`` is short: a cancelled job gets two seconds between
SIGTERM and SIGKILL.

Example::

    cluster = SlurmCluster.start()
    try:
        subprocess.run(["sbatch", "--wrap", "true"], env={**os.environ, **cluster.environment})
    finally:
        cluster.stop()

or, for a service built in this process (whose Slurm commands read ``SLURM_CONF`` from
the environment), :func:`slurm_in_environment`; :func:`why_unavailable` says why a
cluster cannot start here, for a test to skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from ..execution.slurm_commands import FINAL_STATES, SlurmCommands, SlurmJob
from ..execution.slurm_submission import job_name

#: The programs a cluster needs (Debian: slurmctld, slurmd, slurm-client, munge).
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "scontrol")

#: The test cluster's ``SchedulerParameters``: a batch job is scheduled as it is submitted.
#: Slurm's default (``batch_sched_delay=3``) lets the controller gather submissions for up
#: to 3 s, for sites where thousands arrive a second; tests wait less without it.
FAST_SCHEDULING = "batch_sched_delay=0"

#: CPUs the node declares (see the module's docstring).
NODE_CPUS = 16


def missing_programs() -> list[str]:
    """The programs of :data:`PROGRAMS` not found on PATH (or in /usr/sbin)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in PROGRAMS if shutil.which(name, path=search) is None]


def why_unavailable() -> str | None:
    """Why no test cluster can start here (programs missing, not root), or None if one can."""
    missing = missing_programs()
    if missing:
        return f"Slurm is not installed (missing {', '.join(missing)}: slurm-wlm, munge)"
    if os.geteuid() != 0:
        return "the test Slurm cluster runs as root"
    return None


@contextlib.contextmanager
def slurm_in_environment(*, scheduler_parameters: str = FAST_SCHEDULING) -> Iterator[SlurmCluster]:
    """A started cluster whose ``SLURM_CONF`` is in this process's environment while it
    lasts (so services built here, and the processes they start, use it); stopped, and
    the previous ``SLURM_CONF`` put back, at the end."""
    cluster = SlurmCluster.start(scheduler_parameters=scheduler_parameters)
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        cluster.stop()


def slurm_jobs(resource_id: str) -> list[SlurmJob]:
    """The Slurm jobs the service submitted for a resource (by their name), oldest first."""
    return SlurmCommands().named(job_name(resource_id))


def _program(name: str) -> str:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install slurm-wlm munge)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SlurmCluster:
    """munged, slurmctld and slurmd in a temporary folder; :meth:`stop` removes it all."""

    def __init__(self, root: Path, *, scheduler_parameters: str = "") -> None:
        self.root = root
        self.scheduler_parameters = scheduler_parameters
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.munge_socket = root / "munge" / "munge.socket"
        self.partition = "test"
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs in its environment to use this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    @classmethod
    def start(
        cls, *, scheduler_parameters: str = FAST_SCHEDULING, timeout: float = 60.0
    ) -> SlurmCluster:
        """A started cluster whose node is idle (ready to run jobs).

        ``scheduler_parameters`` is slurm.conf's ``SchedulerParameters`` (default
        :data:`FAST_SCHEDULING`; "" for Slurm's defaults).
        """
        if os.geteuid() != 0:
            raise RuntimeError("a test Slurm cluster runs as root (slurmd starts jobs as users)")
        root = Path(tempfile.mkdtemp(prefix="wsrf-uws-slurm-"))
        cluster = cls(root, scheduler_parameters=scheduler_parameters)
        try:
            cluster._start_munge()
            cluster._write_conf()
            cluster._start_daemons()
            cluster.wait_idle(timeout=timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_munge(self) -> None:
        folder = self.munge_socket.parent
        folder.mkdir(mode=0o700)
        key = folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            [
                _program("munged"), "--foreground", "--force",
                f"--socket={self.munge_socket}", f"--key-file={key}",
                f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
                f"--seed-file={folder / 'munged.seed'}",
            ],
            log=folder / "munged.out",
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not self.munge_socket.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("munged did not start: " + self._logs())
            time.sleep(0.02)

    def _write_conf(self) -> None:
        for folder in ("state", "spool", "log"):
            (self.root / folder).mkdir()
        auth = f"socket={self.munge_socket}"
        lines = [
            "ClusterName=wsrfuws",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo={auth}",
            "CredType=cred/munge",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.root / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "SlurmdParameters=config_overrides",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "KillWait=2",
            "MinJobAge=300",
            "InactiveLimit=0",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            *(
                [f"SchedulerParameters={self.scheduler_parameters}"]
                if self.scheduler_parameters
                else []
            ),
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE "
            "State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _start_daemons(self) -> None:
        conf = str(self.conf)
        self._spawn(
            [_program("slurmctld"), "-D", "-i", "-f", conf], log=self.root / "slurmctld.out"
        )
        self._spawn(
            [_program("slurmd"), "-D", "-f", conf, "-N", self.node], log=self.root / "slurmd.out"
        )

    def _spawn(self, command: list[str], *, log: Path) -> None:
        with log.open("wb") as out:
            self._processes.append(
                subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.environment},
                    start_new_session=True,
                )
            )

    def run(self, *command: str, timeout: float = 30.0) -> str:
        """Run a Slurm command against this cluster; its standard output."""
        done = subprocess.run(
            [_program(command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.environment},
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def node_state(self) -> str:
        """The node's state as ``sinfo`` reports it (``idle``, ``mixed``, ``down*``...)."""
        return self.run("sinfo", "--noheader", "--Node", "--format=%t").strip()

    def resume_node(self) -> None:
        """Return a node set DOWN to service and wait until it takes jobs.

        ``ReturnToService=2`` lets slurmd's next registration return the node on its own,
        so a ``RESUME`` may find it already up; Slurm then refuses the state change, which
        is not an error here.
        """
        try:
            self.run("scontrol", "update", f"NodeName={self.node}", "State=RESUME")
        except RuntimeError:
            if self.node_state().startswith(("down", "drain", "fail")):
                raise
        self.wait_idle()

    def wait_idle(self, *, timeout: float = 60.0) -> None:
        """Wait until the node takes jobs; RuntimeError (with the logs) if it never does."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Slurm daemon ended: {process.args!r}\n{self._logs()}")
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                state = self.node_state()
                if state in ("idle", "mix", "alloc"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the Slurm node is still {state or 'unknown'}: " + self._logs())

    def _logs(self) -> str:
        texts = []
        for path in sorted(self.root.rglob("*.log")) + sorted(self.root.rglob("*.out")):
            with contextlib.suppress(OSError):
                texts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(texts)

    def stop(self) -> None:
        """Cancel every job, stop the daemons and remove the folder.

        The jobs' own supervisors (``slurmstepd``) outlive ``slurmd`` while they cannot
        report a job's end: each job is given a few seconds to end first, and whatever
        supervisor of this cluster is left is killed (known by its ``SLURM_CONF``).
        """
        with contextlib.suppress(Exception):
            self.run("scancel", "--user=root", timeout=10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self._live_jobs():
                time.sleep(0.1)
        for process in reversed(self._processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self._processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()
        self._kill_leftover_steps()
        shutil.rmtree(self.root, ignore_errors=True)

    def _live_jobs(self) -> list[str]:
        states = self.run("squeue", "--noheader", "--states=all", "--format=%T", timeout=10)
        return [state for state in states.split() if state not in FINAL_STATES]

    def _kill_leftover_steps(self) -> None:
        for process in psutil.process_iter(["name"]):
            if process.info["name"] != "slurmstepd":
                continue
            with contextlib.suppress(psutil.Error):
                if process.environ().get("SLURM_CONF") == str(self.conf):
                    process.kill()
