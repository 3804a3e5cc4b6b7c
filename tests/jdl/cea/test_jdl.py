"""Reading ``cea:job`` documents against a library: accepted values and every refusal."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from wsrf_uws.core.errors import InvalidJobDescriptionError
from wsrf_uws.core.xmldoc import validate
from wsrf_uws.jdl.cea.application import Locality, Storage
from wsrf_uws.jdl.cea.jdl import CeaJob, InputValue, OutputRequest, read_job
from wsrf_uws.jdl.cea.library import Library, cea_schema
from wsrf_uws.jdl.cea.transfer import TransferPolicy

CEA = "urn:wsrf-uws:cea:v1"

# One input of every type, and the ways a value reaches the command line.
KITCHEN = """<?xml version="1.0" encoding="UTF-8"?>
<application xmlns="urn:wsrf-uws:cea:v1" name="kitchen">
  <title>Every parameter type</title>
  <executable>/bin/echo</executable>
  <input name="count" type="integer">
    <min>1</min>
    <max>10</max>
    <switch>-n</switch>
  </input>
  <input name="scale" type="real" minOccurs="0">
    <min>-5</min>
    <max>5</max>
    <switch style="joined">--scale</switch>
  </input>
  <input name="verbose" type="boolean" minOccurs="0">
    <default>false</default>
    <switch style="flag">-v</switch>
  </input>
  <input name="mode" type="text" minOccurs="0">
    <option>fast</option>
    <option>slow</option>
    <switch>--mode</switch>
  </input>
  <input name="label" type="text" minOccurs="0">
    <maxLength>8</maxLength>
    <position>2</position>
  </input>
  <input name="link" type="anyURI" minOccurs="0">
    <switch>--link</switch>
  </input>
  <input name="when" type="dateTime" minOccurs="0">
    <switch>--when</switch>
  </input>
  <input name="image" type="FITS" minOccurs="0">
    <position>1</position>
  </input>
  <input name="table" type="VOTable" minOccurs="0">
    <switch>--table</switch>
  </input>
  <input name="blob" type="binary" minOccurs="0" fileRef="true">
    <switch>--blob</switch>
  </input>
  <input name="tag" type="text" minOccurs="0" maxOccurs="unbounded">
    <switch>-t</switch>
  </input>
  <input name="level" type="integer">
    <default>3</default>
    <switch>--level</switch>
  </input>
  <input name="notes" type="text" minOccurs="0" fileRef="true">
    <switch>--notes</switch>
  </input>
  <input name="offset" type="real" minOccurs="0">
    <position>3</position>
  </input>
  <output name="result" type="text" file="result.txt">
    <switch>-o</switch>
  </output>
  <output name="picture" type="FITS" file="picture.fits"/>
  <output name="log" type="text" stdout="true"/>
</application>
"""

PAIRS = """<?xml version="1.0" encoding="UTF-8"?>
<application xmlns="urn:wsrf-uws:cea:v1" name="pairs">
  <title>Two or three values</title>
  <executable>/bin/echo</executable>
  <input name="pair" type="text" minOccurs="2" maxOccurs="3">
    <switch>-p</switch>
  </input>
