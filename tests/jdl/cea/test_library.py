"""The application library: reading descriptions, the checks a schema cannot make, executables."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from wsrf_uws.jdl.cea.application import (
    CommandLine,
    Estimate,
    InputParameter,
    Limits,
    OutputParameter,
    ParameterType,
    SwitchStyle,
)
from wsrf_uws.jdl.cea.library import (
    DEMO_LIBRARY,
    DescriptionError,
    Library,
    parse_duration,
    read_application,
    resolve_executable,
)

CEA = "urn:wsrf-uws:cea:v1"


def description(
    name: str = "app", body: str = "", *, head: str = "", exe: str = "/bin/echo"
) -> str:
    """A description: ``head`` goes after the executable (arguments, limits, estimate...),
    ``body`` holds the inputs and outputs."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<application xmlns="{CEA}" name="{name}">\n'
        "  <title>Test application</title>\n"
        f"  <executable>{exe}</executable>\n"
        f"{head}{body}\n"
        "</application>\n"
    )


def write(folder: Path, file_name: str, text: str) -> Path:
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, body: str = "", *, head: str = "", exe: str = "/bin/echo") -> str:
    """The message of the DescriptionError a description raises (which must name its file)."""
    path = write(tmp_path, "app.xml", description(body=body, head=head, exe=exe))
    with pytest.raises(DescriptionError) as info:
        read_application(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


# --- the demonstration library -----------------------------------------------------------------


def test_every_demo_description_loads() -> None:
    library = Library.load(DEMO_LIBRARY)
    assert library.problems == ()
    assert library.names() == [
        "fitsdiff",
        "fitsheader",
        "fitsinfo",
        "showtable",
        "starfield",
        "volint",
        "wcslint",
    ]
    for name, application in library.applications.items():
        assert application.name == name
        assert application.executable.is_absolute(), application.executable
        assert application.executable.is_file(), application.executable
        assert os.access(application.executable, os.X_OK), application.executable
        assert application.source == str(DEMO_LIBRARY / f"{name}.xml")


def test_demo_descriptions_are_read_in_full() -> None:
    library = Library.load(DEMO_LIBRARY)
    fitsdiff = library.applications["fitsdiff"]
    assert fitsdiff.success_codes == frozenset({0, 1})
    assert fitsdiff.environment == (("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"))
    assert fitsdiff.limits == Limits(
        cpu_seconds=120, memory_bytes=2147483648, file_bytes=268435456, wall_seconds=600
    )
    assert fitsdiff.estimate == Estimate(timedelta(seconds=3))
    assert fitsdiff.input("a") == InputParameter(
        name="a", type=ParameterType.FITS, title="First file", command_line=CommandLine(position=1)
    )
    tolerance = fitsdiff.input("relativeTolerance")
    assert tolerance is not None
    assert (tolerance.minimum, tolerance.maximum, tolerance.min_occurs) == (0.0, None, 0)
    assert tolerance.command_line == CommandLine(switch="--rtol")
    assert fitsdiff.output("report") == OutputParameter(
        name="report",
        type=ParameterType.TEXT,
        title="The differences found",
        file="fitsdiff.txt",
        command_line=CommandLine(switch="--output-file"),
    )

    starfield = library.applications["starfield"]
    assert starfield.estimate == Estimate(timedelta(seconds=1), parameter="seconds")
    assert starfield.progress_file == "progress.txt"
    ra = starfield.input("ra")
    assert ra is not None
    assert (ra.ucd, ra.unit, ra.default) == ("pos.eq.ra;meta.main", "deg", "250.42")

    fitsheader = library.applications["fitsheader"]
    compressed = fitsheader.input("compressed")
    assert compressed is not None
    assert compressed.command_line == CommandLine(switch="--compressed", style=SwitchStyle.FLAG)
    extension = fitsheader.input("extension")
    assert extension is not None
    assert (extension.min_occurs, extension.max_occurs) == (0, None)
    table = fitsheader.input("table")
    assert table is not None
    assert table.options[:2] == ("ascii.fixed_width", "ascii.csv")
    header = fitsheader.output("header")
    assert header is not None
    assert (header.stdout, header.file, header.command_line) == (True, None, None)

    showtable = library.applications["showtable"]
    max_lines = showtable.input("maxLines")
    assert max_lines is not None
    assert max_lines.command_line == CommandLine(switch="--max-lines", style=SwitchStyle.JOINED)


def test_a_minimal_description_takes_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "app.xml", description(head="  <argument>-n</argument>\n"))
    application = read_application(path)
    assert application.name == "app"
    assert application.title == "Test application"
    assert application.executable == Path("/bin/echo")
    assert application.arguments == ("-n",)
    assert application.success_codes == frozenset({0})
    assert application.limits == Limits()
    assert application.estimate is None
    assert application.progress_file is None
    assert (application.inputs, application.outputs) == ((), ())


