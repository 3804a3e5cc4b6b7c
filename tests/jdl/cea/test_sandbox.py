"""The application sandbox, with real processes: no shell, scrubbed environment, limits, kills."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from wsrf_uws.jdl.cea.cgroups import find_pids_cgroup
from wsrf_uws.jdl.cea.sandbox import Exit, Limits, run_application, scrubbed_environment

from cea_support import DAEMON, FORK_STORM

MIB = 1 << 20


def binary(path: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not available on this system")
    return path


def run(tmp_path: Path, argv: list[str], limits: Limits | None = None, **kwargs: Any) -> Exit:
    """Run ``argv`` in ``tmp_path`` with a scrubbed environment; output to out.txt/err.txt."""
    return run_application(
        argv,
        cwd=tmp_path,
        env=scrubbed_environment(tmp_path),
        limits=limits or Limits(wall_seconds=20),
        stdout=tmp_path / "out.txt",
        stderr=tmp_path / "err.txt",
        **kwargs,
    )


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def live_members(pgid: int) -> list[psutil.Process]:
    """The processes of group ``pgid`` that still run (zombies waiting for init do not)."""
    found = []
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if os.getpgid(proc.pid) == pgid:
                found.append(proc)
        except OSError:
            continue
    return found


def test_shell_metacharacters_reach_the_application_literally(tmp_path: Path) -> None:
    text = "hi; rm -rf / && $(id) `x` | cat > f"
    result = run(tmp_path, [binary("/bin/echo"), text])
    assert result.succeeded
    assert (tmp_path / "out.txt").read_text() == text + "\n"
    assert not (tmp_path / "f").exists()


def test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSRF_UWS_SECRET", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    env = scrubbed_environment(tmp_path, {"OMP_NUM_THREADS": "1", "PATH": "/opt/app/bin"})
    result = run_application(
        python("import json, os; print(json.dumps(dict(os.environ)))"),
        cwd=tmp_path,
        env=env,
        limits=Limits(wall_seconds=20),
        stdout=tmp_path / "out.txt",
        stderr=tmp_path / "err.txt",
    )
    assert result.succeeded, (tmp_path / "err.txt").read_text()
    seen = json.loads((tmp_path / "out.txt").read_text())
    assert "WSRF_UWS_SECRET" not in seen
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    assert seen["HOME"] == seen["TMPDIR"] == str(tmp_path)
    assert seen["OMP_NUM_THREADS"] == "1"
    assert seen["PATH"] == "/opt/app/bin"
    assert seen["LANG"] == seen["LC_ALL"] == "C.UTF-8"
    # Python itself may add LC_CTYPE (PEP 538 locale coercion); nothing else may appear.
    assert set(seen) - {"LC_CTYPE"} == set(env)


def test_scrubbed_environment_defaults_and_bad_names(tmp_path: Path) -> None:
    env = scrubbed_environment(tmp_path)
    assert env == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    with pytest.raises(ValueError, match="invalid environment variable"):
        scrubbed_environment(tmp_path, {"A=B": "1"})


def test_own_session_limits_no_stdin_no_inherited_fds(tmp_path: Path) -> None:
    inherited = os.open(os.devnull, os.O_RDONLY)
    high = os.dup2(inherited, 123, inheritable=True)
    try:
        result = run(
            tmp_path,
            python(
                """
                import json, os, resource, sys
                try:
                    os.fstat(123)
                    fd_open = True
                except OSError:
                    fd_open = False
                print(json.dumps({
                    "pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
                    "core": resource.getrlimit(resource.RLIMIT_CORE),
                    "cpu": resource.getrlimit(resource.RLIMIT_CPU),
                    "as": resource.getrlimit(resource.RLIMIT_AS),
                    "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
                    "stdin": sys.stdin.read(), "fd_open": fd_open,
                }))
                """
            ),
            Limits(cpu_seconds=7, memory_bytes=1024 * MIB, file_bytes=8 * MIB, wall_seconds=20),
        )
    finally:
        os.close(high)
        os.close(inherited)
    assert result.succeeded, (tmp_path / "err.txt").read_text()
    seen = json.loads((tmp_path / "out.txt").read_text())
    assert seen["pid"] == seen["pgid"] == seen["sid"] != os.getpgid(0)
    assert seen["core"] == [0, 0]
    assert seen["cpu"] == [7, 8]
    assert seen["as"] == [1024 * MIB, 1024 * MIB]
    assert seen["fsize"] == [8 * MIB, 8 * MIB]
    assert seen["stdin"] == ""
    assert seen["fd_open"] is False


def test_cpu_hog_gets_sigxcpu(tmp_path: Path) -> None:
    result = run(tmp_path, python("while True: pass"), Limits(cpu_seconds=1, wall_seconds=20))
    assert result.signal_name == "SIGXCPU"
    assert result.returncode == -signal.SIGXCPU
    assert not result.timed_out
    assert not result.succeeded
    assert result.explain() == "was killed by SIGXCPU: the CPU time limit of 1 s was reached"
    assert result.elapsed < 15


def test_memory_hog_gets_memory_error(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        python("bytearray(2_000_000_000)"),
        Limits(memory_bytes=256 * MIB, wall_seconds=20),
    )
    assert result.returncode not in (0, None)
    assert "MemoryError" in (tmp_path / "err.txt").read_text()
    assert not result.succeeded


def test_large_file_writer_gets_sigxfsz(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [binary("/bin/dd"), "if=/dev/zero", "of=big", "bs=1M", "count=50"],
        Limits(file_bytes=4 * MIB, wall_seconds=20),
    )
    assert result.signal_name == "SIGXFSZ"
    assert result.explain() == "was killed by SIGXFSZ: the file size limit of 4 MiB was reached"
    assert (tmp_path / "big").stat().st_size <= 4 * MIB


def test_python_writer_gets_efbig_because_python_ignores_sigxfsz(tmp_path: Path) -> None:
    # CPython sets SIGXFSZ to SIG_IGN at start-up, so the write fails with EFBIG instead.
    result = run(
        tmp_path,
        python("open('big', 'wb').write(b'x' * 50_000_000)"),
        Limits(file_bytes=4 * MIB, wall_seconds=20),
    )
    assert result.returncode == 1
    assert "File too large" in (tmp_path / "err.txt").read_text()
    assert (tmp_path / "big").stat().st_size <= 4 * MIB


def test_wall_clock_stops_the_whole_group(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [binary("/bin/sh"), "-c", "echo $$; sleep 30 & sleep 30; wait"],
        Limits(wall_seconds=0.5),
        term_grace=2.0,
    )
    pgid = int((tmp_path / "out.txt").read_text())
    assert result.timed_out
    assert not result.succeeded
    assert result.explain() == "was stopped after the wall-clock limit of 0.5 s"
    assert 0.4 < result.elapsed < 10
    assert live_members(pgid) == []


def test_children_ignoring_sigterm_are_killed_after_the_grace(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        [binary("/bin/sh"), "-c", "trap '' TERM; echo $$; sleep 30 & sleep 30; wait"],
        Limits(wall_seconds=0.3),
        term_grace=0.3,
    )
    pgid = int((tmp_path / "out.txt").read_text())
    assert result.timed_out
    assert result.signal_name == "SIGKILL"
    assert live_members(pgid) == []


def test_nothing_outlives_an_application_that_exited(tmp_path: Path) -> None:
    result = run(tmp_path, [binary("/bin/sh"), "-c", "echo $$; sleep 30 &"])
    pgid = int((tmp_path / "out.txt").read_text())
    assert result.succeeded
    assert live_members(pgid) == []


class Interrupt(BaseException):
    """Stands for the worker's JobInterrupted."""


