"""The ``cea`` contract end to end: a real ``wsrf-uws serve``, real applications, SOAP.

The library is the demonstration library plus a few test applications (an echo, a CPU
hog, a memory hog, a sleeper). Remote inputs come from, and remote outputs go to, a
loopback HTTP server (:class:`~wsrf_uws.testing.http_files.FileServer`), which the
service is configured to trust.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import psutil
import pytest
import requests
from astropy.io import fits
from lxml import etree

from wsrf_uws.client import InvalidJobDescription, Job, JobState, Service
from wsrf_uws.jdl.cea.library import DEMO_LIBRARY
from wsrf_uws.testing.http_files import FileServer
from wsrf_uws.testing.server import RunningServer

from soap_support import CEA, contract_state, stored_jobs

DEMO_DATA = DEMO_LIBRARY.parent / "data"
STATE = f"{{{CEA}}}state"

TEST_APPLICATIONS = {
    "echo": """
  <title>Echo</title>
  <executable>/bin/echo</executable>
  <input name="text" type="text"><position>1</position></input>
  <output name="said" type="text" stdout="true"/>""",
    "cpuhog": f"""
  <title>CPU hog</title>
  <executable>{sys.executable}</executable>
  <argument>-c</argument>
  <argument>while True: pass</argument>
  <limits cpuSeconds="1"/>""",
    "memhog": f"""
  <title>Memory hog</title>
  <executable>{sys.executable}</executable>
  <argument>-c</argument>
  <argument>hoard = bytearray(2_000_000_000)</argument>
  <limits memoryBytes="268435456"/>""",
    "sleeper": """
  <title>Sleeper</title>
  <executable>/bin/sleep</executable>
  <input name="seconds" type="integer"><position>1</position></input>""",
}


def job_xml(application: str, *parts: str) -> str:
    body = "".join(parts)
    return f'<job xmlns="{CEA}"><application>{application}</application>{body}</job>'


def make_library(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for description in DEMO_LIBRARY.glob("*.xml"):
        shutil.copy(description, folder)
    for name, body in TEST_APPLICATIONS.items():
        (folder / f"{name}.xml").write_text(
            f'<application xmlns="{CEA}" name="{name}">{body}\n</application>\n'
        )
    return folder


def server_env(library: Path) -> dict[str, str]:
    trusted = json.dumps(["http://127.0.0.1:*"])
    return {
        "WSRF_UWS_CEA__LIBRARY": str(library),
        "WSRF_UWS_CEA__FETCH_ALLOW": trusted,
        "WSRF_UWS_CEA__DELIVER_ALLOW": trusted,
    }


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    with FileServer() as server:
        for name in ("starfield-a.fits", "starfield-b.fits", "stars-a.vot"):
            server.add(f"/data/{name}", (DEMO_DATA / name).read_bytes())
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("cea")
    running = RunningServer(root / "data", env=server_env(make_library(root / "library")))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cea(server: RunningServer) -> Service:
    return Service(server.url("cea"))


def run(service: Service, document: str, *, timeout: float = 60) -> tuple[Job, JobState]:
    job = service.create(document)
    job.start()
    return job, job.wait(timeout=timeout, poll=0.1)


def state_of(job: Job) -> etree._Element:
    """The job's ``cea:state``, the property document checked first (soap_support)."""
    return contract_state(job, STATE)


def parameter(state: etree._Element, kind: str, name: str) -> etree._Element:
    found = state.find(f"{{{CEA}}}{kind}[@name='{name}']")
    assert found is not None, etree.tostring(state).decode()
    return found


def value(state: etree._Element, kind: str, name: str) -> str:
    return parameter(state, kind, name).findtext(f"{{{CEA}}}value") or ""


