"""Tables uploaded with a job (``TAP_UPLOAD.name``): read from the job description or
fetched by URI from a real loopback HTTP server, joined and crossmatched with the
catalogue, and refused when too large, unreadable or not allowed.

The uploaded VOTables are written with astropy; the expected crossmatch comes from numpy
over the Hipparcos rows.
"""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import from_table, writeto
from astropy.table import Table
from lxml import etree

from wsrf_uws.core.errors import InvalidJobDescriptionError, JobFailure
from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.jdl import QueryLimits, query_to_run, read_job
from wsrf_uws.jdl.adql.names import NAMESPACE
from wsrf_uws.jdl.adql.query import execute
from wsrf_uws.jdl.adql.remote_uploads import UPLOAD_FOLDER
from wsrf_uws.testing.http_files import PROXY_VARIABLES, FileServer
from wsrf_uws.vo.transfer import UNREACHABLE, TransferPolicy

# The module's fixtures, shared: imported under their own names for pytest to find.
from adql_support import catalog as catalog
from adql_support import hip as hip
from adql_support import separation

LIMITS = QueryLimits(default_maxrec=1_000_000, max_maxrec=1_000_000)


def positions(hip: dict[str, np.ndarray], rows: int) -> Table:
    """``rows`` positions: half within 2 arcseconds of stars, half anywhere."""
    rng = np.random.default_rng(5)
    chosen = rng.choice(len(hip["ra"]), size=rows // 2, replace=False)
    ra = np.concatenate([hip["ra"][chosen] + 1e-4, rng.uniform(0, 360, rows - rows // 2)])
    dec = np.concatenate(
        [hip["dec"][chosen], np.degrees(np.arcsin(rng.uniform(-1, 1, rows - rows // 2)))]
    )
    table = Table({"id": np.arange(1, rows + 1, dtype=np.int32), "ra": ra, "dec": dec})
    table["name"] = [f"star {i}" for i in range(rows)]
    table["ra"].unit = "deg"
    table["dec"].unit = "deg"
    table["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    return table


def votable_element(table: Table, *, binary: bool = False) -> etree._Element:
    votable = from_table(table)
    for field in votable.get_first_table().fields:
        if field.name == "ra":
            field.ucd = "pos.eq.ra;meta.main"
    if binary:
        votable.get_first_table().format = "binary2"
    out = io.BytesIO()
    writeto(votable, out)
    return etree.fromstring(out.getvalue())


def job(query: str, *uploads: tuple[str, etree._Element]) -> etree._Element:
    root = etree.Element(f"{{{NAMESPACE}}}job")
    etree.SubElement(root, f"{{{NAMESPACE}}}query").text = query
    for name, element in uploads:
        upload = etree.SubElement(root, f"{{{NAMESPACE}}}upload", name=name)
        upload.append(element)
    return root


def result_of(catalog: Catalog, root: etree._Element, limits: QueryLimits = LIMITS) -> pa.Table:
    description = read_job(root, catalog=catalog, limits=limits)
    return execute(catalog, description.translated, uploads=description.uploads).read_all()


@pytest.mark.parametrize("binary", [False, True], ids=["tabledata", "binary2"])
def test_an_uploaded_list_is_crossmatched_with_the_catalogue(
    catalog: Catalog, hip: dict[str, np.ndarray], binary: bool
) -> None:
    table = positions(hip, 2000)
    radius = 5.0 / 3600
    result = result_of(
        catalog,
        job(
            "SELECT l.id, h.hip FROM TAP_UPLOAD.mylist AS l JOIN hipparcos.main AS h "
            f"ON DISTANCE(l.ra, l.dec, h.ra, h.dec) < {radius}",
            ("mylist", votable_element(table, binary=binary)),
        ),
    )
    expected = set()
    order = np.argsort(hip["dec"])
    decs, ras, ids = hip["dec"][order], hip["ra"][order], hip["hip"][order]
    for number, ra, dec in zip(table["id"], table["ra"], table["dec"], strict=True):
        low, high = np.searchsorted(decs, [dec - 2 * radius, dec + 2 * radius])
        close = separation(ras[low:high], decs[low:high], float(ra), float(dec)) < radius
        expected |= {(int(number), int(h)) for h in ids[low:high][close]}
    got = set(zip(result.column("id").to_pylist(), result.column("hip").to_pylist(), strict=True))
    assert got == expected
    assert len(expected) >= 1000


def test_upload_columns_keep_their_metadata_and_values(
    catalog: Catalog, hip: dict[str, np.ndarray]
) -> None:
    table = positions(hip, 10)
    description = read_job(
        job(
            "SELECT TAP_UPLOAD.pts.ra, name, id * 2 AS twice FROM TAP_UPLOAD.pts ORDER BY id",
            ("pts", votable_element(table)),
        ),
        catalog=catalog,
        limits=LIMITS,
    )
    assert [(c.name, c.unit, c.ucd) for c in description.columns] == [
        ("ra", "deg", "pos.eq.ra;meta.main"),
        ("name", None, None),
        ("twice", None, None),
    ]
    rows = execute(catalog, description.translated, uploads=description.uploads).read_all()
    assert rows.column("ra").to_pylist() == pytest.approx(list(table["ra"]))
    assert rows.column("name").to_pylist() == list(table["name"])
    assert rows.column("twice").to_pylist() == [2 * int(i) for i in table["id"]]


def test_two_uploads_and_a_plain_join(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    first = Table({"hip": np.array([1, 2, 3, 999_999], dtype=np.int32)})
    second = Table({"hip": np.array([2, 3, 4], dtype=np.int32), "tag": ["b", "c", "d"]})
    result = result_of(
        catalog,
        job(
            "SELECT a.hip, b.tag, h.hpmag FROM TAP_UPLOAD.a AS a JOIN TAP_UPLOAD.b AS b "
            "ON a.hip = b.hip JOIN hipparcos.main AS h ON h.hip = a.hip ORDER BY a.hip",
            ("a", votable_element(first)),
            ("b", votable_element(second)),
        ),
    )
    magnitudes = dict(zip(hip["hip"].tolist(), hip["hpmag"].tolist(), strict=True))
    assert result.to_pylist() == [
        {"hip": 2, "tag": "b", "hpmag": magnitudes[2]},
        {"hip": 3, "tag": "c", "hpmag": magnitudes[3]},
    ]


def test_an_upload_beyond_the_limit_is_refused(
    catalog: Catalog, hip: dict[str, np.ndarray]
) -> None:
    element = votable_element(positions(hip, 2000))
    small = QueryLimits(default_maxrec=10, max_maxrec=10, max_upload_bytes=10_000)
    with pytest.raises(InvalidJobDescriptionError, match="max_upload_bytes"):
        result_of(catalog, job("SELECT id FROM TAP_UPLOAD.big", ("big", element)), small)


@pytest.mark.parametrize(
    ("uploads", "reason"),
    [
        ([("x", etree.fromstring("<notvotable xmlns='urn:other'/>"))], "is not a VOTable"),
        ([("x", "same"), ("X", "same")], "named twice"),
        ([("x", "square")], "arrays of one dimension only"),
        ([("x", "complex")], "datatype doubleComplex"),
        ([], "no schema 'TAP_UPLOAD'"),
    ],
)
def test_bad_uploads_are_refused(
    catalog: Catalog, uploads: list[tuple[str, object]], reason: str
) -> None:
    elements = []
    for name, content in uploads:
        if content == "same":
            content = votable_element(Table({"a": np.array([1, 2])}))
        elif content == "square":
            content = votable_element(Table({"a": np.zeros((3, 2, 2))}))
        elif content == "complex":
            content = votable_element(Table({"a": np.array([1 + 2j, 3j])}))
        assert isinstance(content, etree._Element)
        elements.append((name, content))
    with pytest.raises(InvalidJobDescriptionError, match=reason):
        result_of(catalog, job("SELECT * FROM TAP_UPLOAD.x", *elements))


#: A table with what STILTS taplint and other clients upload beside plain numbers: arrays
#: of fixed and variable length (with a null element), bits, and a timestamp.
ARRAYS_AND_BITS = b"""<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>
<FIELD name="id" datatype="int"/>
<FIELD name="fixed" datatype="double" arraysize="3" unit="deg"/>
<FIELD name="counts" datatype="short" arraysize="*"/>
<FIELD name="flag" datatype="bit"/>
<FIELD name="flags" datatype="bit" arraysize="4"/>
<FIELD name="stamp" datatype="char" arraysize="19" xtype="timestamp"/>
<DATA><TABLEDATA>
<TR><TD>1</TD><TD>1.5 2.5 3.5</TD><TD>7 8</TD><TD>1</TD><TD>1010</TD>
<TD>2000-01-01T00:00:00</TD></TR>
<TR><TD>2</TD><TD>-1 NaN 0.25</TD><TD></TD><TD>0</TD><TD>0001</TD>
<TD>2000-01-02T00:14:24</TD></TR>
<TR><TD>3</TD><TD>4 5 6</TD><TD>9</TD><TD>1</TD><TD>1111</TD><TD>2001-02-03T04:05:06</TD></TR>
</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"""


def test_arrays_bits_and_xtypes_are_uploaded(catalog: Catalog) -> None:
    element = etree.fromstring(ARRAYS_AND_BITS)
    description = read_job(
        job("SELECT * FROM TAP_UPLOAD.t WHERE id <> 3 ORDER BY id", ("t", element)),
        catalog=catalog,
        limits=LIMITS,
    )
    (upload,) = description.uploads
    declared = {c.name: (c.datatype, c.arraysize, c.xtype, c.unit) for c in upload.info.columns}
    assert declared == {
        "id": ("int", None, None, None),
        "fixed": ("double", "3", None, "deg"),
        "counts": ("short", "*", None, None),
        "flag": ("boolean", None, None, None),
        "flags": ("boolean", "4", None, None),
        "stamp": ("char", "*", "timestamp", None),
    }
    rows = execute(catalog, description.translated, uploads=description.uploads).read_all()
    fixed = rows.column("fixed").to_pylist()
    assert fixed[0] == [1.5, 2.5, 3.5]
    assert fixed[1] == [-1.0, None, 0.25]  # NaN is a VOTable float's null
    assert rows.column("counts").to_pylist() == [[7, 8], []]
    assert rows.column("counts").type == pa.list_(pa.int16())
    assert rows.column("flag").to_pylist() == [True, False]
    assert rows.column("flags").to_pylist() == [
        [True, False, True, False],
        [False, False, False, True],
    ]
    assert rows.column("stamp").to_pylist() == ["2000-01-01T00:00:00", "2000-01-02T00:14:24"]


# -- uploads by URI -------------------------------------------------------------------------

PUBLIC_URL = "http://service.example.org:8080"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def remote_limits(*entries: str, max_upload_bytes: int = 1024 * 1024) -> QueryLimits:
    """Limits whose fetch allow-list is ``entries`` (``{public_url}`` names PUBLIC_URL)."""
    return QueryLimits(
        default_maxrec=1_000_000,
        max_maxrec=1_000_000,
        max_upload_bytes=max_upload_bytes,
        fetch_policy=TransferPolicy.parse(entries, public_url=PUBLIC_URL),
        fetch_timeout=10.0,
    )


def by_uri(query: str, *uploads: tuple[str, str | etree._Element]) -> etree._Element:
    """A job whose uploads are in-line (an element) or by URI (a string)."""
    root = job(query)
    for name, source in uploads:
        upload = etree.SubElement(root, f"{{{NAMESPACE}}}upload", name=name)
        if isinstance(source, str):
            upload.set(XLINK_HREF, source)
        else:
            upload.append(source)
    return root


def votable_bytes(table: Table) -> bytes:
    return etree.tostring(votable_element(table), xml_declaration=True, encoding="utf-8")


def run_result(
    catalog: Catalog, root: etree._Element, limits: QueryLimits, workdir: Path
) -> pa.Table:
    """What a run of the job reads: the uploads fetched by :func:`query_to_run`."""
    description = read_job(root, catalog=catalog, limits=limits)
    translated, uploads = query_to_run(description, catalog=catalog, limits=limits, workdir=workdir)
    return execute(catalog, translated, uploads=uploads).read_all()


@pytest.fixture
def files() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy the environment may name."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_an_upload_by_uri_is_checked_at_create_job_and_fetched_by_the_run(
    catalog: Catalog, hip: dict[str, np.ndarray], files: FileServer, tmp_path: Path
) -> None:
    table = positions(hip, 400)
    url = files.add("/lists/targets.vot", votable_bytes(table))
    limits = remote_limits(f"{files.url}/lists/")
    radius = 5.0 / 3600
    root = by_uri(
        "SELECT l.id, h.hip FROM TAP_UPLOAD.targets AS l JOIN hipparcos.main AS h "
        f"ON 1 = CONTAINS(POINT(h.ra, h.dec), CIRCLE(l.ra, l.dec, {radius}))",
        ("targets", url),
    )
    description = read_job(root, catalog=catalog, limits=limits)
    assert files.requests == []  # createJob fetches nothing
    assert description.translated is None
    assert [(r.name, r.uri) for r in description.remote_uploads] == [("targets", url)]

    result = run_result(catalog, root, limits, tmp_path)
    assert files.requests == [("GET", "/lists/targets.vot")]
    expected = set()
    for number, ra, dec in zip(table["id"], table["ra"], table["dec"], strict=True):
        close = separation(hip["ra"], hip["dec"], float(ra), float(dec)) < radius
        expected |= {(int(number), int(h)) for h in hip["hip"][close]}
    got = set(zip(result.column("id").to_pylist(), result.column("hip").to_pylist(), strict=True))
    assert got == expected
    assert len(expected) >= 200
    assert list((tmp_path / UPLOAD_FOLDER).iterdir()) == []  # the fetched file is not kept


def test_in_line_and_fetched_uploads_are_joined(
    catalog: Catalog, files: FileServer, tmp_path: Path
) -> None:
    first = Table({"hip": np.array([7, 8, 9], dtype=np.int32)})
    second = Table({"hip": np.array([8, 9, 10], dtype=np.int32), "tag": ["h", "i", "j"]})
    url = files.add("/lists/second.vot", votable_bytes(second))
    result = run_result(
        catalog,
        by_uri(
            "SELECT a.hip, b.tag FROM TAP_UPLOAD.a AS a JOIN TAP_UPLOAD.b AS b "
            "ON a.hip = b.hip ORDER BY a.hip",
            ("a", votable_element(first)),
            ("b", url),
        ),
        remote_limits(f"{files.url}/lists/"),
        tmp_path,
    )
    assert result.to_pylist() == [{"hip": 8, "tag": "h"}, {"hip": 9, "tag": "i"}]


def test_a_path_names_the_services_own_url(catalog: Catalog) -> None:
    description = read_job(
        by_uri("SELECT * FROM TAP_UPLOAD.stars", ("stars", "/demo/adql/bright-stars.vot")),
        catalog=catalog,
        limits=remote_limits("{public_url}/demo/"),
    )
    assert [r.uri for r in description.remote_uploads] == [
        f"{PUBLIC_URL}/demo/adql/bright-stars.vot"
    ]


@pytest.mark.parametrize(
    ("uploads", "query", "limits", "reason"),
    [
        (
            [("x", "http://elsewhere.example.org/x.vot")],
            "SELECT * FROM TAP_UPLOAD.x",
            remote_limits("{public_url}/demo/"),
            r"host 'elsewhere.example.org' is not allowed .*\[adql\] fetch_allow",
        ),
        (
            [("x", "/private/x.vot")],
            "SELECT * FROM TAP_UPLOAD.x",
            remote_limits("{public_url}/demo/"),
            "path '/private/x.vot' is not allowed",
        ),
        (
            [("x", "http://user:secret@service.example.org:8080/demo/x.vot")],
            "SELECT * FROM TAP_UPLOAD.x",
            remote_limits("{public_url}/demo/"),
            "user information",
        ),
        (
            [("x", "ftp://service.example.org/demo/x.vot")],
            "SELECT * FROM TAP_UPLOAD.x",
            remote_limits("{public_url}/demo/"),
            "scheme 'ftp' is not allowed",
        ),
        (
            [("x", "/demo/x.vot")],
            "SELECT * FROM TAP_UPLOAD.x",
            remote_limits(),
            r"fetches no uploads by URI \(\[adql\] fetch_allow is empty\)",
        ),
        (
            [("x", "/demo/x.vot")],
            "SELECT * FROM TAP_UPLOAD.y",
            remote_limits("{public_url}/demo/"),
            r"TAP_UPLOAD.y is not an upload of this job \(its uploads: x\)",
        ),
        (
            [("x", "/demo/x.vot")],
            "SELECT * FROM TAP_UPLOAD.x WHERE",
            remote_limits("{public_url}/demo/"),
            "ADQL",
        ),
        (
            [("x", "/demo/x.vot")],
            "DELETE FROM TAP_UPLOAD.x",
            remote_limits("{public_url}/demo/"),
            "ADQL",
        ),
        (
            [("x", "/demo/x.vot"), ("X", "/demo/y.vot")],
            "SELECT * FROM TAP_UPLOAD.x",
            remote_limits("{public_url}/demo/"),
            "named twice",
        ),
        (
            [("1x", "/demo/x.vot")],
            "SELECT 1 AS one",
            remote_limits("{public_url}/demo/"),
            "upload name '1x'",
        ),
    ],
)
def test_uploads_by_uri_are_refused_at_create_job(
    catalog: Catalog,
    uploads: list[tuple[str, str]],
    query: str,
    limits: QueryLimits,
    reason: str,
) -> None:
    with pytest.raises(InvalidJobDescriptionError, match=reason):
        read_job(by_uri(query, *uploads), catalog=catalog, limits=limits)


def test_an_upload_with_both_an_href_and_a_table_is_refused(catalog: Catalog) -> None:
    root = job("SELECT * FROM TAP_UPLOAD.x", ("x", votable_element(Table({"a": [1]}))))
    root.find(f"{{{NAMESPACE}}}upload").set(XLINK_HREF, "/demo/x.vot")  # type: ignore[union-attr]
    with pytest.raises(
        InvalidJobDescriptionError, match="both an xlink:href and an in-line VOTable"
    ):
        read_job(root, catalog=catalog, limits=remote_limits("{public_url}/demo/"))


def test_failed_fetches_end_the_run_saying_why(
    catalog: Catalog, files: FileServer, tmp_path: Path
) -> None:
    small = votable_bytes(Table({"a": np.array([1, 2], dtype=np.int32)}))
    files.add("/lists/small.vot", small)
    files.add("/lists/text.vot", b"id,ra,dec\n1,2,3\n")
    files.add("/lists/doctype.vot", b'<!DOCTYPE x [<!ENTITY e "e">]><VOTABLE>&e;</VOTABLE>')
    files.add("/lists/html.vot", b"<html><body>not a table</body></html>")
    files.fail("/lists/gone.vot", 404)
    files.redirect("/lists/away.vot", "http://elsewhere.example.org/x.vot")
    files.stream("/lists/huge.vot", total_bytes=5 * 1024 * 1024)
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    allowed = remote_limits(f"{files.url}/lists/", f"http://127.0.0.1:{closed}")
    cases = {
        "/lists/gone.vot": "answered HTTP 404 Not Found",
        "/lists/away.vot": r"redirect to http://elsewhere.example.org/x.vot refused",
        "/lists/huge.vot": r"larger than the limit of 1 MiB.*\[adql\] max_upload_bytes",
        "/lists/text.vot": "is not an XML document",
        "/lists/doctype.vot": "DOCTYPE",
        "/lists/html.vot": "is not a VOTable this service can read",
    }
    for path, reason in cases.items():
        description = read_job(
            by_uri("SELECT * FROM TAP_UPLOAD.x", ("x", files.url_for(path))),
            catalog=catalog,
            limits=allowed,
        )
        with pytest.raises(JobFailure, match=f"upload 'x'.*{reason}"):
            query_to_run(description, catalog=catalog, limits=allowed, workdir=tmp_path)
    # No answer at all reads the same whatever the cause (the log has it).
    description = read_job(
        by_uri("SELECT * FROM TAP_UPLOAD.x", ("x", f"http://127.0.0.1:{closed}/x.vot")),
        catalog=catalog,
        limits=allowed,
    )
    with pytest.raises(JobFailure, match=re.escape(UNREACHABLE)):
        query_to_run(description, catalog=catalog, limits=allowed, workdir=tmp_path)
    # A wildcard entry does not open the service's own network.
    wildcard = remote_limits("http://*:*")
    description = read_job(
        by_uri("SELECT * FROM TAP_UPLOAD.x", ("x", files.url_for("/lists/small.vot"))),
        catalog=catalog,
        limits=wildcard,
    )
    with pytest.raises(JobFailure, match=r"127\.0\.0\.1 is a loopback address"):
        query_to_run(description, catalog=catalog, limits=wildcard, workdir=tmp_path)
    assert list((tmp_path / UPLOAD_FOLDER).iterdir()) == []


def test_fetched_uploads_share_the_size_limit_with_in_line_ones(
    catalog: Catalog, hip: dict[str, np.ndarray], files: FileServer, tmp_path: Path
) -> None:
    in_line = votable_element(positions(hip, 100))
    remote = votable_bytes(positions(hip, 100))
    url = files.add("/lists/more.vot", remote)
    root = by_uri(
        "SELECT COUNT(*) AS n FROM TAP_UPLOAD.a, TAP_UPLOAD.b WHERE a.id = b.id",
        ("a", in_line),
        ("b", url),
    )
    in_line_bytes = len(etree.tostring(in_line))  # as it is in the job description
    enough = remote_limits(f"{files.url}/lists/", max_upload_bytes=in_line_bytes + len(remote))
    assert run_result(catalog, root, enough, tmp_path).to_pylist() == [{"n": 100}]
    short = remote_limits(f"{files.url}/lists/", max_upload_bytes=in_line_bytes + len(remote) - 1)
    description = read_job(root, catalog=catalog, limits=short)
    with pytest.raises(JobFailure, match=r"upload 'b': .*larger than the limit.*max_upload_bytes"):
        query_to_run(description, catalog=catalog, limits=short, workdir=tmp_path)


def test_a_query_that_does_not_fit_the_fetched_table_ends_the_run(
    catalog: Catalog, files: FileServer, tmp_path: Path
) -> None:
    url = files.add("/lists/a.vot", votable_bytes(Table({"a": np.array([1], dtype=np.int32)})))
    limits = remote_limits(f"{files.url}/lists/")
    description = read_job(
        by_uri("SELECT nosuch FROM TAP_UPLOAD.x", ("x", url)), catalog=catalog, limits=limits
    )
    with pytest.raises(JobFailure, match=r"ADQL: .*nosuch"):
        query_to_run(description, catalog=catalog, limits=limits, workdir=tmp_path)


def test_an_invalid_fetch_allow_entry_fails_the_contract_at_its_construction() -> None:
    """At the service's start (which then logs that adql is not served), not at the first
    createJob: the contract makes its query limits on first use, its fetch policy at once."""
    from wsrf_uws.core.contract import ContractEnvironment
    from wsrf_uws.jdl.adql.contract import AdqlContract
    from wsrf_uws.jdl.adql.settings import AdqlSettings

    environment = ContractEnvironment(settings=AdqlSettings(fetch_allow=["ftp://x.example.org/"]))
    with pytest.raises(ValueError, match="names scheme 'ftp'; only http and https"):
        AdqlContract(environment)
