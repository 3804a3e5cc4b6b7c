"""CADC's own VOSpace client (``vos``, with cadcutils) against the endpoint.

The client runs in a subprocess: it reads its registry cache and ``.netrc`` from
``$HOME`` and keeps module-level caches, none of which may leak into other tests. It
finds the service from the ``vos://`` identifier through the registry cache file
(``$HOME/.config/cadc-registry/resource-caps``, written fresh, pointing at the
endpoint's capabilities over plain HTTP), and authenticates with HTTP Basic from
``$HOME/.netrc``; a second client with an empty certificate path is anonymous.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws.jdl.vospace.nodes import NodeKind

from vospace_support import AUTHORITY, PASSWORDS, Endpoint, running_endpoint

pytest.importorskip("vos", reason="CADC's vos client is not installed")

CLIENT = r"""
import json, os, sys, traceback
space, public_space, workdir = sys.argv[1:4]
import vos

steps = {}

def step(name, action):
    try:
        steps[name] = {"ok": True, "value": action()}
    except Exception as error:
        steps[name] = {"ok": False, "error": type(error).__name__ + ": " + str(error)[:300]}

root = "vos://%s~vospace" % os.environ["VOS_AUTHORITY"]
area = root + "/" + space + "/area"
client = vos.Client()
step("mkdir", lambda: client.mkdir(area))
step("isdir", lambda: client.isdir(area))
step("listdir_space", lambda: client.listdir(root + "/" + space, force=True))
step("copy_up", lambda: client.copy(os.path.join(workdir, "up.bin"), area + "/up.bin"))
step("listdir_area", lambda: client.listdir(area, force=True))
step("props", lambda: client.get_node(area + "/up.bin", force=True).props)
step("copy_down", lambda: client.copy(area + "/up.bin", os.path.join(workdir, "down.bin")))

def set_title():
    node = client.get_node(area, force=True)
    node.set_property("title", "written by vos")
    client.update(node)
    return client.get_node(area, force=True).props.get("title")

step("update", set_title)
step("delete", lambda: client.delete(area + "/up.bin"))
step("listdir_after_delete", lambda: client.listdir(area, force=True))

anonymous = vos.Client(vospace_certfile="")
public = root + "/" + public_space
step("anonymous_listdir_public", lambda: anonymous.listdir(public, force=True))
step("anonymous_copy_down_public", lambda: anonymous.copy(
    public + "/shared.txt", os.path.join(workdir, "shared.txt")))
step("anonymous_mkdir", lambda: anonymous.mkdir(root + "/" + space + "/intruder"))
print(json.dumps(steps))
"""


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with running_endpoint(tmp_path_factory.mktemp("vos-client")) as running:
        yield running


def run_client(ep: Endpoint, home: Path, *args: str) -> dict[str, dict[str, object]]:
    registry = home / ".config" / "cadc-registry"
    registry.mkdir(parents=True)
    (registry / "resource-caps").write_text(
        f"ivo://{AUTHORITY}/vospace = {ep.service}/capabilities\n"
    )
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORDS['alice']}\n")
    netrc.chmod(0o600)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VOSPACE_WEBSERVICE", "LOCAL_VOSPACE_WEBSERVICE")
    }
    environment.update(HOME=str(home), VOS_AUTHORITY=AUTHORITY)
    finished = subprocess.run(
        [sys.executable, "-c", CLIENT, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result: dict[str, dict[str, object]] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def test_the_cadc_client_works_with_the_endpoint(endpoint: Endpoint, tmp_path: Path) -> None:
    space = endpoint.space("alice", quota=1_000_000)
    public = endpoint.space("bob")
    endpoint.store.set_properties((public.name,), {"ivo://ivoa.net/vospace/core#ispublic": "true"})
    shared = endpoint.store.create_node(
        (public.name, "shared.txt"),
        kind=NodeKind.DATA,
        xsi_type="UnstructuredDataNode",
        properties={"ivo://ivoa.net/vospace/core#ispublic": "true"},
    )
    with endpoint.store.begin_upload(shared.path, expected_length=12) as upload:
        upload.write(b"public words")
        upload.commit()
    data = os.urandom(100_000)
    (tmp_path / "up.bin").write_bytes(data)

    steps = run_client(endpoint, tmp_path / "home", space.name, public.name, str(tmp_path))

    failed = {name: step for name, step in steps.items() if not step["ok"]}
    assert set(failed) == {"anonymous_mkdir"}, failed
    assert "Forbidden" in str(failed["anonymous_mkdir"]["error"]) or "403" in str(
        failed["anonymous_mkdir"]["error"]
    )
    assert steps["isdir"]["value"] is True
    assert steps["listdir_space"]["value"] == ["area"]
    assert steps["copy_up"]["value"] == len(data)
    assert steps["listdir_area"]["value"] == ["up.bin"]
    props = steps["props"]["value"]
    assert isinstance(props, dict)
    assert props["MD5"] == hashlib.md5(data).hexdigest()
    assert props["length"] == str(len(data))
    assert props["creator"] == "alice"
    assert (tmp_path / "down.bin").read_bytes() == data
    assert steps["update"]["value"] == "written by vos"
    assert steps["listdir_after_delete"]["value"] == []
    assert steps["anonymous_listdir_public"]["value"] == ["shared.txt"]
    assert (tmp_path / "shared.txt").read_bytes() == b"public words"
    stored = endpoint.store.space(space.name)
    assert (stored.used_bytes, stored.reserved_bytes) == (0, 0)
    assert endpoint.partial_files() == []
