"""The WSDL and its schemas kept on disk (``client/wsdl_cache.py``), against a real server:
one conditional request when nothing changed, everything again when the ETag did."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from wsrf_uws.client.channel import Channel
from wsrf_uws.client.wsdl_cache import DocumentCache, default_cache_folder
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("wsdl-cache")) as running:
        yield running


def gets(server: RunningServer, start: int) -> list[str]:
    """The GET lines of the server's access log since line ``start``."""
    return [line for line in server.access_log_since(start) if '"GET /' in line]


def test_the_service_validates_its_documents_with_an_etag(server: RunningServer) -> None:
    wsdl = requests.get(f"{server.url('steps')}?wsdl", timeout=30)
    etag = wsdl.headers["ETag"]
    schema_url = next(
        line.split('schemaLocation="')[1].split('"')[0]
        for line in wsdl.text.splitlines()
        if "schemaLocation=" in line
    )
    schema = requests.get(schema_url, timeout=30)
    assert schema.headers["ETag"] == etag  # one validator for the whole set
    again = requests.get(f"{server.url('steps')}?wsdl", headers={"If-None-Match": etag}, timeout=30)
    assert (again.status_code, again.content) == (304, b"")
    other = requests.get(
        f"{server.url('steps')}?wsdl", headers={"If-None-Match": '"x"'}, timeout=30
    )
    assert other.status_code == 200 and other.content == wsdl.content


def test_a_second_channel_revalidates_instead_of_fetching(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsrf_uws.client import channel as channel_module

    wsdl_url = f"{server.url('steps')}?wsdl"
    start = len(server.log)
    Channel(wsdl_url=wsdl_url, cache_folder=tmp_path)
    fetched = gets(server, start)
    assert len(fetched) > 5  # the WSDL and the schemas it imports
    # A new process: nothing parsed in memory, the folder as the first one left it.
    monkeypatch.setattr(channel_module, "_documents", {})
    start = len(server.log)
    channel = Channel(wsdl_url=wsdl_url, cache_folder=tmp_path)
    revalidated = gets(server, start)
    assert [line.split('"')[1] for line in revalidated] == ["GET /uws/steps?wsdl"]
    assert '" 304 ' in revalidated[0]
    assert channel.namespace == "urn:wsrf-uws:steps:v1"
    # A set that does not match the service's ETag is fetched again, and replaced.
    (index_file,) = tmp_path.glob("*/index.json")
    index = json.loads(index_file.read_text())
    index_file.write_text(json.dumps({**index, "etag": '"stale"'}))
    monkeypatch.setattr(channel_module, "_documents", {})
    start = len(server.log)
    Channel(wsdl_url=wsdl_url, cache_folder=tmp_path)
    assert len(gets(server, start)) == len(fetched)
    assert json.loads(index_file.read_text())["etag"] == index["etag"]


def test_a_file_gone_from_the_folder_is_fetched_again(
    server: RunningServer, tmp_path: Path
) -> None:
    wsdl_url = f"{server.url('steps')}?wsdl"
    first = DocumentCache(tmp_path, wsdl_url)
    first.revalidate(requests.Session(), timeout=30)
    first.add("http://example.invalid/a.xsd", b"<a/>")
    first.save()
    (stored,) = [p for p in first.folder.glob("*.xml") if p.read_bytes() == b"<a/>"]
    stored.unlink()
    second = DocumentCache(tmp_path, wsdl_url)
    second.revalidate(requests.Session(), timeout=30)
    assert second.get(wsdl_url) is not None  # from the disk, after a 304
    assert second.get("http://example.invalid/a.xsd") is None  # zeep will fetch it
    assert not second.changed


def test_only_the_services_used_last_are_kept(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsrf_uws.client import wsdl_cache

    monkeypatch.setattr(wsdl_cache, "MAX_SERVICES", 2)
    for age, contract in ((100, "steps"), (50, "cea"), (0, "adql")):
        cache = DocumentCache(tmp_path, f"{server.url(contract)}?wsdl")
        cache.revalidate(requests.Session(), timeout=30)
        cache.save()
        used = time.time() - age  # as if used that long ago (file times may tie)
        os.utime(cache.folder / "index.json", (used, used))
    kept = {json.loads(p.read_text())["wsdl_url"] for p in tmp_path.glob("*/index.json")}
    assert kept == {f"{server.url('cea')}?wsdl", f"{server.url('adql')}?wsdl"}


def test_without_a_validator_nothing_is_kept(tmp_path: Path) -> None:
    cache = DocumentCache(tmp_path, "http://example.invalid/uws/x?wsdl")
    cache.add("http://example.invalid/uws/x?wsdl", b"<definitions/>")
    cache.save()
    assert list(tmp_path.iterdir()) == []


def test_the_default_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSRF_UWS_CACHE_DIR", str(tmp_path))
    assert default_cache_folder() == tmp_path
    monkeypatch.setenv("WSRF_UWS_CACHE_DIR", "")
    assert default_cache_folder() is None
    monkeypatch.delenv("WSRF_UWS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_folder() == tmp_path / "xdg" / "wsrf-uws" / "wsdl"


def test_a_job_through_a_cached_channel(server: RunningServer, tmp_path: Path) -> None:
    from wsrf_uws.client import Service

    job = Service(server.base_url, "steps", cache_folder=tmp_path).create(steps_jdl(1, 0))
    assert job.phase == "PENDING"
    job.destroy()