def test_interruption_kills_the_group_and_propagates(tmp_path: Path) -> None:
    def interrupt(fraction: float, message: str | None) -> None:
        raise Interrupt

    started = time.monotonic()
    with pytest.raises(Interrupt):
        run(
            tmp_path,
            [
                binary("/bin/sh"),
                "-c",
                "echo $$; echo 0.5 > progress; sleep 30 & sleep 30; wait",
            ],
            progress_file=tmp_path / "progress",
            on_progress=interrupt,
            poll_interval=0.05,
        )
    assert time.monotonic() - started < 10
    pgid = int((tmp_path / "out.txt").read_text())
    assert live_members(pgid) == []


def test_progress_is_reported_as_it_changes(tmp_path: Path) -> None:
    received: list[tuple[float, str | None]] = []
    result = run(
        tmp_path,
        python(
            """
            import time
            with open("progress", "w") as f:
                for line in ["0.25", "not a number", "50% halfway", "", "nan", "x%", "1.0"]:
                    f.write(line + "\\n")
                    f.flush()
                    time.sleep(0.25)
            """
        ),
        progress_file=tmp_path / "progress",
        on_progress=lambda fraction, message: received.append((fraction, message)),
        poll_interval=0.05,
    )
    assert result.succeeded, (tmp_path / "err.txt").read_text()
    fractions = [fraction for fraction, _ in received]
    assert fractions == sorted(set(fractions))
    assert (0.5, "halfway") in received
    assert received[-1] == (1.0, None)
    assert set(received) <= {(0.25, None), (0.5, "halfway"), (1.0, None)}


