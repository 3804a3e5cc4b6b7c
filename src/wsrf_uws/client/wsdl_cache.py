"""A WSDL and the schemas it imports, kept on disk per service and revalidated in one request.

zeep needs a contract's WSDL and every schema it imports (a dozen documents) before it
can build a message. A command-line client is a new process each time, so without a
cache every ``wsrf-uws status`` would fetch them all again before its one POST. With a
:class:`DocumentCache`, a process asks only for the WSDL, conditionally (``If-None-Match``
with the stored ETag, or ``If-Modified-Since`` with the stored Last-Modified), and on
``304 Not Modified`` reads the WSDL and every schema from the disk.

That one answer stands for the whole set because a wsrf-uws service's validator does:
its ETag is a digest of every document it publishes (see
:mod:`wsrf_uws.soap.documents`), so no schema changes without the WSDL's ETag changing.
For another service, whose validator might cover the WSDL alone, pass no cache. A
server that sends neither header is never cached.

Layout: ``{folder}/{sha256 of the WSDL URL}/index.json`` names the validator and, for
each URL, a file named by the SHA-256 of its content. Files are written whole under a
temporary name and renamed, the index last, so a reader never sees half a set; a file
missing after all (another process replaced the set) is fetched from the network again.
The folder keeps the sets of the :data:`MAX_SERVICES` services used most recently (a
set's index is touched each time it is found current); older ones are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import requests

__all__ = ["DocumentCache", "default_cache_folder"]

_INDEX = "index.json"
#: How many services' documents the cache folder keeps (the most recently used).
MAX_SERVICES = 64


def default_cache_folder() -> Path | None:
    """Where the ``wsrf-uws`` command keeps WSDLs: ``$WSRF_UWS_CACHE_DIR`` (empty: no
    cache), else the user's cache folder (``~/.cache/wsrf-uws/wsdl`` on Linux)."""
    configured = os.environ.get("WSRF_UWS_CACHE_DIR")
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    import platformdirs

    return Path(platformdirs.user_cache_dir("wsrf-uws")) / "wsdl"


class DocumentCache:
    """The documents of one WSDL URL: zeep's cache interface (``get``, ``add``) over a
    folder, after :meth:`revalidate` has said whether what is stored is current."""

    def __init__(self, folder: Path, wsdl_url: str) -> None:
        self.wsdl_url = wsdl_url
        self.folder = folder / hashlib.sha256(wsdl_url.encode()).hexdigest()[:32]
        #: The documents of this process, by URL (what zeep reads).
        self._documents: dict[str, bytes] = {}
        self._validator: dict[str, str] = {}
        self._stored: dict[str, str] = {}
        self.changed = False

    def revalidate(self, session: requests.Session, *, timeout: float) -> None:
        """Ask the service for the WSDL, conditionally; keep the stored set when it says
        ``304``, else start a new set with the WSDL it sent. Raises ``requests``' errors
        (``HTTPError`` for a status other than 200 and 304)."""
        index = self._read_index()
        headers = {}
        if index.get("etag"):
            headers["If-None-Match"] = index["etag"]
        if index.get("last_modified"):
            headers["If-Modified-Since"] = index["last_modified"]
        response = session.get(self.wsdl_url, headers=headers, timeout=timeout)
        with contextlib.closing(response):
            if response.status_code == 304 and headers:
                self._stored = dict(index.get("files", {}))
                self._validator = {k: index[k] for k in ("etag", "last_modified") if k in index}
                with contextlib.suppress(OSError):
                    os.utime(self.folder / _INDEX)  # used now: kept by the pruning
                return
            response.raise_for_status()
            self._validator = {
                key: value
                for key, value in (
                    ("etag", response.headers.get("ETag")),
                    ("last_modified", response.headers.get("Last-Modified")),
                )
                if value
            }
            self._documents[self.wsdl_url] = response.content
            self.changed = True

    # -- zeep's cache interface ------------------------------------------------------------

    def get(self, url: str) -> bytes | None:
        """The document at ``url`` if this set has it (None: fetch it)."""
        found = self._documents.get(url)
        if found is None and url in self._stored:
            with contextlib.suppress(OSError):
                found = (self.folder / self._stored[url]).read_bytes()
                self._documents[url] = found
        return found

    def add(self, url: str, content: bytes) -> None:
        """Record a document zeep had to fetch."""
        self._documents[url] = bytes(content)
        self.changed = True

    # -- the disk --------------------------------------------------------------------------

    def save(self) -> None:
        """Write this set, if it changed and the server gave a validator; a folder that
        cannot be written only means no cache (the documents were loaded anyway)."""
        if not self.changed or not self._validator:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            files = {}
            for url, content in self._documents.items():
                name = hashlib.sha256(content).hexdigest() + ".xml"
                if not (self.folder / name).exists():
                    _write(self.folder / name, content)
                files[url] = name
            index = {"wsdl_url": self.wsdl_url, **self._validator, "files": files}
            _write(self.folder / _INDEX, json.dumps(index, indent=1).encode())
            for stale in self.folder.glob("*.xml"):
                if stale.name not in files.values():
                    stale.unlink(missing_ok=True)
            _prune(self.folder.parent, keep=MAX_SERVICES)

    def _read_index(self) -> dict[str, Any]:
        try:
            index = json.loads((self.folder / _INDEX).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(index, dict) or index.get("wsdl_url") != self.wsdl_url:
            return {}
        return index


def _prune(folder: Path, *, keep: int) -> None:
    """Delete the sets of all but the ``keep`` services whose index was used last."""
    sets = []
    for candidate in folder.iterdir():
        with contextlib.suppress(OSError):
            sets.append((candidate.joinpath(_INDEX).stat().st_mtime, candidate))
    sets.sort(reverse=True)
    for _, old in sets[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, content: bytes) -> None:
    """Write ``path`` whole: under a temporary name in its folder, then renamed."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
