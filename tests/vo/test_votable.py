"""The VOTable writer, read back by astropy, pyvo, the genuine schema and a plain decoder.

Every column type is written with nulls, NaN, infinities, extremes, non-ASCII and long
text, across chunk and batch boundaries, in both serializations; the values read back are
compared exactly with the Arrow values written. astropy (and pyvo, which parses with it)
cannot show everything: it reads NaN as null, ignores BINARY2 null flags on strings (they
read as empty) and strips the whitespace around TABLEDATA cells. Where it cannot see a
distinction, a small BINARY2 decoder written here (from the VOTable 1.4 text) or the raw
XML checks it.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import parse
from lxml import etree
from pyvo.dal import DALOverflowWarning, DALQueryError, DALResults
from pyvo.dal.tap import TAPResults

from wsrf_uws.vo.columns import ColumnInfo
from wsrf_uws.vo.votable import (
    VOTABLE_NAMESPACE,
    Serialization,
    error_votable,
    votable_bytes,
    write_votable,
)

SHARED_TOOLS = Path(__file__).resolve().parents[3] / "shared" / "tools"
SERIALIZATIONS: list[Serialization] = ["BINARY2", "TABLEDATA"]
V = {"v": VOTABLE_NAMESPACE}
MJD_ZERO = datetime(1858, 11, 17)  # MJD 0 (naive times are UTC here)


# -- the sample: every type, every kind of awkward value ---------------------------------


def sample() -> tuple[pa.Table, list[ColumnInfo]]:
    """Seven rows; every column has a null somewhere."""
    nan, inf = float("nan"), float("inf")
    us = datetime(2024, 2, 29, 23, 59, 59, 999_999)
    data: dict[str, pa.Array] = {
        "flag": pa.array([True, False, None, True, False, True, False]),
        "ubyte": pa.array([0, 255, None, 7, 1, 2, 3], pa.uint8()),
        "short": pa.array([-32768, 32767, 0, None, 1, -1, 2], pa.int16()),
        "int": pa.array([-(2**31), 2**31 - 1, None, 0, 5, -5, 42], pa.int32()),
        "long": pa.array([-(2**63), 2**63 - 1, 0, None, 2**53 + 1, -1, 7], pa.int64()),
        "float": pa.array([0.1, -3.4028235e38, nan, None, inf, -inf, 1e-45], pa.float32()),
        "double": pa.array([1 / 3, nan, None, inf, -inf, 5e-324, -0.0], pa.float64()),
        "text": pa.array(["plain", "", None, "x" * 5000, "<&\">'", "a]]>b", "tab\there"]),
        "code": pa.array(["ab", "abcd", None, "", "x", "yz", "1234"]),
        "bounded": pa.array(["12345678", None, "", "a", "bb", "ccc", "dddd"]),
        "name": pa.array(["é", "日本語", None, "𝄞 clef", "", "a" * 3000 + "é", "<&>"]),
        "label": pa.array(["é", None, "abc", "日本", "", "x", "𝄞"]),
        "stamp": pa.array([us, None, datetime(1969, 7, 20, 20, 17, 40), us, us, us, us]),
        "zoned": pa.array(
            [datetime(2024, 1, 1, 12, tzinfo=UTC), None] + [datetime(2000, 1, 1, tzinfo=UTC)] * 5,
            pa.timestamp("ms", tz="Europe/Paris"),
        ),
        "mjd": pa.array([us, datetime(1858, 11, 17), None, us, us, us, us], pa.timestamp("us")),
        "day": pa.array([date(2024, 2, 29), None, date(1900, 1, 1)] + [date(2000, 1, 1)] * 4),
        "vec": pa.array(
            [[1.0, 2.0, 3.0], None, [nan, None, -0.5], [0.0] * 3, [1e300, -1e-300, 5.0]]
            + [[1.0, 1.0, 1.0]] * 2,
            pa.list_(pa.float64(), 3),
        ),
        "ints": pa.array(
            [[1, 2, 3], [], None, [-(2**31)], [7] * 10, [0], [1, 2]], pa.list_(pa.int32())
        ),
    }
    columns = [
        ColumnInfo("flag", "boolean", description="a flag"),
        ColumnInfo("ubyte", "unsignedByte", unit="count"),
        ColumnInfo("short", "short"),
        ColumnInfo("int", "int", ucd="meta.id"),
        ColumnInfo("long", "long", ucd="meta.id;meta.main", utype="src:id"),
        ColumnInfo("float", "float", unit="mag", ucd="phot.mag"),
        ColumnInfo("double", "double", unit="deg", ucd="pos.eq.ra"),
        ColumnInfo("text", "char", "*", description="free <text> & more"),
        ColumnInfo("code", "char", "4"),
        ColumnInfo("bounded", "char", "8*"),
        ColumnInfo("name", "unicodeChar", "*"),
        ColumnInfo("label", "unicodeChar", "3"),
        ColumnInfo("stamp", "char", "*", xtype="timestamp"),
        ColumnInfo("zoned", "char", "*", xtype="timestamp"),
        ColumnInfo("mjd", "double", unit="d", xtype="mjd"),
        ColumnInfo("day", "char", "*", xtype="timestamp"),
        ColumnInfo("vec", "double", "3"),
        ColumnInfo("ints", "int", "*"),
    ]
    return pa.table(data), columns


def pieces(table: pa.Table, sizes: list[int]) -> Iterator[pa.RecordBatch]:
    """The table as record batches of the given sizes (to cross batch boundaries)."""
    start = 0
    for size in sizes:
        yield from table.slice(start, size).to_batches()
        start += size


def write(
    table: pa.Table, columns: list[ColumnInfo], serialization: Serialization, **kw: Any
) -> bytes:
    """The sample written in batches of 1, 4 and 2 rows, encoded 3 rows at a time."""
    return votable_bytes(
        pieces(table, [1, 4, table.num_rows - 5]),
        columns=columns,
        serialization=serialization,
        chunk_rows=3,
        **kw,
    )


def read(document: bytes) -> Any:
    """The first table as astropy parses it, failing on any warning astropy gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parse(io.BytesIO(document)).get_first_table()


