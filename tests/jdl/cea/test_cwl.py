"""CWL ``CommandLineTool`` files as application descriptions (wsrf_uws.jdl.cea.cwl).

Each test writes a small tool into ``tmp_path`` and checks the application it becomes, or
the refusal naming what cannot be carried over. The argument vectors expected here are
the ones CWL itself builds: bindings sorted by position (0 when absent), then input name,
with the plain-string ``arguments`` first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent, indent

import pytest
from lxml import etree

from wsrf_uws.core.errors import InvalidJobDescriptionError
from wsrf_uws.core.xmldoc import validate
from wsrf_uws.jdl.cea.application import (
    Application,
    CommandLine,
    InputParameter,
    Limits,
    OutputParameter,
    ParameterType,
    SwitchStyle,
)
from wsrf_uws.jdl.cea.cwl import read_cwl_tool
from wsrf_uws.jdl.cea.jdl import CeaJob, read_job
from wsrf_uws.jdl.cea.library import DEMO_LIBRARY, DescriptionError, Library, cea_schema
from wsrf_uws.jdl.cea.transfer import TransferPolicy

from cea_support import application_run

pytest.importorskip("cwl_utils")

CEA = "urn:wsrf-uws:cea:v1"
POLICY = TransferPolicy.parse(["https://*"])
T = ParameterType


def tool(
    inputs: str = "[]",
    outputs: str = "[]",
    *,
    head: str = "baseCommand: /bin/echo",
    version: str = "v1.2",
) -> str:
    """A CommandLineTool: ``head`` holds the top-level fields, ``inputs`` and ``outputs``
    their YAML (a flow value, or block lines that are indented here)."""

    def section(name: str, text: str) -> str:
        text = dedent(text).strip()
        return f"{name}: {text}" if text[:1] in "[{" else f"{name}:\n{indent(text, '  ')}"

    return "\n".join(
        [
            f"cwlVersion: {version}",
            "class: CommandLineTool",
            dedent(head).strip(),
            section("inputs", inputs),
            section("outputs", outputs),
            "",
        ]
    )


def write(folder: Path, file_name: str, text: str) -> Path:
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


def convert(tmp_path: Path, text: str, name: str = "app") -> Application:
    return read_cwl_tool(write(tmp_path, f"{name}.cwl", text))


def refusal(tmp_path: Path, text: str, name: str = "app") -> str:
    """The message of the DescriptionError a tool raises (which must name its file)."""
    path = write(tmp_path, f"{name}.cwl", text)
    with pytest.raises(DescriptionError) as info:
        read_cwl_tool(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def argv(application: Application, values: dict[str, list[str]], workdir: Path) -> list[str]:
    run, _ = application_run(application, workdir)
    return run.command_line(values)


def job(library: Library, application: str, *parts: str) -> CeaJob:
    text = f'<job xmlns="{CEA}"><application>{application}</application>{"".join(parts)}</job>'
    root = etree.fromstring(text.encode("utf-8"))
    validate(root, cea_schema())
    return read_job(root, library=library, fetch_policy=POLICY, deliver_policy=POLICY)


# --- what is converted --------------------------------------------------------------------------

EVERYTHING = tool(
    head="""
        label: Everything   at once
        doc: |
          Every kind of input and output
          the conversion knows.
        baseCommand: [/bin/echo, -n]
        arguments: ["--"]
        successCodes: [0, 3]
        $namespaces:
          iana: https://www.iana.org/assignments/media-types/
          edam: http://edamontology.org/
        requirements:
          ToolTimeLimit: {timelimit: 30}
          ResourceRequirement: {ramMax: 512}
        hints:
          SoftwareRequirement: {packages: [{package: echo}]}
        stdout: said.txt
    """,
    inputs="""
        text:
          type: string
          label: Some text
          doc: What to say.
          inputBinding: {position: 2}
        count:
          type: int?
          default: 3
          inputBinding: {prefix: --count=, separate: false}
        big: {type: long, inputBinding: {prefix: -b}}
        scale: {type: "double", default: 2.5, inputBinding: {prefix: -s}}
        ratio: {type: "float?", inputBinding: {prefix: -r}}
        verbose: {type: boolean, default: false, inputBinding: {prefix: --verbose}}
        tag:
          type: {type: array, items: string, inputBinding: {prefix: -t}}
          inputBinding: {}
        colour:
          type: ["null", {type: enum, symbols: [red, green]}]
          default: red
          inputBinding: {position: 1}
        image:
          type: File
          format: iana:application/fits
          inputBinding: {position: 3}
        table: {type: File, format: iana:application/x-votable+xml, inputBinding: {prefix: -T}}
        notes: {type: File, format: edam:format_2330, inputBinding: {prefix: -N}}
        blob: {type: "File?", inputBinding: {prefix: -B}}
        more: {type: "File[]", inputBinding: {position: 4}}
    """,
    outputs="""
        said: {type: File, outputBinding: {glob: said.txt}}
        catalogue:
          type: File?
          format: iana:application/x-votable+xml
          outputBinding: {glob: stars.vot}
        raw: {type: File, label: Raw data, outputBinding: {glob: raw.dat}}
    """,
)


def test_a_tool_becomes_an_application(tmp_path: Path) -> None:
    application = convert(tmp_path, EVERYTHING, name="everything")
    assert application.name == "everything"
    assert application.title == "Everything at once"
    assert application.description == "Every kind of input and output\nthe conversion knows."
    assert application.executable == Path("/bin/echo")
    assert application.arguments == ("-n", "--")
    assert application.success_codes == frozenset({0, 3})
    # ToolTimeLimit is the wall-clock limit; ResourceRequirement is ignored.
    assert application.limits == Limits(wall_seconds=30)
    assert application.source == str(tmp_path / "everything.cwl")
    # Options first, in CWL's order (position 0, then name); then the positional inputs,
    # numbered in CWL's order.
    assert [p.name for p in application.inputs] == [
        "big",
        "blob",
        "count",
        "notes",
        "ratio",
        "scale",
        "table",
        "tag",
        "verbose",
        "colour",
        "text",
        "image",
        "more",
    ]
    assert application.input("text") == InputParameter(
        name="text",
        type=T.TEXT,
        title="Some text",
        description="What to say.",
        command_line=CommandLine(position=2),
    )
    assert application.input("count") == InputParameter(
        name="count",
        type=T.INTEGER,
        min_occurs=0,
        default="3",
        command_line=CommandLine(switch="--count", style=SwitchStyle.JOINED),
    )
    assert application.input("big") == InputParameter(
        name="big", type=T.INTEGER, command_line=CommandLine(switch="-b")
    )
    assert application.input("scale") == InputParameter(
        name="scale", type=T.REAL, default="2.5", command_line=CommandLine(switch="-s")
    )
    assert application.input("ratio") == InputParameter(
        name="ratio", type=T.REAL, min_occurs=0, command_line=CommandLine(switch="-r")
    )
    assert application.input("verbose") == InputParameter(
        name="verbose",
        type=T.BOOLEAN,
        default="false",
        command_line=CommandLine(switch="--verbose", style=SwitchStyle.FLAG),
    )
    assert application.input("tag") == InputParameter(
        name="tag", type=T.TEXT, max_occurs=None, command_line=CommandLine(switch="-t")
    )
    assert application.input("colour") == InputParameter(
        name="colour",
        type=T.TEXT,
        min_occurs=0,
        default="red",
        options=("red", "green"),
        command_line=CommandLine(position=1),
    )
    # File inputs are passed as files; a known format picks the type.
    files = {
        p.name: (p.type, p.passed_as_file, p.min_occurs, p.max_occurs, p.command_line)
        for p in application.inputs
        if p.file_ref
    }
    assert files == {
        "image": (T.FITS, True, 1, 1, CommandLine(position=3)),
        "table": (T.VOTABLE, True, 1, 1, CommandLine(switch="-T")),
        "notes": (T.TEXT, True, 1, 1, CommandLine(switch="-N")),
        "blob": (T.BINARY, True, 0, 1, CommandLine(switch="-B")),
        "more": (T.BINARY, True, 1, None, CommandLine(position=4)),
    }
    assert application.outputs == (
        OutputParameter(name="said", type=T.TEXT, stdout=True),
        OutputParameter(name="catalogue", type=T.VOTABLE, min_occurs=0, file="stars.vot"),
        OutputParameter(name="raw", type=T.BINARY, title="Raw data", file="raw.dat"),
    )


def test_the_argument_vector_is_the_one_cwl_builds(tmp_path: Path) -> None:
    application = convert(tmp_path, EVERYTHING, name="everything")
    values = {
        "text": ["hello"],
        "count": ["3"],
        "big": ["12345678901"],
        "scale": ["2.5"],
        "verbose": [""],
        "tag": ["a", "b"],
        "colour": ["green"],
        "image": ["in-image.fits"],
        "table": ["in-table.vot"],
        "notes": ["in-notes.txt"],
        "more": ["in-more-1.bin", "in-more-2.bin"],
    }
    assert argv(application, values, tmp_path) == [
        "/bin/echo",
        "-n",
        "--",
        "-b",
        "12345678901",
        "--count=3",
        "-N",
        "in-notes.txt",
        "-s",
        "2.5",
        "-T",
        "in-table.vot",
        "-t",
        "a",
        "-t",
        "b",
        "--verbose",
        "green",
        "hello",
        "in-image.fits",
        "in-more-1.bin",
        "in-more-2.bin",
    ]


def test_a_minimal_tool_takes_the_defaults(tmp_path: Path) -> None:
    application = convert(tmp_path, tool(head="baseCommand: /bin/true"), name="nothing")
    assert application == Application(
        name="nothing",
        title="nothing",
        executable=Path("/bin/true"),
        source=str(tmp_path / "nothing.cwl"),
    )


def test_positional_inputs_keep_cwl_order_and_are_numbered(tmp_path: Path) -> None:
    # No position is position 0; ties go by name; CWL positions may leave gaps.
    application = convert(
        tmp_path,
        tool(
            """
            zeta: {type: string, inputBinding: {position: 10}}
            beta: {type: string, inputBinding: {}}
            alpha: {type: string, inputBinding: {position: 0}}
            gamma: {type: "string[]?", inputBinding: {position: 5}}
            """
        ),
    )
    assert [(p.name, p.command_line, p.min_occurs, p.max_occurs) for p in application.inputs] == [
        ("alpha", CommandLine(position=1), 1, 1),
        ("beta", CommandLine(position=2), 1, 1),
        ("gamma", CommandLine(position=3), 0, None),
        ("zeta", CommandLine(position=4), 1, 1),
    ]


def test_enum_symbols_are_kept_as_written(tmp_path: Path) -> None:
    application = convert(
        tmp_path,
        tool(
            """
            anonymous:
              type: {type: enum, symbols: [ascii.csv, ascii/ecsv]}
              inputBinding: {prefix: -a}
            named:
              type: {type: enum, name: formats, symbols: [ascii.csv, ascii/ecsv]}
              inputBinding: {prefix: -n}
            """
        ),
    )
    assert [p.options for p in application.inputs] == [("ascii.csv", "ascii/ecsv")] * 2


def test_an_empty_array_default_makes_the_input_optional(tmp_path: Path) -> None:
    application = convert(
        tmp_path,
        tool("""files: {type: "File[]", default: [], inputBinding: {position: 1}}"""),
    )
    (files,) = application.inputs
    assert (files.min_occurs, files.max_occurs, files.default) == (0, None, None)


def test_type_stdout_and_plain_arguments(tmp_path: Path) -> None:
    application = convert(
        tmp_path,
        tool(
            outputs="out: stdout",
            head="""
                baseCommand: /bin/echo
                arguments: [-e, "a b"]
            """,
        ),
    )
    assert application.arguments == ("-e", "a b")
    assert application.outputs == (OutputParameter(name="out", type=T.TEXT, stdout=True),)


@pytest.mark.parametrize("version", ["v1.0", "v1.1"])
def test_earlier_cwl_versions_are_read(tmp_path: Path, version: str) -> None:
    application = convert(
        tmp_path,
        tool(
            "n: {type: int, inputBinding: {prefix: -n}}",
            "out: stdout",
            head="baseCommand: [/bin/echo]",
            version=version,
        ),
    )
    assert application.inputs == (
        InputParameter(name="n", type=T.INTEGER, command_line=CommandLine(switch="-n")),
    )
    assert application.outputs == (OutputParameter(name="out", type=T.TEXT, stdout=True),)


def test_executables_are_resolved_on_the_search_path(tmp_path: Path) -> None:
    path = write(tmp_path, "app.cwl", tool(head="baseCommand: echo"))
    application = read_cwl_tool(path, search_path=[Path("/bin")])
    assert application.executable == Path("/bin/echo")
    with pytest.raises(DescriptionError, match="executable 'echo' was not found"):
        read_cwl_tool(path, search_path=[tmp_path])


# --- what is refused ------------------------------------------------------------------------------

REFUSALS = [
    pytest.param(
        tool(head="baseCommand: [/bin/echo, $(inputs.x)]"),
        "baseCommand: '$(inputs.x)' is a CWL expression; the service evaluates no expressions",
        id="expression-in-baseCommand",
    ),
    pytest.param(
        tool(head='baseCommand: /bin/echo\narguments: ["${return 1}"]'),
        "arguments: '${return 1}' is a CWL expression",
        id="expression-in-arguments",
    ),
    pytest.param(
        tool(head="baseCommand: /bin/echo\narguments: [{valueFrom: x, position: 1}]"),
        "arguments: only plain strings are supported, not a binding",
        id="argument-binding",
    ),
    pytest.param(
        tool("x: {type: string, inputBinding: {position: 1, valueFrom: $(self)}}"),
        "input 'x': valueFrom is not supported (it is a CWL expression)",
        id="valueFrom",
    ),
    pytest.param(
        tool(
            head="""
                baseCommand: /bin/echo
                requirements:
                  DockerRequirement: {dockerPull: debian}
            """
        ),
        "the requirement DockerRequirement is not supported: the service runs no containers",
        id="docker-requirement",
    ),
    pytest.param(
        tool(
            head="""
                baseCommand: /bin/echo
                hints:
                  - class: DockerRequirement
                    dockerPull: debian
            """
        ),
        "the hint DockerRequirement is not supported: the service runs no containers",
        id="docker-hint",
    ),
    pytest.param(
        tool(head="baseCommand: /bin/echo\nrequirements: {ShellCommandRequirement: {}}"),
        "the requirement ShellCommandRequirement is not supported: the service never runs a shell",
        id="shell",
    ),
    pytest.param(
        tool(head="baseCommand: /bin/echo\nrequirements: {InlineJavascriptRequirement: {}}"),
        "InlineJavascriptRequirement is not supported: the service evaluates no expressions",
        id="javascript",
    ),
    pytest.param(
        tool(
            head="baseCommand: /bin/echo\n"
            "requirements: {InitialWorkDirRequirement: {listing: [{entry: x, entryname: y}]}}"
        ),
        "InitialWorkDirRequirement is not supported",
        id="initial-workdir",
    ),
    pytest.param(
        tool(head="baseCommand: /bin/echo\nrequirements: {EnvVarRequirement: {envDef: {A: b}}}"),
        "the requirement EnvVarRequirement is not supported",
        id="environment",
    ),
    pytest.param(
        tool(
            head="baseCommand: /bin/echo\n"
            "requirements: {SchemaDefRequirement: {types: [{name: t, type: enum, symbols: [a]}]}}"
        ),
        "the requirement SchemaDefRequirement is not supported",
        id="other-requirement",
    ),
    pytest.param(
        tool(head="baseCommand: /bin/echo\nrequirements: {ToolTimeLimit: {timelimit: $(60)}}"),
        "ToolTimeLimit: only a number of seconds is supported",
        id="time-limit-expression",
    ),
    pytest.param(
        tool(outputs="o: {type: File, outputBinding: {glob: '*.txt'}}"),
        "output 'o': the glob '*.txt' is not a plain file name",
        id="glob-wildcard",
    ),
    pytest.param(
        tool(outputs="o: {type: File, outputBinding: {glob: $(inputs.x)}}"),
        "output 'o': the glob '$(inputs.x)' is not a plain file name",
        id="glob-expression",
    ),
    pytest.param(
        tool(outputs="o: {type: File, outputBinding: {glob: out/a.txt}}"),
        "output 'o': the glob 'out/a.txt' is not a plain file name",
        id="glob-folder",
    ),
    pytest.param(
        tool(outputs="o: {type: File, outputBinding: {glob: a.txt, outputEval: '$(self[0])'}}"),
        "output 'o': outputEval is not supported",
        id="outputEval",
    ),
    pytest.param(
        tool(outputs="o: {type: File}"),
        "output 'o': a File output needs an outputBinding with a glob",
        id="no-glob",
    ),
    pytest.param(
        tool(outputs="o: {type: 'File[]', outputBinding: {glob: a.txt}}"),
        "output 'o': the type array is not supported (File or stdout only)",
        id="output-array",
    ),
    pytest.param(
        tool(outputs="o: {type: string, outputBinding: {glob: a.txt}}"),
        "output 'o': the type string is not supported (File or stdout only)",
        id="output-string",
    ),
    pytest.param(
        tool(outputs="e: stderr"),
        "output 'e': standard error cannot be an output",
        id="stderr",
    ),
    pytest.param(
        tool(
            outputs="o: {type: File, outputBinding: {glob: stdout.txt}}",
        ),
        "file 'stdout.txt' is reserved for the run's standard streams",
        id="reserved-file",
    ),
    pytest.param(
        tool("x: string"),
        "input 'x' has no inputBinding, so it is not on the command line",
        id="no-inputBinding",
    ),
    pytest.param(
        tool("x: {type: 'string[]', inputBinding: {prefix: -x, itemSeparator: ','}}"),
        "input 'x': itemSeparator is not supported",
        id="itemSeparator",
    ),
    pytest.param(
        tool("x: {type: 'string[]', inputBinding: {prefix: -x}}"),
        "input 'x': CWL writes the prefix of an array input once, before all its values",
        id="array-prefix-once",
    ),
    pytest.param(
        tool("x: {type: string, inputBinding: {prefix: -x, separate: false}}"),
        "input 'x': separate: false joins the prefix '-x' and the value with nothing between",
        id="separate-false",
    ),
    pytest.param(
        tool("x: {type: boolean, inputBinding: {position: 1}}"),
        "input 'x': a boolean input needs a prefix",
        id="positional-boolean",
    ),
    pytest.param(
        tool("d: {type: Directory, inputBinding: {position: 1}}"),
        "input 'd': the type Directory is not supported",
        id="directory",
    ),
    pytest.param(
        tool("u: {type: [int, string], inputBinding: {position: 1}}"),
        "input 'u': a union of several types is not supported",
        id="union",
    ),
    pytest.param(
        tool("r: {type: {type: record, fields: {a: string}}, inputBinding: {position: 1}}"),
        "input 'r': the type record is not supported",
        id="record",
    ),
    pytest.param(
        tool("f: {type: File, default: {class: File, path: a.txt}, inputBinding: {position: 1}}"),
        "input 'f': a File or record default is not supported",
        id="file-default",
    ),
    pytest.param(
        tool("f: {type: File, secondaryFiles: [.bai], inputBinding: {position: 1}}"),
        "input 'f': secondaryFiles are not supported",
        id="secondaryFiles",
    ),
    pytest.param(
        tool("x: {type: string, inputBinding: {position: -1}}"),
        "input 'x': a negative position is not supported",
        id="negative-position",
    ),
    pytest.param(
        tool(
            """
            first: {type: File, inputBinding: {position: 1}}
            out: {type: string, inputBinding: {prefix: -o, position: 2}}
            """
        ),
        "input 'out' (prefix -o) comes after the positional input 'first' in CWL's order "
        "(position, then name), but the service writes every option before the positional "
        "values: give 'first' a higher position than 'out'",
        id="option-after-operand",
    ),
    pytest.param(
        tool("bad-name: {type: string, inputBinding: {position: 1}}"),
        "the input name 'bad-name' is not a letter followed by at most 63 letters",
        id="input-name",
    ),
    pytest.param(
        tool(head="baseCommand: /bin/echo\nstdin: $(inputs.f.path)"),
        "stdin is not supported: applications get no standard input",
        id="stdin",
    ),
    pytest.param(
        tool(head="arguments: [/bin/echo]"),
        "baseCommand is missing: it must name the executable",
        id="no-baseCommand",
    ),
    pytest.param(
        "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps: []\n",
        "the document is a Workflow, not a CommandLineTool",
        id="workflow",
    ),
    pytest.param(
        "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [\n",
        "not a valid CWL document:",
        id="not-yaml",
    ),
    pytest.param(
        "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: /bin/echo\n",
        "not a valid CWL document:",
        id="no-inputs",
    ),
    pytest.param(
        "cwlVersion: v9.9\nclass: CommandLineTool\ninputs: []\noutputs: []\n",
        "not a valid CWL document: Version error",
        id="unknown-version",
    ),
]


@pytest.mark.parametrize(("text", "reason"), REFUSALS)
def test_what_cannot_be_carried_over_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    message = refusal(tmp_path, text)
    assert reason in message, message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["2fast", "with-dash", "x" * 65])
def test_the_file_name_must_be_an_application_name(tmp_path: Path, name: str) -> None:
    message = refusal(tmp_path, tool(), name=name)
    assert f"the file name gives the application name {name!r}, which is not a letter" in message


def test_without_cwl_utils_the_refusal_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cwl_utils.parser", None)
    message = refusal(tmp_path, tool())
    assert message.endswith(
        "a CWL description needs the optional dependency cwl-utils: pip install 'wsrf-uws[cwl]'"
    )
    library = Library.load(tmp_path)
    assert library.names() == []
    assert library.problems == (message,)


def test_the_modules_import_without_cwl_utils() -> None:
    code = (
        "import sys; sys.modules['cwl_utils'] = None\n"
        "import wsrf_uws.jdl.cea.cwl, wsrf_uws.jdl.cea.library, wsrf_uws.jdl.cea.contract\n"
        "assert 'cwl_utils.parser' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- in the library, end to end -----------------------------------------------------------------

ECHO = tool(
    "text: {type: string, label: What to say, inputBinding: {position: 1}}",
    "said: stdout",
    head="""
        label: Echo
        doc: Writes its text to standard output.
        baseCommand: echo
    """,
)


def test_a_cwl_tool_in_the_library_runs_a_job(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    write(folder, "say.cwl", ECHO)
    library = Library.load(folder, search_path=[Path("/bin")])
    assert library.problems == ()
    assert library.names() == ["say"]
    application = library.applications["say"]
    assert (application.title, application.executable) == ("Echo", Path("/bin/echo"))

    cea_job = job(
        library,
        "say",
        '<input name="text">hello; $(id) world</input>',
        '<output name="said" storage="inline"/>',
    )
    assert [(v.name, v.text) for v in cea_job.inputs] == [("text", "hello; $(id) world")]
    workdir = tmp_path / "job"
    workdir.mkdir()
    run, context = application_run(cea_job.application, workdir, cea_job)
    run.run()
    final = context.states[-1]
    assert final["exitStatus"] == 0
    (said,) = final["outputs"]
    assert said["value"] == "hello; $(id) world\n"

    # The checks of every description apply: a positional value cannot be an option.
    with pytest.raises(InvalidJobDescriptionError, match="would be read as an option"):
        job(library, "say", '<input name="text">-rf</input>')
    with pytest.raises(InvalidJobDescriptionError, match="input 'text' is required"):
        job(library, "say")


def test_cwl_tools_sit_beside_the_demo_descriptions(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    for description in DEMO_LIBRARY.glob("*.xml"):
        shutil.copy(description, folder)
    write(folder, "say.cwl", ECHO)
    write(folder, "broken.cwl", tool(head="baseCommand: /bin/echo\nstdin: x"))
    library = Library.load(folder, search_path=[Path("/bin")])
    assert library.names() == [
        "fitsdiff",
        "fitsheader",
        "fitsinfo",
        "say",
        "showtable",
        "starfield",
        "volint",
        "wcslint",
    ]
    assert library.problems == (
        f"{folder / 'broken.cwl'}: stdin is not supported: applications get no standard input",
    )


def test_an_xml_description_wins_over_a_cwl_one_of_the_same_name(tmp_path: Path) -> None:
    shutil.copy(DEMO_LIBRARY / "fitsinfo.xml", tmp_path)
    write(tmp_path, "fitsinfo.cwl", ECHO)
    library = Library.load(tmp_path, search_path=[Path("/bin")])
    assert library.names() == ["fitsinfo"]
    assert library.applications["fitsinfo"].source == str(tmp_path / "fitsinfo.xml")
    assert library.problems == (
        f"{tmp_path / 'fitsinfo.cwl'}: application 'fitsinfo' is also in "
        f"{tmp_path / 'fitsinfo.xml'}",
    )
