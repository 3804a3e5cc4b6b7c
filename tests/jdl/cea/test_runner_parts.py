"""Pieces of a CEA run without a service: the argument vector, the state, the estimate."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from wsrf_uws.core.errors import InvalidJobDescriptionError, JobFailure
from wsrf_uws.core.model import Job, Result
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.xmldoc import validate
from wsrf_uws.jdl.cea.application import (
    Application,
    CommandLine,
    Estimate,
    InputParameter,
    Locality,
    OutputParameter,
    ParameterType,
    Storage,
    SwitchStyle,
)
from wsrf_uws.jdl.cea.contract import _estimate
from wsrf_uws.jdl.cea.jdl import CeaJob, InputValue, read_job
from wsrf_uws.jdl.cea.library import Library, cea_schema
from wsrf_uws.jdl.cea.state import CeaState, state_element

from cea_support import POLICY, application_run

CEA = "urn:wsrf-uws:cea:v1"
FITS_BYTES = b"SIMPLE  =                    T" + b" " * 50 + b"END" + b" " * 77


# --- the argument vector --------------------------------------------------------------------------

T = ParameterType

TOOL = Application(
    name="tool",
    title="Tool",
    executable=Path("/bin/echo"),
    arguments=("--fixed", "x y"),
    inputs=(
        InputParameter("second", T.TEXT, command_line=CommandLine(position=2)),
        InputParameter("size", T.INTEGER, command_line=CommandLine(switch="-s")),
        InputParameter(
            "mode", T.TEXT, command_line=CommandLine(switch="--mode", style=SwitchStyle.JOINED)
        ),
        InputParameter("first", T.FITS, command_line=CommandLine(position=1)),
        InputParameter(
            "verbose", T.BOOLEAN, command_line=CommandLine(switch="-v", style=SwitchStyle.FLAG)
        ),
        InputParameter("tag", T.TEXT, max_occurs=None, command_line=CommandLine(switch="-t")),
        InputParameter("many", T.TEXT, max_occurs=None, command_line=CommandLine(position=4)),
    ),
    outputs=(
        OutputParameter("out", T.TEXT, file="out.txt", command_line=CommandLine(switch="-o")),
        OutputParameter("log", T.TEXT, stdout=True),
        OutputParameter("third", T.TEXT, file="third.txt", command_line=CommandLine(position=3)),
        OutputParameter(
            "plot",
            T.TEXT,
            file="plot.png",
            command_line=CommandLine(switch="--plot", style=SwitchStyle.JOINED),
        ),
        OutputParameter("quiet", T.TEXT, file="quiet.txt"),
    ),
)


def test_the_argument_vector_is_built_in_order(tmp_path: Path) -> None:
    run, _ = application_run(TOOL, tmp_path)
    argv = run.command_line(
        {
            "many": ["m1", "m2"],
            "tag": ["a", "b"],
            "verbose": [""],
            "first": ["in-first.fits"],
            "mode": ["fast"],
            "size": ["5"],
            "second": ["-2"],
        }
    )
    assert argv == [
        "/bin/echo",
        "--fixed",  # fixed arguments first, untouched
        "x y",
        "-s",  # then switches, inputs in declaration order
        "5",
        "--mode=fast",
        "-v",
        "-t",
        "a",
        "-t",
        "b",
        "-o",  # then the outputs' switches
        "out.txt",
        "--plot=plot.png",
        "in-first.fits",  # then every positional value, by position
        "-2",
        "third.txt",
        "m1",
        "m2",
    ]


def test_absent_values_leave_no_trace(tmp_path: Path) -> None:
    run, _ = application_run(TOOL, tmp_path)
    assert run.command_line({}) == [
        "/bin/echo",
        "--fixed",
        "x y",
        "-o",
        "out.txt",
        "--plot=plot.png",
        "third.txt",
    ]


def test_a_flag_is_its_switch_alone(tmp_path: Path) -> None:
    run, _ = application_run(TOOL, tmp_path)
    assert run.command_line({"verbose": [""]})[3] == "-v"
    assert "-v" not in run.command_line({})


def test_values_are_never_split_or_interpreted(tmp_path: Path) -> None:
    run, _ = application_run(TOOL, tmp_path)
    argv = run.command_line({"mode": ["a b; rm -rf /"], "second": ["$(id)"]})
    assert "--mode=a b; rm -rf /" in argv
    assert argv[-2:] == ["$(id)", "third.txt"]


KITCHEN = f"""<?xml version="1.0" encoding="UTF-8"?>
<application xmlns="{CEA}" name="kitchen">
  <title>Kitchen</title>
  <executable>/bin/echo</executable>
  <argument>start</argument>
  <input name="image" type="FITS"><position>2</position></input>
  <input name="verbose" type="boolean" minOccurs="0">
    <default>false</default>
    <switch style="flag">--verbose</switch>
  </input>
  <input name="count" type="integer" minOccurs="0"><switch>-n</switch></input>
  <input name="label" type="text" minOccurs="0"><position>1</position></input>
  <input name="notes" type="text" minOccurs="0" fileRef="true">
    <switch style="joined">--notes</switch>
  </input>
  <input name="tag" type="text" minOccurs="0" maxOccurs="unbounded"><switch>-t</switch></input>
  <output name="result" type="text" file="result.txt"><switch>-o</switch></output>
  <output name="said" type="text" stdout="true"/>
  <output name="picture" type="FITS" file="picture.fits" minOccurs="0"/>