# --- what the schema cannot say ---------------------------------------------------------------


def test_two_parameters_with_the_same_name_are_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<input name="x" type="text"><switch>-x</switch></input>'
        '<output name="x" type="text" stdout="true"/>',
    )
    assert message.endswith("two parameters are named 'x'")


def test_two_parameters_at_one_position_are_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<input name="a" type="text"><position>1</position></input>'
        '<input name="b" type="text"><position>1</position></input>',
    )
    assert message.endswith("parameters 'a' and 'b' share position 1")


def test_an_input_and_an_output_at_one_position_are_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<input name="a" type="text"><position>2</position></input>'
        '<output name="out" type="text" file="out.txt"><position>2</position></output>',
    )
    assert message.endswith("parameters 'a' and 'out' share position 2")


def test_max_occurs_below_min_occurs_is_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<input name="a" type="text" minOccurs="3" maxOccurs="2"><switch>-a</switch></input>',
    )
    assert message.endswith("parameter 'a': maxOccurs is below minOccurs")


def test_a_flag_on_a_non_boolean_input_is_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path, '<input name="n" type="integer"><switch style="flag">-n</switch></input>'
    )
    assert message.endswith("input 'n': only a boolean input can be a flag")


def test_an_invalid_pattern_is_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path, '<input name="t" type="text"><pattern>[a-</pattern><switch>-t</switch></input>'
    )
    assert "input 't': its pattern is not valid: " in message


@pytest.mark.parametrize(
    ("parameter", "reason"),
    [
        (
            '<input name="n" type="integer"><default>x</default><switch>-n</switch></input>',
            "'x' is not an integer",
        ),
        (
            '<input name="n" type="integer"><default>11</default><max>10</max>'
            "<switch>-n</switch></input>",
            "11 is above the maximum 10",
        ),
        (
            '<input name="n" type="real"><default>-1</default><min>0</min>'
            "<switch>-n</switch></input>",
            "-1 is below the minimum 0",
        ),
        (
            '<input name="n" type="text"><default>c</default><option>a</option>'
            "<option>b</option><switch>-n</switch></input>",
            "'c' is not one of a, b",
        ),
        (
            '<input name="n" type="boolean"><default>yes</default>'
            '<switch style="flag">-n</switch></input>',
            "'yes' is not a boolean (true, false, 1 or 0)",
        ),
    ],
)
def test_a_default_that_fails_its_own_checks_is_refused(
    tmp_path: Path, parameter: str, reason: str
) -> None:
    message = refusal(tmp_path, parameter)
    assert message.endswith(f"input 'n': its default is unusable: {reason}")


def test_a_default_on_a_fits_input_is_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path, '<input name="f" type="FITS"><default>x</default><position>1</position></input>'
    )
    assert message.endswith("input 'f': a FITS input cannot have a default")


@pytest.mark.parametrize(
    "output",
    [
        '<output name="o" type="text" file="o.txt" stdout="true"/>',
        '<output name="o" type="text"/>',
    ],
)
def test_an_output_needs_exactly_one_of_file_and_stdout(tmp_path: Path, output: str) -> None:
    message = refusal(tmp_path, output)
    assert message.endswith("output 'o' needs exactly one of file= or stdout=")


def test_standard_output_takes_no_switch(tmp_path: Path) -> None:
    message = refusal(
        tmp_path, '<output name="o" type="text" stdout="true"><switch>-o</switch></output>'
    )
    assert message.endswith("output 'o' is standard output; it takes no switch")