def test_progress_reads_the_end_of_a_big_file_and_clamps(tmp_path: Path) -> None:
    received: list[tuple[float, str | None]] = []
    (tmp_path / "progress").write_text("0.1 old\n" + "junk line\n" * 100_000)
    result = run(
        tmp_path,
        python("open('progress', 'a').write('250%   over the top \\n')"),
        progress_file=tmp_path / "progress",
        on_progress=lambda fraction, message: received.append((fraction, message)),
        poll_interval=0.05,
    )
    assert result.succeeded
    assert received == [(1.0, "over the top")]


def test_progress_line_without_newline_is_reported_once_stable(tmp_path: Path) -> None:
    received: list[tuple[float, str | None]] = []
    result = run(
        tmp_path,
        python(
            """
            import time
            with open("progress", "w") as f:
                f.write("0.3 partial")
                f.flush()
                time.sleep(0.6)
                f.write("\\n1.0\\n")
            """
        ),
        progress_file=tmp_path / "progress",
        on_progress=lambda fraction, message: received.append((fraction, message)),
        poll_interval=0.05,
    )
    assert result.succeeded, (tmp_path / "err.txt").read_text()
    assert received == [(0.3, "partial"), (1.0, None)]


def test_progress_file_problems_never_fail_the_run(tmp_path: Path) -> None:
    received: list[tuple[float, str | None]] = []
    os.mkfifo(tmp_path / "progress")  # opening it for reading could block
    result = run(
        tmp_path,
        [binary("/bin/sh"), "-c", "sleep 0.3"],
        progress_file=tmp_path / "progress",
        on_progress=lambda fraction, message: received.append((fraction, message)),
        poll_interval=0.05,
    )
    assert result.succeeded
    assert received == []


@pytest.mark.parametrize("program", ["echo", "bin/echo", "/nonexistent/program", "/bin"])
def test_executable_must_be_an_absolute_existing_file(tmp_path: Path, program: str) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(FileNotFoundError):
        run(tmp_path, [program, "hello"])
    assert not (tmp_path / "out.txt").exists()
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def test_non_executable_file_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(FileNotFoundError, match="not executable"):
        run(tmp_path, [str(script)])
    assert not (tmp_path / "out.txt").exists()


def test_exit_status_is_propagated(tmp_path: Path) -> None:
    result = run(tmp_path, [binary("/bin/sh"), "-c", "echo oops >&2; exit 3"])
    assert result.returncode == 3
    assert result.signal_name is None
    assert not result.succeeded
    assert not result.timed_out
    assert result.explain() == "exited with status 3"
    assert (tmp_path / "err.txt").read_text() == "oops\n"