</application>
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    folder = tmp_path_factory.mktemp("library")
    (folder / "kitchen.xml").write_text(KITCHEN, encoding="utf-8")
    loaded = Library.load(folder)
    assert loaded.problems == ()
    return loaded


def cea_job(library: Library, *parts: str) -> CeaJob:
    text = (
        f'<job xmlns="{CEA}"><application>kitchen</application>'
        f'<input name="image" encoding="base64">{base64.b64encode(FITS_BYTES).decode()}</input>'
        f"{''.join(parts)}</job>"
    )
    root = etree.fromstring(text.encode())
    validate(root, cea_schema())
    return read_job(root, library=library, fetch_policy=POLICY, deliver_policy=POLICY)


def test_prepared_inputs_make_the_argument_vector(library: Library, tmp_path: Path) -> None:
    job = cea_job(
        library,
        '<input name="verbose">1</input>',
        '<input name="count">+03</input>',
        '<input name="label">hello</input>',
        '<input name="notes">line one</input>',
        '<input name="tag">a</input><input name="tag">b</input>',
    )
    run, context = application_run(job.application, tmp_path, job)
    values = run._prepare_inputs()
    assert values == {
        "image": ["in-image.fits"],
        "verbose": [""],
        "count": ["3"],
        "label": ["hello"],
        "notes": ["in-notes.txt"],
        "tag": ["a", "b"],
    }
    assert run.command_line(values) == [
        "/bin/echo",
        "start",
        "--verbose",
        "-n",
        "3",
        "--notes=in-notes.txt",
        "-t",
        "a",
        "-t",
        "b",
        "-o",
        "result.txt",
        "hello",
        "in-image.fits",
    ]
    # Values passed as files are written into the job's folder and offered as results.
    assert (tmp_path / "in-image.fits").read_bytes() == FITS_BYTES
    assert (tmp_path / "in-notes.txt").read_text() == "line one"
    assert context.results == [
        Result("in-image.fits", "in-image.fits", "application/fits"),
        Result("in-notes.txt", "in-notes.txt", "text/plain"),
    ]
    entries = {e.name: e for e in run.state.inputs}
    assert entries["image"].result == "in-image.fits"
    assert entries["notes"].result == "in-notes.txt"
    assert entries["count"].value == "3"


def test_a_false_flag_is_left_out(library: Library, tmp_path: Path) -> None:
    for given in ("", '<input name="verbose">false</input>', '<input name="verbose">0</input>'):
        job = cea_job(library, given)
        run, _ = application_run(job.application, tmp_path, job)
        values = run._prepare_inputs()
        assert "verbose" not in values
        assert "--verbose" not in run.command_line(values)


def test_a_whole_run_of_echo(library: Library, tmp_path: Path) -> None:
    job = cea_job(
        library, '<input name="label">hi</input>', '<output name="said" storage="inline"/>'
    )
    run, context = application_run(job.application, tmp_path, job)
    (tmp_path / "result.txt").write_text("as if the application wrote it")
    run.run()
    said = "start -o result.txt hi in-image.fits\n"
    assert (tmp_path / "stdout.txt").read_text() == said
    final = context.states[-1]
    assert final["exitStatus"] == 0
    outputs = {e["name"]: e for e in final["outputs"]}
    assert outputs["result"] == {
        "name": "result",
        "type": "text",
        "storage": "file",
        "result": "result.txt",
    }
    assert outputs["said"]["value"] == said
    assert outputs["picture"]["note"] == "the application did not produce this output"
    assert [r.name for r in context.results] == [
        "in-image.fits",
        "stdout.txt",
        "stderr.txt",
        "result.txt",
    ]
    assert context.fractions[0] == 0.0
    assert context.fractions[-1] == 1.0
    element = state_element(job_with(final, tuple(context.results)), result_url=url)
    validate(element, cea_schema())


def test_a_required_output_not_written_fails_the_run(library: Library, tmp_path: Path) -> None:
    job = cea_job(library)
    run, _ = application_run(job.application, tmp_path, job)
    with pytest.raises(JobFailure) as info:
        run.run()
    assert str(info.value) == "kitchen did not write its output 'result' (result.txt)"


