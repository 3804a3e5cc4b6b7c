"""One upload into a data node: the bytes streamed to a partial file, counted and
hashed as they come, then committed or aborted.

The quota side lives in the store (:meth:`.store.SpaceStore.begin_upload` reserves,
the store's private ``_grow``, ``_commit`` and ``_release`` settle); this class
drives them as the bytes arrive, so that nothing is left behind whatever happens: a
failure at any step deletes the partial file and gives the reservation back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ...core.atomic import replace_durably
from .errors import ChecksumMismatch, IncompleteUpload, NodeNotFound, VOSpaceFault
from .names import NodePath, format_path
from .nodes import Node

if TYPE_CHECKING:
    from .store import SpaceStore

#: How often (seconds) a long upload records that it is still alive.
HEARTBEAT_SECONDS = 30.0


class Upload:
    """New data for one data node, being written: :meth:`write` the bytes as they
    arrive, then :meth:`commit` (or :meth:`abort`). Used as a context manager, an
    upload that was not committed is aborted, whatever happened."""

    def __init__(
        self,
        store: SpaceStore,
        *,
        upload_id: str,
        path: NodePath,
        node_id: int,
        space: str,
        folder: Path,
        temp: Path,
        stream: BinaryIO,
        old_length: int,
        reserved: int,
        expected_length: int | None,
    ) -> None:
        self.store = store
        self.upload_id = upload_id
        self.path = path
        self.node_id = node_id
        self.space = space
        self.folder = folder
        self.temp = temp
        self.old_length = old_length
        self.reserved = reserved
        self.expected_length = expected_length
        self.written = 0
        self._stream: BinaryIO | None = stream
        self._md5 = hashlib.md5()  # noqa: S324 (MD5 is what VOSpace and its clients compare)
        self._done = False
        self._last_touch = time.monotonic()

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; raises QuotaExceeded (the upload is then aborted) when the
        space has no room for it."""
        if self._stream is None:
            raise RuntimeError("the upload is finished")
        growth = self.written + len(chunk) - self.old_length
        if growth > self.reserved:
            try:
                self.store._grow(self, growth - self.reserved)
                self.reserved = growth
            except VOSpaceFault:
                self.abort()
                raise
        elif time.monotonic() - self._last_touch > HEARTBEAT_SECONDS:
            self.store._touch(self.upload_id)
            self._last_touch = time.monotonic()
        self._stream.write(chunk)
        self._md5.update(chunk)
        self.written += len(chunk)

    def commit(self, *, expected_md5: str | None = None) -> Node:
        """Make the bytes written the node's data and return the node. Raises (after
        aborting) IncompleteUpload when fewer bytes came than announced, ChecksumMismatch
        when ``expected_md5`` (hex) differs, NodeNotFound when the node went meanwhile."""
        if self._stream is None:
            raise RuntimeError("the upload is finished")
        if self.expected_length is not None and self.written != self.expected_length:
            self.abort()
            raise IncompleteUpload(
                f"{self.written} bytes arrived of the {self.expected_length} announced"
            )
        digest = self._md5.hexdigest()
        if expected_md5 is not None and expected_md5.lower() != digest:
            self.abort()
            raise ChecksumMismatch(
                f"the bytes received have MD5 {digest}, not {expected_md5.lower()} as announced"
            )
        stream, self._stream = self._stream, None
        try:
            stream.flush()
            os.fsync(stream.fileno())
        finally:
            stream.close()
        blob = secrets.token_hex(16)
        final = self.folder / blob
        try:
            # Durable before the store records the blob: a crash must not leave a node
            # naming a file whose rename was lost.
            replace_durably(self.temp, final)
        except FileNotFoundError:
            self.abort()
            raise NodeNotFound(f"{format_path(self.path)} was deleted during the upload") from None
        try:
            node = self.store._commit(self, blob=blob, length=self.written, md5=digest)
        except BaseException:
            final.unlink(missing_ok=True)
            self.abort()
            raise
        self._done = True
        return node

    def abort(self) -> None:
        """Give up: delete the partial data and release the reservation (idempotent)."""
        if self._done:
            return
        self._done = True
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None
        self.temp.unlink(missing_ok=True)
        self.store._release(self.upload_id)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.abort()
