"""A stop (SIGTERM) that reaches a job's process at any moment ends it quietly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# The job process is real; only the moment of the signal is arranged: the executor's
# SIGTERM is sent from inside the worker's set-up (before the contract runs), the window
# a destroy right after startJob lands in.
_PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    from multiprocessing import Pipe
    from pathlib import Path
    from wsrf_uws.core.ports import RunSpec
    from wsrf_uws.execution import worker
    from wsrf_uws.jdl.steps.contract import StepsContract

    real_context = worker.WorkerContext

    def stopped_while_starting(spec, conn, **options):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs here
        return real_context(spec, conn, **options)

    worker.WorkerContext = stopped_while_starting
    ours, theirs = Pipe()
    spec = RunSpec("r", StepsContract(), b"", Path(sys.argv[1]), 0)
    worker.run_job(spec, theirs)
    try:
        sent = ours.recv() if ours.poll(1) else "nothing"
    except EOFError:
        sent = "nothing"
    print("sent:", sent, flush=True)
    os._exit(0)  # as a job process ends (its watchdog thread still reads)
    """
)


def test_a_stop_during_the_set_up_ends_the_run_quietly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == "sent: nothing"  # no outcome: the executor decides it