# -- what each reader should see ------------------------------------------------------------


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def iso(value: datetime | date) -> Any:
    """A time as the writer promises to write it: UTC, naive; dates as dates."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def parsed_time(text: str, expected: datetime | date) -> datetime | date:
    if isinstance(expected, datetime):
        assert text.endswith("Z") == (expected.tzinfo is not None), text
        return datetime.fromisoformat(text.removesuffix("Z"))
    return date.fromisoformat(text)


def mjd(value: datetime) -> float:
    return (value - MJD_ZERO) / timedelta(days=1)


def check_cell(info: ColumnInfo, expected: Any, got: Any, masked: bool, *, where: str) -> None:
    """One astropy cell against the Arrow value written (``masked``: astropy's mask)."""
    if info.datatype in ("char", "unicodeChar"):
        if expected is None:
            assert got == "", where  # astropy reads null strings as empty
        elif isinstance(expected, datetime | date):
            assert parsed_time(got, expected) == iso(expected), where
        else:
            assert got == expected, where
    elif info.arraysize == "*":
        assert list(got) == (expected or []), where
    elif info.arraysize is not None:
        if expected is None:
            assert np.ma.getmaskarray(got).all(), where
        else:
            for e, g, m in zip(expected, np.ma.getdata(got), np.ma.getmaskarray(got), strict=True):
                assert m if e is None or is_nan(e) else (not m and g == e), where
    elif expected is None or is_nan(expected):
        assert masked, where  # astropy reads NaN as null too
    elif info.xtype == "mjd":
        assert not masked and abs(got - mjd(expected)) < 1e-10, where  # 1e-10 d ~ 9 us
    elif info.datatype == "float":
        assert not masked and got == np.float32(expected), where
    else:
        assert not masked and got == expected, where
        assert math.copysign(1, got) == math.copysign(1, expected) if got == 0 else True, where


def check_astropy(table: pa.Table, columns: list[ColumnInfo], document: bytes) -> None:
    votable = read(document)
    assert [f.name for f in votable.fields] == [c.name for c in columns]
    assert len(votable.array) == table.num_rows
    for info, values in zip(columns, table.columns, strict=True):
        column = votable.array[info.name]
        mask = np.ma.getmaskarray(column)
        for row, expected in enumerate(values.to_pylist()):
            masked = bool(mask[row]) if mask.ndim == 1 else bool(mask[row].all())
            whole = column.dtype == object or column.ndim > 1  # arrays: the masked cell
            got = column[row] if whole else np.ma.getdata(column)[row]
            check_cell(info, expected, got, masked, where=f"{info.name}[{row}]")


# -- an independent BINARY2 decoder (VOTable 1.4 section 5.5) -------------------------------

ITEMS = {
    "boolean": (1, "c"),
    "unsignedByte": (1, "B"),
    "short": (2, "h"),
    "int": (4, "i"),
    "long": (8, "q"),
    "float": (4, "f"),
    "double": (8, "d"),
    "char": (1, None),
    "unicodeChar": (2, None),
}


def decode_binary2(document: bytes, *, flags: bool = True) -> list[list[Any]]:
    """Rows of cells; a cell whose null flag is set is None (unless ``flags`` is false:
    then the value bytes are decoded whatever the flag, as a reader ignoring flags would)."""
    root = etree.fromstring(document)
    fields = [(f.get("datatype", ""), f.get("arraysize")) for f in root.iterfind(".//v:FIELD", V)]
    stream = root.find(".//v:STREAM", V)
    assert stream is not None and stream.get("encoding") == "base64"
    raw = base64.b64decode(stream.text or "")
    flag_bytes, position, rows = (len(fields) + 7) // 8, 0, []
    while position < len(raw):
        null_flags = raw[position : position + flag_bytes]
        position += flag_bytes
        row = []
        for i, (datatype, arraysize) in enumerate(fields):
            if arraysize is not None and arraysize.endswith("*"):
                count = int.from_bytes(raw[position : position + 4], "big")
                position += 4
            else:
                count = int(arraysize or 1)
            size, code = ITEMS[datatype]
            cell = raw[position : position + size * count]
            position += size * count
            if datatype == "char":
                value: Any = cell.decode("ascii")
            elif datatype == "unicodeChar":
                value = cell.decode("utf-16-be")
            elif datatype == "boolean":
                value = {b"T": True, b"F": False, b"?": "?"}[cell]
            else:
                numbers = list(struct.unpack(f">{count}{code}", cell))
                value = numbers if arraysize else numbers[0]
            if arraysize is not None and not arraysize.endswith("*") and isinstance(value, str):
                value = value.rstrip("\0")
            row.append(None if flags and null_flags[i // 8] & (0x80 >> i % 8) else value)
        rows.append(row)
    return rows


def same(expected: Any, got: Any) -> bool:
    """Exact equality, NaN equal to NaN, -0.0 unequal to 0.0."""
    if isinstance(expected, list):
        return isinstance(got, list) and all(same(e, g) for e, g in zip(expected, got, strict=True))
    if isinstance(expected, float):
        return (is_nan(expected) and is_nan(got)) or (
            expected == got and math.copysign(1, expected) == math.copysign(1, got)
        )
    return bool(expected == got)


# -- the schema ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SHARED_TOOLS.is_dir():
        pytest.skip("the genuine schemas (../shared) are not here")
    sys.path.insert(0, str(SHARED_TOOLS))
    try:
        from validate_xml import Validator
    finally:
        sys.path.remove(str(SHARED_TOOLS))
    return Validator()


def assert_valid(validator: Any, document: bytes) -> None:
    errors = validator.errors(etree.fromstring(document))
    assert errors == [], errors


# -- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_every_type_reads_back_through_astropy(serialization: Serialization) -> None:
    table, columns = sample()
    check_astropy(table, columns, write(table, columns, serialization))


def test_binary2_cells_decode_exactly_with_real_nulls() -> None:
    """Null flags on every type, NaN apart from null, empty text apart from null."""
    table, columns = sample()
    rows = decode_binary2(write(table, columns, "BINARY2"))
    assert len(rows) == table.num_rows
    for c, (info, values) in enumerate(zip(columns, table.columns, strict=True)):
        for r, expected in enumerate(values.to_pylist()):
            got = rows[r][c]
            where = f"{info.name}[{r}]"
            if expected is None:
                assert got is None, where
            elif isinstance(expected, datetime | date) and info.datatype == "char":
                assert parsed_time(got, expected) == iso(expected), where
            elif info.xtype == "mjd":
                assert abs(got - mjd(expected)) < 1e-10, where
            elif info.datatype == "float":
                assert same(float(np.float32(expected)), got), where
            elif info.name == "vec":
                assert same([math.nan if e is None else e for e in expected], got), where
            else:
                assert same(expected, got), where


def test_binary2_null_values_read_as_null_even_without_their_flags() -> None:
    """For readers that ignore the flags: a null boolean is "?", a null float NaN."""
    table, columns = sample()
    rows = decode_binary2(write(table, columns, "BINARY2"), flags=False)
    for name, null in (("flag", "?"), ("float", math.nan), ("double", math.nan)):
        c = [info.name for info in columns].index(name)
        for r, expected in enumerate(table[name].to_pylist()):
            if expected is None:
                assert same(null, rows[r][c]), f"{name}[{r}]"


def test_tabledata_spells_special_floats_as_votable_does() -> None:
    values = [math.nan, math.inf, -math.inf, None, 1.5]
    table = pa.table({"d": pa.array(values), "f": pa.array(values, pa.float32())})
    columns = [ColumnInfo("d", "double"), ColumnInfo("f", "float")]
    root = etree.fromstring(votable_bytes(table, columns=columns, serialization="TABLEDATA"))
    cells = [td.text or "" for td in root.iterfind(".//v:TD", V)]
    spelled = ["NaN", "+Inf", "-Inf", "", "1.5"]
    assert cells[0::2] == spelled and cells[1::2] == spelled


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_pyvo_reads_the_result(serialization: Serialization) -> None:
    table, columns = sample()
    document = write(table, columns, serialization, infos=[("citation", "doi:x", "cite <us>")])
    results = TAPResults(parse(io.BytesIO(document)))
    assert results.status[0] == "OK"
    assert list(results.fieldnames) == [c.name for c in columns]
    assert len(results) == table.num_rows
    for info, field in zip(columns, results.fielddescs, strict=True):
        assert (field.datatype, field.arraysize, field.unit) == (
            info.datatype,
            info.arraysize,
            info.unit,
        )
        assert (field.ucd, field.utype, field.xtype) == (info.ucd, info.utype, info.xtype)
        assert field.description == info.description
    assert list(results.getcolumn("long").filled(0)) == table["long"].fill_null(0).to_pylist()
    assert results[0]["name"] == table["name"][0].as_py()
    assert results.to_table()["int"][1] == table["int"][1].as_py()
    assert results.votable.resources[0].infos[1].content == "cite <us>"


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_documents_are_valid_votable_1_4(validator: Any, serialization: Serialization) -> None:
    table, columns = sample()
    document = write(
        table,
        columns,
        serialization,
        overflow=True,
        infos=[("QUERY", "SELECT * FROM t WHERE a < 1 & b > 2", None), ("note", "x", "y")],
        description="all <types>",
        resource_name="result set",
    )
    assert_valid(validator, document)
    assert_valid(validator, votable_bytes(table.slice(0, 0), columns=columns))
    assert_valid(validator, error_votable("no such table <t>"))


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_overflow_is_after_the_table_where_pyvo_sees_it(serialization: Serialization) -> None:
    table, columns = sample()
    document = write(table, columns, serialization, overflow=True)
    resource = etree.fromstring(document).find("v:RESOURCE", V)
    assert resource is not None
    tags = [(etree.QName(e).localname, e.get("value")) for e in resource]
    assert tags.index(("INFO", "OK")) < tags.index(("TABLE", None))
    assert tags[-1] == ("INFO", "OVERFLOW")
    with pytest.warns(DALOverflowWarning):
        results = DALResults(parse(io.BytesIO(document)))
    assert results.status[0] == "OVERFLOW"
    tap = TAPResults(parse(io.BytesIO(document)))
    with pytest.warns(DALOverflowWarning, match="truncated"):
        tap.check_overflow_warning(table.num_rows + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DALResults(parse(io.BytesIO(write(table, columns, serialization)))).status[0] == "OK"


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_empty_result(serialization: Serialization) -> None:
    table, columns = sample()
    empty = table.slice(0, 0)
    nothing: list[pa.RecordBatch] = []
    for batches in (empty, nothing, iter(nothing)):
        document = votable_bytes(batches, columns=columns, serialization=serialization)
        votable = read(document)
        assert len(votable.array) == 0
        assert [f.name for f in votable.fields] == [c.name for c in columns]
        results = TAPResults(parse(io.BytesIO(document)))
        assert len(results) == 0 and results.status[0] == "OK"


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_names_and_metadata_are_escaped(validator: Any, serialization: Serialization) -> None:
    names = ['a<&"b', "ünïcødé 名前", "it's > x", "tab\tand\nnewline"]
    columns = [
        ColumnInfo(n, "int", unit="m/s", description=f"<{n}> & more", utype='x:"y"') for n in names
    ]
    table = pa.table({f"c{i}": pa.array([i, None], pa.int32()) for i in range(len(names))})
    document = votable_bytes(
        table,
        columns=columns,
        serialization=serialization,
        infos=[('q"<&', "v<&'\"", "c<&>")],
        description="d & <d>",
        resource_name="r&<r>",
    )
    assert_valid(validator, document)
    votable = parse(io.BytesIO(document))
    fields = votable.get_first_table().fields
    assert [f.name for f in fields] == names
    assert [f.description for f in fields] == [f"<{n}> & more" for n in names]
    assert fields[0].utype == 'x:"y"'
    resource = votable.resources[0]
    assert (resource.name, resource.description) == ("r&<r>", "d & <d>")
    assert (resource.infos[1].name, resource.infos[1].value) == ('q"<&', "v<&'\"")
    assert resource.infos[1].content == "c<&>"


def test_whitespace_and_line_breaks_in_text_are_kept() -> None:
    values = ["  lead", "trail  ", " ", "a\tb", "line\nbreak", "cr\rlf\r\n", "<&>]]>"]
    table = pa.table({"a": values, "u": values})
    columns = [ColumnInfo("a", "char", "*"), ColumnInfo("u", "unicodeChar", "*")]
    binary = read(votable_bytes(table, columns=columns)).array
    assert list(binary["a"]) == values and list(binary["u"]) == values
    # astropy strips TABLEDATA cells, so the XML itself is checked.
    root = etree.fromstring(votable_bytes(table, columns=columns, serialization="TABLEDATA"))
    cells = [td.text or "" for td in root.iterfind(".//v:TD", V)]
    assert cells[0::2] == values and cells[1::2] == values


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_floats_round_trip_bit_for_bit(serialization: Serialization) -> None:
    rng = np.random.default_rng(7)
    doubles = np.concatenate(
        [
            rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500),
            [np.finfo(np.float64).max, np.finfo(np.float64).tiny, 5e-324, -0.0, 0.1, 1 / 3],
        ]
    )
    floats = np.concatenate(
        [
            rng.standard_normal(500).astype(np.float32) * np.float32(1e20),
            np.array([np.finfo(np.float32).max, 1e-45, 0.1, -0.0], np.float32),
        ]
    )
    table = pa.table({"d": doubles, "f": np.resize(floats, doubles.size)})
    columns = [ColumnInfo("d", "double"), ColumnInfo("f", "float")]
    array = read(votable_bytes(table, columns=columns, serialization=serialization)).array
    assert np.array_equal(np.asarray(array["d"]).view(np.int64), doubles.view(np.int64))
    assert np.array_equal(
        np.asarray(array["f"]).view(np.int32), np.resize(floats, doubles.size).view(np.int32)
    )


def test_many_chunks_stream_lazily_and_report_their_size() -> None:
    """Batches are pulled as the output is written, and the byte count is exact."""
    pulled: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(20):
            pulled.append(i)
            yield pa.record_batch({"i": pa.array(np.arange(i * 1000, (i + 1) * 1000))})

    class Sink(io.BytesIO):
        def __init__(self) -> None:
            super().__init__()
            self.pulled_at_write: list[int] = []

        def write(self, data: Any) -> int:
            self.pulled_at_write.append(len(pulled))
            return super().write(data)

    for serialization in SERIALIZATIONS:
        pulled.clear()
        sink = Sink()
        columns = [ColumnInfo("i", "long")]
        size = write_votable(
            sink, batches(), columns=columns, serialization=serialization, chunk_rows=1000
        )
        assert size == len(sink.getvalue())
        # The head goes out before any batch is pulled, the first rows after one batch.
        assert sink.pulled_at_write[:2] == [0, 1]
        assert sink.pulled_at_write[-1] == 20
        assert read(sink.getvalue()).array["i"].tolist() == list(range(20_000))


def test_error_document_is_a_pyvo_query_error() -> None:
    with pytest.raises(DALQueryError, match="no table 'x' & <y>"):
        DALResults(parse(io.BytesIO(error_votable("no table 'x' & <y>"))))


def test_timestamps_as_iso_text_or_mjd_in_every_unit() -> None:
    when = datetime(2031, 5, 6, 7, 8, 9, 123_456)
    columns, arrays = [], []
    for unit in ("s", "ms", "us", "ns"):
        arrays += [pa.array([when, None], pa.timestamp(unit))] * 2
        columns += [ColumnInfo(f"iso_{unit}", "char", "*", xtype="timestamp")]
        columns += [ColumnInfo(f"mjd_{unit}", "double", xtype="mjd")]
    table = pa.Table.from_arrays(arrays, names=[c.name for c in columns])
    for serialization in SERIALIZATIONS:
        array = read(votable_bytes(table, columns=columns, serialization=serialization)).array
        for unit, digits in (("s", 0), ("ms", 3), ("us", 6), ("ns", 6)):
            truncated = when.replace(
                microsecond=when.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits)
            )
            assert datetime.fromisoformat(array[f"iso_{unit}"][0]) == truncated
            assert abs(array[f"mjd_{unit}"][0] - mjd(truncated)) < 1e-10
            assert array[f"mjd_{unit}"].mask[1]


@pytest.mark.parametrize(
    ("info", "values", "message"),
    [
        (ColumnInfo("x", "bit"), pa.array([1]), "datatype 'bit' is not supported"),
        (ColumnInfo("x", "double", "2x3"), pa.array([1.0]), "arraysize '2x3' is not supported"),
        (ColumnInfo("x", "char", "0"), pa.array(["a"]), "arraysize '0' is not supported"),
        (ColumnInfo("x", "boolean", "*"), pa.array([True]), "arrays of boolean"),
        (ColumnInfo("x", "unsignedByte"), pa.array([1, 300]), "cannot write Arrow int64"),
        (ColumnInfo("x", "int"), pa.array(["seven"]), "cannot write Arrow string values as int"),
        (ColumnInfo("x", "char", "*"), pa.array(["ok", "é"]), "row 1 holds non-ASCII text"),
        (ColumnInfo("x", "char", "3"), pa.array(["abc", "abcd"]), "row 1 holds 4 characters"),
        (ColumnInfo("x", "char", "3*"), pa.array(["", "abcd"]), "row 1 holds 4 characters"),
        (ColumnInfo("x", "unicodeChar", "2"), pa.array(["é𝄞"]), "row 0 holds 3 UTF-16 code units"),
        (ColumnInfo("x", "double", "2"), pa.array([[1.0, 2.0], [1.0]]), "row 1 holds 1 elements"),
        (ColumnInfo("x", "int", "*"), pa.array([[1, None]]), "integer arrays cannot hold nulls"),
        (ColumnInfo("x", "double", "*"), pa.array([1.0]), "needs Arrow list values"),
        (ColumnInfo("x", "long"), pa.array([datetime(2000, 1, 1)]), "timestamps are written as"),
    ],
)
def test_values_that_cannot_be_written_are_refused(
    info: ColumnInfo, values: pa.Array, message: str
) -> None:
    table = pa.table({"x": values})
    for serialization in SERIALIZATIONS:
        with pytest.raises(ValueError, match=message):
            votable_bytes(table, columns=[info], serialization=serialization)


def test_row_numbers_in_errors_count_from_the_start_of_the_table() -> None:
    table = pa.table({"x": ["a"] * 10 + ["\x01"]})
    with pytest.raises(ValueError, match=r"column 0 \('x', char\): row 10 holds a control"):
        votable_bytes(
            table, columns=[ColumnInfo("x", "char", "*")], serialization="TABLEDATA", chunk_rows=4
        )
    # BINARY2 carries any character.
    assert decode_binary2(votable_bytes(table, columns=[ColumnInfo("x", "char", "*")]))[10] == [
        "\x01"
    ]


def test_bad_calls_are_refused_before_writing() -> None:
    table = pa.table({"a": [1], "b": [2]})
    two = [ColumnInfo("a", "long"), ColumnInfo("b", "long")]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"columns": two[:1]}, "rows have 2 columns"),
        ({"columns": []}, "at least one column"),
        ({"columns": two, "serialization": "BINARY"}, "BINARY2 or TABLEDATA"),
        ({"columns": two, "chunk_rows": 0}, "chunk_rows must be at least 1"),
        ({"columns": [ColumnInfo("a\x00", "long"), two[1]]}, "U\\+0000"),
        ({"columns": two, "description": "bell\x07"}, "U\\+0007"),
    ]
    for arguments, message in cases:
        out = io.BytesIO()
        with pytest.raises(ValueError, match=message):
            write_votable(out, table, **arguments)
        if message != "rows have 2 columns":
            assert out.getvalue() == b""


def test_dictionary_and_chunked_columns_are_plain_values() -> None:
    labels = pa.chunked_array([["x", "y"], ["x", None]]).dictionary_encode()
    table = pa.table({"label": labels, "n": pa.chunked_array([[1, 2], [3, 4]])})
    columns = [ColumnInfo("label", "char", "*"), ColumnInfo("n", "short")]
    array = read(votable_bytes(table, columns=columns)).array
    assert list(array["label"]) == ["x", "y", "x", ""]
    assert array["n"].tolist() == [1, 2, 3, 4]