</application>
"""

POLICY = TransferPolicy.parse(["http://127.0.0.1:*", "https://*"])

FITS_BYTES = b"SIMPLE  =                    T" + b" " * 50 + b"END" + b" " * 77
VOTABLE = '<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3" version="1.3"/>'


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    folder = tmp_path_factory.mktemp("library")
    (folder / "kitchen.xml").write_text(KITCHEN, encoding="utf-8")
    (folder / "pairs.xml").write_text(PAIRS, encoding="utf-8")
    loaded = Library.load(folder)
    assert loaded.problems == ()
    assert loaded.names() == ["kitchen", "pairs"]
    return loaded


def document(*parts: str, application: str = "kitchen", count: str | None = "4") -> str:
    """A job of ``application``; kitchen jobs give the required count unless told not to."""
    given = ""
    if application == "kitchen" and count is not None:
        given = f'<input name="count">{count}</input>'
    return (
        f'<job xmlns="{CEA}"><application>{application}</application>{given}{"".join(parts)}</job>'
    )


def parse(text: str) -> etree._Element:
    """The job element, checked against the schema as the service does before read_job."""
    root = etree.fromstring(text.encode("utf-8"))
    validate(root, cea_schema())
    return root


def read(
    library: Library, *parts: str, application: str = "kitchen", count: str | None = "4"
) -> CeaJob:
    return read_job(
        parse(document(*parts, application=application, count=count)),
        library=library,
        fetch_policy=POLICY,
        deliver_policy=POLICY,
    )


def refused(
    library: Library, *parts: str, application: str = "kitchen", count: str | None = "4"
) -> str:
    with pytest.raises(InvalidJobDescriptionError) as info:
        read(library, *parts, application=application, count=count)
    return info.value.reason


def value(job: CeaJob, name: str) -> InputValue:
    (found,) = job.values(name)
    return found


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- accepted jobs --------------------------------------------------------------------------------


def test_a_minimal_job_takes_the_defaults(library: Library) -> None:
    job = read(library)
    assert job.application is library.get("kitchen")
    assert job.execution_duration is None
    assert job.inputs == (
        InputValue("count", 1, Locality.LOCAL, Storage.INLINE, text="4"),
        InputValue("verbose", 1, Locality.LOCAL, Storage.INLINE, text="false"),
        InputValue("level", 1, Locality.LOCAL, Storage.INLINE, text="3"),
    )
    assert job.outputs == (
        OutputRequest("result", Storage.FILE),
        OutputRequest("picture", Storage.FILE),
        OutputRequest("log", Storage.FILE),
    )
    assert job.destinations == ()


def test_values_are_normalized_and_kept_in_declaration_order(library: Library) -> None:
    job = read(
        library,
        '<input name="level">7</input>',
        '<input name="verbose">1</input>',
        '<input name="scale">-2.50</input>',
        '<input name="mode">slow</input>',
        '<input name="label">ok</input>',
        '<input name="link">https://example.org/a?b=c</input>',
        '<input name="when">2024-05-01T12:00:00Z</input>',
        '<input name="offset">-5</input>',
        count="+007",
    )
    assert [v.name for v in job.inputs] == [
        "count",
        "scale",
        "verbose",
        "mode",
        "label",
        "link",
        "when",
        "level",
        "offset",
    ]
    texts = {v.name: v.text for v in job.inputs}
    assert texts == {
        "count": "7",
        "scale": "-2.50",
        "verbose": "true",
        "mode": "slow",
        "label": "ok",
        "link": "https://example.org/a?b=c",
        "when": "2024-05-01T12:00:00Z",
        "level": "7",
        "offset": "-5",  # a negative number in a position is a number, not an option
    }
    assert all(v.storage is Storage.INLINE for v in job.inputs)
    assert all(v.locality is Locality.LOCAL for v in job.inputs)


def test_the_execution_duration_is_read(library: Library) -> None:
    text = (
        f'<job xmlns="{CEA}"><application>pairs</application>'
        "<executionDuration>60</executionDuration>"
        '<input name="pair">a</input><input name="pair">b</input></job>'
    )
    job = read_job(parse(text), library=library, fetch_policy=POLICY, deliver_policy=POLICY)
    assert job.execution_duration == 60


@pytest.mark.parametrize(
    ("given", "expected"), [("0", "false"), ("TRUE", "true"), (" false ", "false")]
)
def test_booleans_are_normalized(library: Library, given: str, expected: str) -> None:
    assert (
        value(read(library, f'<input name="verbose">{given}</input>'), "verbose").text == expected
    )


def test_repeated_values_are_numbered(library: Library) -> None:
    job = read(library, *(f'<input name="tag">t{n}</input>' for n in range(1, 5)))
    assert [(v.occurrence, v.text) for v in job.values("tag")] == [
        (1, "t1"),
        (2, "t2"),
        (3, "t3"),
        (4, "t4"),
    ]


def test_data_is_decoded_and_kept_as_files(library: Library) -> None:
    job = read(
        library,
        f'<input name="image" encoding="base64">\n  {b64(FITS_BYTES)[:40]}\n'
        f"  {b64(FITS_BYTES)[40:]}\n</input>",
        f'<input name="blob" encoding="base64">{b64(bytes(range(256)))}</input>',
        f'<input name="table" encoding="base64">{b64(VOTABLE.encode())}</input>',
        '<input name="notes">some notes</input>',
    )
    assert value(job, "image") == InputValue(
        "image", 1, Locality.LOCAL, Storage.FILE, data=FITS_BYTES
    )
    assert value(job, "blob") == InputValue(
        "blob", 1, Locality.LOCAL, Storage.FILE, data=bytes(range(256))
    )
    assert value(job, "table").data == VOTABLE.encode()
    assert value(job, "table").storage is Storage.FILE
    # A text passed as a file keeps its value, and is kept as a file by default.
    assert value(job, "notes") == InputValue(
        "notes", 1, Locality.LOCAL, Storage.FILE, text="some notes"
    )


def test_a_votable_may_be_given_as_text(library: Library) -> None:
    job = read(library, f'<input name="table" storage="inline"><![CDATA[{VOTABLE}]]></input>')
    assert value(job, "table") == InputValue(
        "table", 1, Locality.LOCAL, Storage.INLINE, data=VOTABLE.encode()
    )


def test_storage_may_be_chosen(library: Library) -> None:
    job = read(
        library,
        '<input name="mode" storage="file">fast</input>',
        '<input name="notes" storage="inline">n</input>',
        '<output name="result" storage="inline"/>',
        '<output name="log" storage="file"/>',
    )
    assert value(job, "mode").storage is Storage.FILE
    assert value(job, "notes").storage is Storage.INLINE
    assert job.output("result") == OutputRequest("result", Storage.INLINE)
    assert job.output("log") == OutputRequest("log", Storage.FILE)


def test_remote_values_keep_their_uri(library: Library) -> None:
    job = read(
        library,
        '<input name="image" locality="remote"> https://archive.example.org/x.fits </input>',
        '<input name="mode" locality="remote">http://127.0.0.1:8080/mode.txt</input>',
    )
    assert value(job, "image") == InputValue(
        "image", 1, Locality.REMOTE, Storage.FILE, uri="https://archive.example.org/x.fits"
    )
    assert value(job, "mode") == InputValue(
        "mode", 1, Locality.REMOTE, Storage.INLINE, uri="http://127.0.0.1:8080/mode.txt"
    )


def test_outputs_may_have_destinations(library: Library) -> None:
    job = read(
        library,
        '<output name="picture" destination="https://store.example.org/p.fits"/>',
        '<output name="result" storage="inline" destination="http://127.0.0.1:9/r.txt"/>',
    )
    assert job.outputs == (
        OutputRequest("result", Storage.INLINE, "http://127.0.0.1:9/r.txt"),
        OutputRequest("picture", Storage.FILE, "https://store.example.org/p.fits"),
        OutputRequest("log", Storage.FILE),
    )
    assert [o.name for o in job.destinations] == ["result", "picture"]


def test_occurrences_within_bounds_are_accepted(library: Library) -> None:
    for n in (2, 3):
        parts = [f'<input name="pair">p{i}</input>' for i in range(n)]
        job = read(library, *parts, application="pairs")
        assert [v.text for v in job.values("pair")] == [f"p{i}" for i in range(n)]


# --- refusals: names and occurrences ---------------------------------------------------------


def test_an_unknown_application_is_refused_with_the_list(library: Library) -> None:
    reason = refused(library, application="nope")
    assert reason == "this service has no application 'nope' (it offers: kitchen, pairs)"


def test_an_unknown_input_is_refused_with_the_list(library: Library) -> None:
    reason = refused(library, '<input name="colour">red</input>')
    assert reason == (
        "application 'kitchen' has no input 'colour' (its inputs: count, scale, verbose, mode, "
        "label, link, when, image, table, blob, tag, level, notes, offset)"
    )


def test_an_unknown_output_is_refused_with_the_list(library: Library) -> None:
    reason = refused(library, '<output name="plot"/>')
    assert reason == (
        "application 'kitchen' has no output 'plot' (its outputs: result, picture, log)"
    )


def test_too_many_values_are_refused(library: Library) -> None:
    reason = refused(library, '<input name="label">a</input>', '<input name="label">b</input>')
    assert reason == "input 'label' is given 2 times; it takes at most 1"
    parts = [f'<input name="pair">p{i}</input>' for i in range(4)]
    reason = refused(library, *parts, application="pairs")
    assert reason == "input 'pair' is given 4 times; it takes at most 3"


def test_too_few_values_are_refused(library: Library) -> None:
    reason = refused(library, '<input name="pair">p</input>', application="pairs")
    assert reason == "input 'pair' is given 1 times; it takes at least 2"


def test_a_required_input_is_refused_when_missing(library: Library) -> None:
    assert refused(library, count=None) == "input 'count' is required"
    assert refused(library, application="pairs") == "input 'pair' is required"


def test_an_output_named_twice_is_refused(library: Library) -> None:
    reason = refused(library, '<output name="result"/>', '<output name="result"/>')
    assert reason == "output 'result' is named twice"


# --- refusals: values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "reason"),
    [
        ("level", "x", "'x' is not an integer"),
        ("level", "1.0", "'1.0' is not an integer"),
        ("level", "", "'' is not an integer"),
        ("scale", "abc", "'abc' is not a real number"),
        ("scale", "nan", "'nan' is not a real number"),
        ("scale", "inf", "'inf' is not a real number"),
        ("scale", "1e999", "'1e999' is not a finite number"),
        ("verbose", "yes", "'yes' is not a boolean (true, false, 1 or 0)"),
        ("link", "data/x.fits", "'data/x.fits' is not an absolute URI"),
        ("link", "https://a.org/x y", "'https://a.org/x y' is not an absolute URI"),
        ("when", "yesterday", "'yesterday' is not an ISO 8601 date and time"),
        ("count", "0", "0 is below the minimum 1"),
        ("count", "11", "11 is above the maximum 10"),
        ("scale", "-5.5", "-5.5 is below the minimum -5"),
        ("scale", "5e1", "50 is above the maximum 5"),
        ("mode", "medium", "'medium' is not one of fast, slow"),
        ("mode", "Fast", "'Fast' is not one of fast, slow"),
        ("label", "123456789", "the text is 9 characters long; the limit is 8"),
        ("label", "a&#127;b", "the text contains control characters"),
        ("label", "-rf", "'-rf' starts with '-' and would be read as an option"),
    ],
)
def test_a_bad_value_is_refused_naming_the_input(
    library: Library, name: str, given: str, reason: str
) -> None:
    parts = [f'<input name="{name}">{given}</input>']
    if name == "count":
        assert refused(library, *parts, count=None) == f"input 'count': {reason}"
    else:
        assert refused(library, *parts) == f"input {name!r}: {reason}"


def test_a_switch_value_may_start_with_a_dash(library: Library) -> None:
    # Only positional values could be read as options; after a switch a value is a value.
    assert [v.text for v in read(library, '<input name="tag">-x</input>').values("tag")] == ["-x"]


def test_a_bad_occurrence_among_good_ones_is_refused(library: Library) -> None:
    reason = refused(library, '<input name="tag">ok</input>', '<input name="tag">bad&#127;</input>')
    assert reason == "input 'tag': the text contains control characters"


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        (
            '<input name="blob" encoding="base64">not base64!</input>',
            "input 'blob': the value is not valid base64",
        ),
        (
            '<input name="image" encoding="base64">QUJ</input>',
            "input 'image': the value is not valid base64",
        ),
        (
            f'<input name="image">{"SIMPLE  =" + " " * 20 + "T"}</input>',
            "input 'image': FITS data must be given base64-encoded (encoding='base64') "
            "or as a remote URI",
        ),
        (
            '<input name="blob">raw bytes</input>',
            "input 'blob': binary data must be given base64-encoded (encoding='base64') "
            "or as a remote URI",
        ),
        (
            f'<input name="image" encoding="base64">{b64(b"PNG not FITS")}</input>',
            "input 'image': the data is not a FITS file (it does not start with SIMPLE  =)",
        ),
        (
            '<input name="table"><![CDATA[<html><body/></html>]]></input>',
            "input 'table': the data is not a VOTable (its root is html)",
        ),
        (
            f'<input name="table" encoding="base64">{b64(b"<VOTABLE>")}</input>',
            "input 'table': the data is not a VOTable: ",
        ),
        (
            f'<input name="image" storage="inline" encoding="base64">{b64(FITS_BYTES)}</input>',
            "input 'image': FITS data cannot be kept in-line; use storage='file'",
        ),
        (
            '<input name="blob" storage="inline" locality="remote">https://a.org/b</input>',
            "input 'blob': binary data cannot be kept in-line; use storage='file'",
        ),
        (
            '<input name="mode" encoding="base64">ZmFzdA==</input>',
            "input 'mode': encoding applies to FITS, VOTable and binary data, not text",
        ),
        (
            '<input name="image" locality="remote" encoding="base64">https://a.org/x</input>',
            "input 'image': a remote value is a URI; it takes no encoding",
        ),
        (
            '<input name="image" locality="remote">ftp://a.org/x.fits</input>',
            "input 'image': ftp://a.org/x.fits refused: scheme 'ftp' is not allowed",
        ),
        (
            '<input name="image" locality="remote">http://example.org/x.fits</input>',
            "input 'image': http://example.org/x.fits refused: host 'example.org' is not allowed",
        ),
        (
            '<input name="mode" locality="remote">x.txt</input>',
            "input 'mode': x.txt refused: it is not an absolute http(s) URI",
        ),
        (
            '<output name="picture" storage="inline"/>',
            "output 'picture': FITS data cannot be kept in-line; use storage='file'",
        ),
        (
            '<output name="result" destination="http://example.org/r.txt"/>',
            "output 'result': http://example.org/r.txt refused: host 'example.org' is not allowed",
        ),
        (
            '<output name="result" destination="file:///tmp/r.txt"/>',
            "output 'result': file:///tmp/r.txt refused: scheme 'file' is not allowed",
        ),
    ],
)
def test_bad_data_storage_and_uris_are_refused(library: Library, part: str, reason: str) -> None:
    got = refused(library, part)
    if reason.endswith(": "):
        assert got.startswith(reason), got
    else:
        assert got == reason


# --- where the problem is -------------------------------------------------------------------------


MULTI_LINE = """<?xml version="1.0"?>
<job xmlns="urn:wsrf-uws:cea:v1">
  <application>kitchen</application>
  <input name="count">4</input>
  <input name="tag">fine</input>
  <input name="tag">also fine</input>
  <input name="mode">medium</input>
  <output name="result"/>
  <output name="result"/>