# --- the state ------------------------------------------------------------------------------------


def job_with(jdl_state: dict[str, Any], results: tuple[Result, ...] = ()) -> Job:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return Job(
        resource_id="abc",
        contract="cea",
        owner="anonymous",
        phase=Phase.COMPLETED,
        creation_time=now,
        termination_time=now + timedelta(days=1),
        execution_duration=0,
        jdl=b"",
        address="http://service.example/uws/cea/abc",
        results=results,
        jdl_state=jdl_state,
    )


def url(result: Result) -> str:
    return f"http://service.example/results/abc/{result.name}"


def test_the_initial_state_lists_what_the_job_gave(library: Library) -> None:
    job = cea_job(
        library,
        '<input name="label">hello</input>',
        '<input name="tag" locality="remote">https://a.org/tag.txt</input>',
        '<output name="said" storage="inline" destination="https://b.org/said.txt"/>',
    )
    assert CeaState.for_job(job).to_dict() == {
        "application": "kitchen",
        "inputs": [
            {"name": "image", "type": "FITS", "locality": "local", "storage": "file"},
            {
                "name": "verbose",
                "type": "boolean",
                "locality": "local",
                "storage": "inline",
                "value": "false",
            },
            {
                "name": "label",
                "type": "text",
                "locality": "local",
                "storage": "inline",
                "value": "hello",
            },
            {
                "name": "tag",
                "type": "text",
                "locality": "remote",
                "storage": "inline",
                "source": "https://a.org/tag.txt",
            },
        ],
        "outputs": [
            {"name": "result", "type": "text", "storage": "file"},
            {
                "name": "said",
                "type": "text",
                "storage": "inline",
                "destination": "https://b.org/said.txt",
                "delivered": False,
            },
            {"name": "picture", "type": "FITS", "storage": "file"},
        ],
    }


def test_the_state_element_is_valid_and_complete(library: Library) -> None:
    state = CeaState.for_job(
        cea_job(
            library,
            '<input name="label">hello</input>',
            '<input name="tag" locality="remote">https://a.org/tag.txt</input>',
            '<output name="said" storage="inline" destination="https://b.org/said.txt"/>',
            '<output name="picture" destination="https://b.org/p.fits"/>',
        )
    ).to_dict()
    # What a run leaves: results for file values, in-line values, deliveries, notes.
    inputs = {e["name"]: e for e in state["inputs"]}
    inputs["image"]["result"] = "in-image.fits"
    inputs["tag"]["value"] = "fetched"
    outputs = {e["name"]: e for e in state["outputs"]}
    outputs["result"]["note"] = "the application did not produce this output"
    outputs["said"]["value"] = "hi\n"
    outputs["said"]["delivered"] = True
    outputs["picture"]["result"] = "picture.fits"
    state["exitStatus"] = 1
    job = job_with(
        state,
        (
            Result("in-image.fits", "in-image.fits", "application/fits"),
            Result("picture.fits", "picture.fits", "application/fits"),
        ),
    )
    element = state_element(job, result_url=url)
    validate(element, cea_schema())
    p = f"{{{CEA}}}"
    assert [(e.tag.removeprefix(p), e.get("name")) for e in element] == [
        ("application", None),
        ("input", "image"),
        ("input", "verbose"),
        ("input", "label"),
        ("input", "tag"),
        ("output", "result"),
        ("output", "said"),
        ("output", "picture"),
        ("exitStatus", None),
    ]
    expected = (
        f'<cea:state xmlns:cea="{CEA}">'
        "<cea:application>kitchen</cea:application>"
        '<cea:input name="image" type="FITS" storage="file" locality="local">'
        "<cea:reference>http://service.example/results/abc/in-image.fits</cea:reference>"
        "</cea:input>"
        '<cea:input name="verbose" type="boolean" storage="inline" locality="local">'
        "<cea:value>false</cea:value></cea:input>"
        '<cea:input name="label" type="text" storage="inline" locality="local">'
        "<cea:value>hello</cea:value></cea:input>"
        '<cea:input name="tag" type="text" storage="inline" locality="remote" '
        'source="https://a.org/tag.txt"><cea:value>fetched</cea:value></cea:input>'
        '<cea:output name="result" type="text" storage="file">'
        "<cea:note>the application did not produce this output</cea:note></cea:output>"
        '<cea:output name="said" type="text" storage="inline"><cea:value>hi\n</cea:value>'
        '<cea:destination delivered="true">https://b.org/said.txt</cea:destination>'
        "</cea:output>"
        '<cea:output name="picture" type="FITS" storage="file">'
        "<cea:reference>http://service.example/results/abc/picture.fits</cea:reference>"
        '<cea:destination delivered="false">https://b.org/p.fits</cea:destination>'
        "</cea:output>"
        "<cea:exitStatus>1</cea:exitStatus>"
        "</cea:state>"
    )
    assert etree.tostring(element, encoding="unicode") == expected