def test_stdout_and_stderr_may_share_a_file(tmp_path: Path) -> None:
    both = tmp_path / "both.txt"
    result = run_application(
        [binary("/bin/sh"), "-c", "echo one; echo two >&2; echo three"],
        cwd=tmp_path,
        env=scrubbed_environment(tmp_path),
        limits=Limits(wall_seconds=20),
        stdout=both,
        stderr=both,
    )
    assert result.succeeded
    assert both.read_text() == "one\ntwo\nthree\n"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cpu_seconds"):
        Limits(cpu_seconds=0)
    with pytest.raises(ValueError, match="wall_seconds"):
        Limits(wall_seconds=-1)


# -- processes that leave the session, process and output limits (issue 14) ---------------------


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique last argument for the processes of one test; any still running at the end
    (a failed test) are killed, so none outlives the test."""
    text = f"wsrf-uws-test-{os.getpid()}-{time.monotonic_ns()}"
    yield text
    for proc in marked(text):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def marked(text: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose last argument is ``text``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        last = (proc.info["cmdline"] or [])[-1:]
        if last == [text] and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_a_daemon_that_left_the_session_dies_with_the_run(tmp_path: Path, marker: str) -> None:
    result = run(tmp_path, [*python(DAEMON), marker])
    assert result.succeeded, (tmp_path / "err.txt").read_text()
    assert (tmp_path / "out.txt").read_text() == "daemon started\n"
    assert marked(marker) == []


def test_a_daemon_dies_when_the_run_is_interrupted(tmp_path: Path, marker: str) -> None:
    def interrupt(fraction: float, message: str | None) -> None:
        raise Interrupt

    code = DAEMON + "\n    open('progress', 'w').write('0.5\\n')\n    time.sleep(30)\n"
    with pytest.raises(Interrupt):
        run(
            tmp_path,
            [*python(code), marker],
            progress_file=tmp_path / "progress",
            on_progress=interrupt,
            poll_interval=0.05,
        )
    assert marked(marker) == []


def test_a_fork_storm_is_refused_at_the_cgroup_limit(tmp_path: Path, marker: str) -> None:
    cgroup = find_pids_cgroup("auto")
    if cgroup is None:
        pytest.skip("no cgroup with the pids controller may be made here")
    result = run(
        tmp_path,
        [*python(FORK_STORM), "200", marker],
        Limits(processes=20, wall_seconds=30),
        process_cgroup=cgroup,
    )
    said = (tmp_path / "out.txt").read_text()
    assert said.startswith("refused after "), said
    assert int(said.split()[2].rstrip(":")) < 20  # the application itself counts too
    assert result.returncode == 1
    assert result.refused_forks >= 1
    assert "(the process limit of 20 refused it" in result.explain()
    assert marked(marker) == []
    assert not any(p.name.startswith("wsrf-uws-cea-") for p in cgroup.iterdir() if p.is_dir())


def test_a_fork_storm_without_a_cgroup_is_stopped_by_the_count(tmp_path: Path, marker: str) -> None:
    # As root, RLIMIT_NPROC does not apply either: the count is all there is.
    result = run(
        tmp_path, [*python(FORK_STORM), "200", marker], Limits(processes=20, wall_seconds=30)
    )
    assert result.exceeded == "processes"
    assert not result.succeeded
    assert result.explain() == "was stopped for running more than 20 processes at once"
    assert marked(marker) == []


#: The service's part of the RLIMIT_NPROC test, in an interpreter of its own: it imports
#: what it needs as root, then becomes 'nobody' (the venv may lie where 'nobody' cannot go).
UNPRIVILEGED_RUN = """
import json, os, sys
from pathlib import Path
from wsrf_uws.jdl.cea.sandbox import Limits, run_application, scrubbed_environment
workdir, sh, script = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
result = run_application(
    [sh, "-c", script], cwd=workdir, env=scrubbed_environment(workdir),
    limits=Limits(processes=10, wall_seconds=30),
    stdout=workdir / "out.txt", stderr=workdir / "err.txt",
)
(workdir / "result.json").write_text(json.dumps({"exceeded": result.exceeded}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to run the service as 'nobody'")
def test_rlimit_nproc_bounds_an_unprivileged_run() -> None:
    # No cgroup, so RLIMIT_NPROC is what refuses the storm. The service's part runs in a
    # process of its own, not a fork of pytest's (which has threads).
    sh = binary("/bin/sh")
    script = "for i in $(seq 200); do sleep 5 & echo $! >> pids; done"
    with tempfile.TemporaryDirectory(prefix="wsrf-uws-nproc-") as folder:
        workdir = Path(folder)
        workdir.chmod(0o777)  # pytest's own temporary folders are root's alone
        service = subprocess.run(
            [sys.executable, "-c", UNPRIVILEGED_RUN, str(workdir), sh, script],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert service.returncode == 0, service.stderr
        errors = (workdir / "err.txt").read_text()
        assert "fork" in errors.lower(), errors  # the shell was refused new processes
        assert len((workdir / "pids").read_text().split()) < 10
        assert json.loads((workdir / "result.json").read_text())["exceeded"] is None
        assert running_in(workdir) == []


def running_in(folder: Path) -> list[psutil.Process]:
    """Live (not zombie) processes whose working folder is ``folder``."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        if proc.info["cwd"] == str(folder) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_standard_output_beyond_its_limit_stops_the_run(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        python("import sys\nwhile True: sys.stdout.buffer.write(b'x' * 65536)"),
        Limits(output_bytes=MIB, wall_seconds=30),
    )
    assert result.exceeded == "standard output"
    assert not result.succeeded
    assert result.explain() == "was stopped after writing more than 1 MiB to its standard output"
    assert (tmp_path / "out.txt").stat().st_size == MIB  # what fitted is kept


def test_standard_error_has_a_limit_of_its_own(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        python("import sys\nprint('fine')\nsys.stderr.write('e' * 3_000_000)"),
        Limits(output_bytes=MIB, wall_seconds=30),
    )
    assert result.exceeded == "standard error"
    assert (tmp_path / "out.txt").read_text() == "fine\n"
    assert (tmp_path / "err.txt").stat().st_size == MIB


def test_output_up_to_the_limit_is_kept_whole(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        python("import sys\nsys.stdout.buffer.write(b'y' * 1048576)"),
        Limits(output_bytes=MIB, wall_seconds=30),
    )
    assert result.succeeded, result.explain()
    assert result.exceeded is None
    assert (tmp_path / "out.txt").read_bytes() == b"y" * MIB


def test_new_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=0)
    with pytest.raises(ValueError, match="output_bytes"):
        Limits(output_bytes=0)


@pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="the kernel does not group by session"
)
def test_the_applications_session_group_takes_the_jobs_niceness(tmp_path: Path) -> None:
    """The application leads a session of its own, a scheduling group at niceness 0 unless
    the sandbox gives it the job's: its processor time would then compete with the service
    as an equal, whatever its processes' niceness. Run in a process of its own, at
    niceness 6, as a job process would be."""
    code = f"""
        import os, sys
        from pathlib import Path
        from wsrf_uws.jdl.cea.sandbox import Limits, run_application, scrubbed_environment
        os.nice(6)
        folder = Path({str(tmp_path)!r})
        run_application(
            ["/bin/sh", "-c", "sleep 0.5; cat /proc/self/autogroup"],
            cwd=folder,
            env=scrubbed_environment(folder),
            limits=Limits(wall_seconds=20),
            stdout=folder / "out.txt",
            stderr=folder / "err.txt",
        )
        """
    subprocess.run(python(code), check=True, timeout=60)
    shown = (tmp_path / "out.txt").read_text()
    assert shown.rstrip().endswith(" nice 6"), shown