</job>
"""


def line_of(library: Library, text: str) -> tuple[int | None, str]:
    with pytest.raises(InvalidJobDescriptionError) as info:
        read_job(parse(text), library=library, fetch_policy=POLICY, deliver_policy=POLICY)
    assert f"(line {info.value.line})" in str(info.value)
    return info.value.line, info.value.reason


def test_the_line_of_a_bad_input_is_given(library: Library) -> None:
    assert line_of(library, MULTI_LINE) == (7, "input 'mode': 'medium' is not one of fast, slow")


def test_the_line_of_a_repeated_output_is_given(library: Library) -> None:
    text = MULTI_LINE.replace(">medium<", ">slow<")
    assert line_of(library, text) == (9, "output 'result' is named twice")


def test_the_line_of_an_extra_occurrence_is_given(library: Library) -> None:
    text = MULTI_LINE.replace('name="tag"', 'name="label"').replace(">medium<", ">slow<")
    assert line_of(library, text) == (6, "input 'label' is given 2 times; it takes at most 1")


def test_the_line_of_an_unknown_application_is_given(library: Library) -> None:
    text = MULTI_LINE.replace("<application>kitchen", "\n<application>cooker")
    assert line_of(library, text)[0] == 4


def test_a_missing_input_is_placed_at_the_job(library: Library) -> None:
    text = MULTI_LINE.replace('  <input name="count">4</input>\n', "")
    assert line_of(library, text) == (2, "input 'count' is required")