def test_a_result_not_yet_announced_gives_no_reference(library: Library) -> None:
    state = CeaState.for_job(cea_job(library)).to_dict()
    state["inputs"][0]["result"] = "in-image.fits"
    element = state_element(job_with(state), result_url=url)
    validate(element, cea_schema())
    image = element.find(f"{{{CEA}}}input")
    assert image is not None
    assert len(image) == 0


def test_the_state_of_an_application_without_parameters_is_valid() -> None:
    bare = Application(name="bare", title="Bare", executable=Path("/bin/true"))
    element = state_element(
        job_with(CeaState.for_job(CeaJob(bare, (), ())).to_dict()), result_url=url
    )
    validate(element, cea_schema())
    assert etree.tostring(element, encoding="unicode") == (
        f'<cea:state xmlns:cea="{CEA}"><cea:application>bare</cea:application></cea:state>'
    )


def test_an_inline_votable_not_in_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "show.xml").write_text(
        f'<application xmlns="{CEA}" name="show"><title>Show</title>'
        "<executable>/bin/echo</executable>"
        '<input name="table" type="VOTable"><position>1</position></input></application>'
    )
    library = Library.load(tmp_path)
    table = '<?xml version="1.0" encoding="ISO-8859-1"?><VOTABLE>\u00e9</VOTABLE>'
    data = base64.b64encode(table.encode("latin-1")).decode()
    root = etree.fromstring(
        f'<job xmlns="{CEA}"><application>show</application>'
        f'<input name="table" storage="inline" encoding="base64">{data}</input></job>'.encode()
    )
    # Decoding it as UTF-8 for the job state would fail the service: a client fault instead.
    with pytest.raises(InvalidJobDescriptionError) as refused:
        read_job(root, library=library, fetch_policy=POLICY, deliver_policy=POLICY)
    assert refused.value.reason == (
        "input 'table': only UTF-8 data can be kept in-line; use storage='file'"
    )


# --- the estimate ---------------------------------------------------------------------------------


def estimated_job(estimate: Estimate | None, *values: str) -> CeaJob:
    application = Application(
        name="est",
        title="Estimated",
        executable=Path("/bin/echo"),
        estimate=estimate,
        inputs=(
            InputParameter(
                "seconds", T.REAL, max_occurs=None, command_line=CommandLine(switch="-s")
            ),
            InputParameter("other", T.INTEGER, command_line=CommandLine(switch="-o")),
        ),
    )
    inputs = tuple(
        InputValue("seconds", n, Locality.LOCAL, Storage.INLINE, text=v)
        for n, v in enumerate(values, start=1)
    )
    other = InputValue("other", 1, Locality.LOCAL, Storage.INLINE, text="100")
    return CeaJob(application, (*inputs, other), ())


def test_no_estimate_quotes_nothing() -> None:
    assert _estimate(estimated_job(None, "3")) is None


def test_a_fixed_estimate_is_quoted_as_is() -> None:
    assert _estimate(estimated_job(Estimate(timedelta(seconds=3)), "50")) == timedelta(seconds=3)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("2.5",), timedelta(seconds=5)),
        (("3",), timedelta(seconds=6)),
        (("1", "4"), timedelta(seconds=10)),  # every value of the input counts
        ((), timedelta(seconds=2)),  # no value: the base duration
        (("0",), timedelta(seconds=2)),  # zero units: the base duration, not nothing
    ],
)
def test_an_estimate_per_unit_multiplies(values: tuple[str, ...], expected: timedelta) -> None:
    job = estimated_job(Estimate(timedelta(seconds=2), parameter="seconds"), *values)
    assert _estimate(job) == expected


def test_a_remote_value_counts_for_nothing() -> None:
    job = estimated_job(Estimate(timedelta(seconds=2), parameter="seconds"))
    remote = InputValue("seconds", 1, Locality.REMOTE, Storage.INLINE, uri="https://a.org/s")
    job = CeaJob(job.application, (remote, *job.inputs), ())
    assert _estimate(job) == timedelta(seconds=2)


@pytest.mark.parametrize(
    ("given", "expected"), [("-5", timedelta(seconds=1)), ("1e300", timedelta(days=365))]
)
def test_an_estimate_is_a_duration_the_service_can_quote(given: str, expected: timedelta) -> None:
    # Nothing obliges the estimate's parameter to have a minimum or a maximum.
    job = estimated_job(Estimate(timedelta(seconds=1), parameter="seconds"), given)
    assert _estimate(job) == expected