@pytest.mark.parametrize("most", ["2", "unbounded"])
def test_an_output_occurs_at_most_once(tmp_path: Path, most: str) -> None:
    message = refusal(tmp_path, f'<output name="o" type="text" file="o.txt" maxOccurs="{most}"/>')
    assert message.endswith("output 'o': an output occurs at most once")


def test_two_outputs_in_one_file_are_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<output name="a" type="text" file="same.txt"/>'
        '<output name="b" type="VOTable" file="same.txt"/>',
    )
    assert message.endswith("file 'same.txt' is used twice")


def test_an_output_in_the_progress_file_is_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<output name="a" type="text" file="progress.txt"/>',
        head='  <progress file="progress.txt"/>\n',
    )
    assert message.endswith("file 'progress.txt' is used twice")


@pytest.mark.parametrize("name", ["stdout.txt", "stderr.txt"])
def test_an_output_in_the_runners_own_files_is_refused(tmp_path: Path, name: str) -> None:
    # The sandbox truncates and writes stdout.txt and stderr.txt while the application runs,
    # and the runner announces both as results: an output written there is clobbered, and
    # two results would share one name.
    message = refusal(tmp_path, f'<output name="a" type="text" file="{name}"/>')
    assert message.endswith(f"file {name!r} is reserved for the run's standard streams")


def test_a_flag_passed_as_a_file_is_refused(tmp_path: Path) -> None:
    message = refusal(
        tmp_path,
        '<input name="b" type="boolean" fileRef="true"><switch style="flag">-b</switch></input>',
    )
    assert message.endswith("input 'b': a flag cannot be passed as a file")


@pytest.mark.parametrize(
    ("head", "body"),
    [
        (
            '  <estimatedDuration parameter="label">PT1S</estimatedDuration>\n',
            '<input name="label" type="text"><switch>-l</switch></input>',
        ),
        ('  <estimatedDuration parameter="missing">PT1S</estimatedDuration>\n', ""),
    ],
)
def test_an_estimate_must_name_a_numeric_input(tmp_path: Path, head: str, body: str) -> None:
    message = refusal(tmp_path, body, head=head)
    name = "label" if body else "missing"
    assert message.endswith(f"estimatedDuration names {name!r}, which is no numeric input")


def test_an_estimate_beyond_days_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, head="  <estimatedDuration>P1Y</estimatedDuration>\n")
    assert message.endswith("'P1Y' is not a duration in days, hours, minutes and seconds")


# --- documents that are not descriptions --------------------------------------------------------


def test_elements_out_of_order_are_refused_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.xml",
        '<?xml version="1.0"?>\n'
        f'<application xmlns="{CEA}" name="app">\n'
        "  <executable>/bin/echo</executable>\n"
        "  <title>T</title>\n"
        "</application>\n",
    )
    with pytest.raises(DescriptionError) as info:
        read_application(path)
    assert str(info.value) == (
        f"{path}:3: Element '{{{CEA}}}executable': This element is not expected. "
        f"Expected is ( {{{CEA}}}title )."
    )


def test_an_unknown_type_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.xml",
        description(body='  <input name="x" type="float">\n    <position>1</position>\n  </input>'),
    )
    with pytest.raises(DescriptionError) as info:
        read_application(path)
    message = str(info.value)
    assert message.startswith(f"{path}:5: Element '{{{CEA}}}input', attribute 'type': ")
    assert "The value 'float' is not an element of the set" in message


def test_a_doctype_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.xml",
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE application [<!ENTITY t "Title">]>\n'
        f'<application xmlns="{CEA}" name="app">\n'
        "  <title>&t;</title>\n"
        "  <executable>/bin/echo</executable>\n"
        "</application>\n",
    )
    with pytest.raises(DescriptionError) as info:
        read_application(path)
    assert str(info.value) == f"{path}:1: a DOCTYPE declaration is not allowed"


def test_another_root_element_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "job.xml", f'<job xmlns="{CEA}"><application>x</application></job>')
    with pytest.raises(DescriptionError) as info:
        read_application(path)
    assert str(info.value) == f"{path}:1: the root element is {{{CEA}}}job, not cea:application"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "app.xml", "  \n")
    with pytest.raises(DescriptionError) as info:
        read_application(path)
    assert str(info.value) == f"{path}: the document is empty"