def applications_running_in(folder: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose working folder lies under ``folder``."""
    found = []
    for process in psutil.process_iter(["cwd", "status"]):
        cwd = process.info["cwd"] or ""
        if cwd.startswith(folder) and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


# -- the demonstration applications -------------------------------------------------------


def test_fitsheader_reads_a_remote_fits_file_and_returns_its_header(
    cea: Service, files: FileServer
) -> None:
    source = files.url_for("/data/starfield-a.fits")
    job, final = run(
        cea,
        job_xml(
            "fitsheader",
            f'<input name="file" locality="remote">{source}</input>',
            '<input name="keyword">NAXIS*</input><input name="keyword">CTYPE1</input>',
            '<output name="header" storage="inline"/>',
        ),
    )
    assert final.phase == "COMPLETED", final.error
    state = state_of(job)
    header = value(state, "output", "header")
    assert "NAXIS1  =                   64" in header
    assert "CTYPE1  = 'RA---TAN'" in header
    assert "BUNIT" not in header  # only the keywords asked for
    assert state.findtext(f"{{{CEA}}}exitStatus") == "0"
    # The remote input was fetched into the job's folder; the state links to a copy.
    file_input = parameter(state, "input", "file")
    assert file_input.get("source") == source
    copy = requests.get(file_input.findtext(f"{{{CEA}}}reference") or "", timeout=10)
    assert copy.content == (DEMO_DATA / "starfield-a.fits").read_bytes()
    assert {"stdout.txt", "stderr.txt", "in-file.fits"} <= {r.name for r in final.results}
    assert final.estimated_duration is not None


def test_fitsdiff_compares_two_inputs(cea: Service, files: FileServer) -> None:
    a, b = files.url_for("/data/starfield-a.fits"), files.url_for("/data/starfield-b.fits")
    job, final = run(
        cea,
        job_xml(
            "fitsdiff",
            f'<input name="a" locality="remote">{a}</input>',
            f'<input name="b" locality="remote">{b}</input>',
            '<input name="ignoreKeyword">SEED</input>',
            '<output name="report" storage="inline"/>',
        ),
    )
    # fitsdiff exits with 1 when the files differ: an answer, declared a success.
    assert final.phase == "COMPLETED", final.error
    state = state_of(job)
    assert state.findtext(f"{{{CEA}}}exitStatus") == "1"
    report = value(state, "output", "report")
    assert "Data contains differences" in report
    assert "SEED" not in report.split("Keyword(s) not to be compared")[-1].split("\n")[1:3]

    same, final = run(
        cea,
        job_xml(
            "fitsdiff",
            f'<input name="a" locality="remote">{a}</input>',
            f'<input name="b" locality="remote">{a}</input>',
            '<output name="report" storage="inline"/>',
        ),
    )
    assert final.phase == "COMPLETED", final.error
    assert "No differences found" in value(state_of(same), "output", "report")


def test_the_progress_application_shows_a_rising_fraction_complete(
    cea: Service, tmp_path: Path
) -> None:
    job = cea.create(
        job_xml(
            "starfield",
            '<input name="seconds">3</input><input name="size">48</input>',
            '<input name="stars">40</input>',
        )
    )
    assert job.state.estimated_duration is not None
    assert job.state.estimated_duration.total_seconds() == 3
    job.start()
    seen: list[float] = []
    details: set[str] = set()
    final = job.wait(
        timeout=60,
        poll=0.1,
        progress=lambda s: (
            seen.append(s.fraction) if s.fraction is not None else None,
            details.update(step.detail for step in s.steps if step.detail),
        ),
    )
    assert final.phase == "COMPLETED", final.error
    running = sorted({f for f in seen if 0.1 < f < 0.9})
    assert len(running) >= 3, seen  # several distinct readings while the app ran
    assert seen == sorted(seen), "the fraction complete never goes back"
    assert final.fraction == 1.0
    assert any("stars" in d for d in details), details
    image = next(r for r in final.results if r.name == "starfield.fits")
    assert image.mime_type == "application/fits"
    target = tmp_path / "starfield.fits"
    assert job.download("starfield.fits", target) == image.size
    with fits.open(target) as hdus:
        assert hdus[0].header["NAXIS1"] == 48
        assert hdus[0].header["CTYPE2"] == "DEC--TAN"


# -- safe execution ----------------------------------------------------------------------


def test_shell_metacharacters_in_a_text_parameter_are_passed_literally(
    cea: Service, server: RunningServer
) -> None:
    text = "hi; touch pwned && $(touch pwned2) `touch pwned3` | cat > pwned4 * ~ <'\"$HOME\"'>"
    job, final = run(
        cea,
        job_xml(
            "echo",
            f'<input name="text">{escape(text)}</input>',
            '<output name="said" storage="inline"/>',
        ),
    )
    assert final.phase == "COMPLETED", final.error
    assert value(state_of(job), "output", "said") == text + "\n"
    workdir = server.data_dir / "jobs" / job.resource_id
    assert not list(workdir.glob("pwned*"))


def test_a_cpu_hog_dies_at_its_cpu_limit(cea: Service) -> None:
    _, final = run(cea, job_xml("cpuhog"))
    assert final.phase == "ERROR"
    assert final.error is not None
    assert "SIGXCPU" in final.error.message
    assert "CPU time limit" in final.error.message


def test_a_memory_hog_dies_at_its_memory_limit(cea: Service) -> None:
    _, final = run(cea, job_xml("memhog"))
    assert final.phase == "ERROR"
    assert final.error is not None
    assert "MemoryError" in final.error.message
    assert "stderr.txt" in {r.name for r in final.results}  # kept for the post-mortem


def test_execution_duration_aborts_the_job_and_its_process_group(cea: Service) -> None:
    job = cea.create(
        job_xml(
            "sleeper",
            "<executionDuration>1</executionDuration>",
            '<input name="seconds">47</input>',
        )
    )
    job.start()
    final = job.wait(timeout=60, poll=0.1)
    assert final.phase == "ABORTED"
    assert final.execution_duration == 1
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[-1:] == ["47"]
    ]
    assert not leftovers


# -- outputs delivered elsewhere -------------------------------------------------------------


def test_a_remote_output_is_delivered_to_its_destination(cea: Service, files: FileServer) -> None:
    destination = files.url_for("/upload/delivered.vot")
    job, final = run(
        cea,
        job_xml(
            "starfield",
            '<input name="seconds">0</input><input name="size">16</input>',
            f'<output name="catalogue" destination="{destination}"/>',
        ),
    )
    assert final.phase == "COMPLETED", final.error
    delivered = parameter(state_of(job), "output", "catalogue").find(f"{{{CEA}}}destination")
    assert delivered is not None
    assert delivered.get("delivered") == "true"
    assert delivered.text == destination
    local = requests.get(
        next(r.href for r in final.results if r.name == "stars.vot"), timeout=10
    ).content
    assert files.received["/upload/delivered.vot"] == local
    assert b"<VOTABLE" in local


# -- bad jobs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("starfield", '<input name="size">5000</input>'), "input 'size': 5000 is above"),
        (("starfield", '<input name="size">big</input>'), "input 'size': 'big' is not an integer"),
        (("starfield", '<input name="colour">red</input>'), "has no input 'colour'"),
        (("fitsheader",), "input 'file' is required"),
        (
            ("fitsheader", '<input name="file" locality="remote">ftp://h/x.fits</input>'),
            "input 'file'",
        ),
        (
            (
                "fitsheader",
                '<input name="file" locality="remote">http://10.1.2.3/x.fits</input>',
            ),
            "input 'file'",
        ),
        (("echo", '<input name="text">-rf</input>'), "would be read as an option"),
        (("echo", '<input name="text">a</input><input name="text">b</input>'), "at most 1"),
        (("nosuchapp",), "no application 'nosuchapp'"),
        (
            (
                "fitsdiff",
                '<input name="a" locality="remote">http://127.0.0.1:9/a.fits</input>',
                '<input name="b" locality="remote">http://127.0.0.1:9/b.fits</input>',
                # fitsdiff would read a file named after '@': the description's pattern.
                '<input name="ignoreKeyword">@/etc/hostname</input>',
            ),
            "input 'ignoreKeyword': '@/etc/hostname' does not match the pattern",
        ),
        (
            ("starfield", '<output name="image" storage="inline"/>'),
            "output 'image': FITS data cannot be kept in-line",
        ),
        (
            ("starfield", '<output name="image" destination="https://elsewhere.example/x"/>'),
            "output 'image'",
        ),
    ],
)
def test_a_bad_job_is_refused_naming_the_parameter_and_nothing_is_created(
    cea: Service, server: RunningServer, parts: tuple[str, ...], expected: str
) -> None:
    before = stored_jobs(server)
    with pytest.raises(InvalidJobDescription) as refused:
        cea.create(job_xml(*parts))
    assert expected in str(refused.value)
    assert stored_jobs(server) == before


def test_a_fetch_beyond_the_size_cap_fails_the_job_naming_the_input(
    tmp_path: Path, files: FileServer
) -> None:
    env = {
        **server_env(make_library(tmp_path / "library")),
        "WSRF_UWS_CEA__MAX_INPUT_BYTES": "4096",
    }
    server = RunningServer(tmp_path / "data", env=env)
    server.start()
    try:
        source = files.url_for("/data/starfield-a.fits")
        _, final = run(
            Service(server.url("cea")),
            job_xml("fitsinfo", f'<input name="file" locality="remote">{source}</input>'),
        )
    finally:
        server.stop()
    assert final.phase == "ERROR"
    assert final.error is not None
    assert "input 'file'" in final.error.message
    assert "limit" in final.error.message


# -- restarts --------------------------------------------------------------------------------------


def test_after_kill_9_a_job_with_a_remote_output_is_held_and_one_without_restarts(
    tmp_path: Path, files: FileServer
) -> None:
    server = RunningServer(tmp_path / "data", env=server_env(make_library(tmp_path / "library")))
    server.start()
    destination = files.url_for("/upload/after-restart.fits")
    long_enough = '<input name="seconds">4</input><input name="size">16</input>'
    try:
        cea = Service(server.url("cea"))
        delivering = cea.create(
            job_xml("starfield", long_enough, f'<output name="image" destination="{destination}"/>')
        )
        local = cea.create(job_xml("starfield", long_enough))
        for job in (delivering, local):
            job.start()
        deadline = time.monotonic() + 30
        while {delivering.phase, local.phase} != {"EXECUTING"}:
            assert time.monotonic() < deadline, "the jobs never both ran"
            time.sleep(0.05)
        jobs_folder = str((server.data_dir / "jobs").resolve())
        while len(applications_running_in(jobs_folder)) < 2:
            assert time.monotonic() < deadline, "the applications never both ran"
            time.sleep(0.05)
        server.kill()
        # The workers see their service gone and take their applications down with them,
        # although each application leads a session of its own.
        deadline = time.monotonic() + 2  # well before the applications would finish
        while applications_running_in(jobs_folder):
            assert time.monotonic() < deadline, "applications outlived their service"
            time.sleep(0.1)
        server.start()
        cea = Service(server.url("cea"))
        delivering, local = cea.job(delivering.resource_id), cea.job(local.resource_id)

        held = delivering.state
        assert held.phase == "HELD"
        assert held.note
        assert "/upload/after-restart.fits" not in files.received

        rerun = local.wait(timeout=60, poll=0.1)
        assert rerun.phase == "COMPLETED", rerun.error
        assert rerun.run_count == 2

        delivering.resume()
        resumed = delivering.wait(timeout=60, poll=0.1)
        assert resumed.phase == "COMPLETED", resumed.error
        assert files.received["/upload/after-restart.fits"].startswith(b"SIMPLE  =")
    finally:
        server.stop()


# -- demonstration data and the provider's command -------------------------------------------


def test_the_demonstration_data_is_served_and_nothing_else(server: RunningServer) -> None:
    served = requests.get(f"{server.base_url}/demo/cea/starfield-a.fits", timeout=10)
    assert served.status_code == 200
    assert served.content == (DEMO_DATA / "starfield-a.fits").read_bytes()
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/demo/cea/../contract.py", "/demo/cea/.hidden", "/demo/steps/x", "/demo/nope/x"):
        assert requests.get(server.base_url + path, timeout=10).status_code == 404, path


def test_the_applications_command_lists_the_library_and_its_problems(tmp_path: Path) -> None:
    library = make_library(tmp_path / "library")
    (library / "broken.xml").write_text(
        f'<application xmlns="{CEA}" name="broken"><title>b</title>'
        "<executable>no-such-program-here</executable></application>"
    )
    done = subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", "applications", "--library", str(library)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # a description was skipped
    assert "fitsheader: FITS header" in done.stdout
    assert "in   file (FITS, 1..1)" in done.stdout
    assert "broken.xml: executable 'no-such-program-here' was not found" in done.stdout