def test_a_missing_executable_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, exe="no-such-program-wsrf-uws")
    assert "executable 'no-such-program-wsrf-uws' was not found in " in message
    assert str(Path(sys.executable).parent) in message


def test_a_relative_executable_path_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, exe="bin/echo")
    assert message.endswith("executable 'bin/echo' must be an absolute path or a plain name")


# --- the library folder -----------------------------------------------------------------------


def test_a_bad_description_is_skipped_and_reported(tmp_path: Path) -> None:
    write(tmp_path, "good.xml", description("good"))
    write(tmp_path, "bad.xml", description("bad", exe="/no/such/program"))
    write(tmp_path, "notes.txt", "not a description")
    library = Library.load(tmp_path)
    assert library.names() == ["good"]
    good = library.get("good")
    assert good is not None
    assert good.source == str(tmp_path / "good.xml")
    assert library.get("bad") is None
    assert library.problems == (
        f"{tmp_path / 'bad.xml'}: executable /no/such/program does not exist or is not executable",
    )


def test_two_descriptions_of_one_application_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.xml", description("same"))
    write(tmp_path, "b.xml", description("same", exe="/bin/sh"))
    library = Library.load(tmp_path)
    assert library.names() == ["same"]
    same = library.get("same")
    assert same is not None
    assert same.executable == Path("/bin/echo")  # the first file, in name order, wins
    assert library.problems == (
        f"{tmp_path / 'b.xml'}: application 'same' is also in {tmp_path / 'a.xml'}",
    )


def test_a_library_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "file.xml", description())
    with pytest.raises(DescriptionError, match="is not a folder"):
        Library.load(path)
    with pytest.raises(DescriptionError, match="is not a folder"):
        Library.load(tmp_path / "missing")


def test_an_empty_library_offers_nothing(tmp_path: Path) -> None:
    library = Library.load(tmp_path)
    assert (library.names(), library.problems) == ([], ())


# --- executables --------------------------------------------------------------------------------


def executable_script(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_a_name_is_found_on_the_search_path(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    script = executable_script(tools, "wsrf-uws-test-tool")
    assert resolve_executable("wsrf-uws-test-tool", [tmp_path, tools]) == script


def test_a_description_uses_the_search_path(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    script = executable_script(tools, "wsrf-uws-test-tool")
    library_folder = tmp_path / "library"
    library_folder.mkdir()
    write(library_folder, "app.xml", description(exe="wsrf-uws-test-tool"))
    assert Library.load(library_folder).problems != ()
    library = Library.load(library_folder, search_path=[tools])
    assert library.problems == ()
    application = library.get("app")
    assert application is not None
    assert application.executable == script


def test_the_interpreters_folder_comes_first(tmp_path: Path) -> None:
    name = Path(sys.executable).name
    executable_script(tmp_path, name)
    assert resolve_executable(name, [tmp_path]) == Path(sys.executable).parent / name


def test_a_name_not_executable_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "wsrf-uws-plain-file").write_text("data")
    with pytest.raises(ValueError, match="'wsrf-uws-plain-file' was not found in "):
        resolve_executable("wsrf-uws-plain-file", [tmp_path])


def test_an_absolute_path_must_be_an_executable_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("data")
    with pytest.raises(ValueError) as info:
        resolve_executable(str(plain))
    assert str(info.value) == f"executable {plain} does not exist or is not executable"
    with pytest.raises(ValueError, match="does not exist or is not executable"):
        resolve_executable(str(tmp_path))  # a folder
    with pytest.raises(ValueError, match="does not exist or is not executable"):
        resolve_executable(str(tmp_path / "missing"))
    assert resolve_executable(sys.executable) == Path(sys.executable)


def test_a_relative_path_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        resolve_executable("./echo", [Path("/bin")])
    assert str(info.value) == "executable './echo' must be an absolute path or a plain name"


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2S", timedelta(seconds=2)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT3M", timedelta(minutes=3)),
        ("P2D", timedelta(days=2)),
        (" PT1H30M ", timedelta(hours=1, minutes=30)),
    ],
)
def test_durations_are_parsed(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P", "PT", "1S", "P1Y", "P1M", "P1DT", "PT-1S", ""])
def test_durations_beyond_days_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"{text!r} is not a duration in days, hours, minutes and seconds"
