"""The housekeeping of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore`: what expired
and what failures left behind (silent uploads, files and folders nothing refers to)."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta

from .store_rows import iso
from .store_spaces import SpaceOperations

#: The space store's log (named as before the store was split into parts).
log = logging.getLogger("wsrf_uws.jdl.vospace.store")


@dataclass(frozen=True)
class SweepReport:
    """What :meth:`SpaceStore.sweep` cleaned up."""

    transfers_removed: int
    uploads_aborted: int
    files_removed: int
    spaces_deleted: tuple[str, ...]


class Housekeeping(SpaceOperations):
    """The sweep of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore`."""

    def sweep(
        self,
        *,
        stale_after: timedelta = timedelta(hours=1),
        delete_expired_spaces: bool = False,
    ) -> SweepReport:
        """Housekeeping, for the reaper to call now and then.

        Removes expired transfer records; aborts uploads that have been silent for
        ``stale_after`` (those of a process that died; ``stale_after=timedelta(0)``
        reclaims them all, which is right only while no upload can be under way, e.g. when
        the only process serving REST starts); deletes files no
        node or upload refers to and folders of no space, once older than
        ``stale_after`` (left by a crash between a file operation and its commit); and,
        when asked, deletes the expired spaces.
        """
        now = self.clock.now()
        with self._write() as conn:
            removed = conn.execute("DELETE FROM transfers WHERE expires <= ?", (iso(now),)).rowcount
            stale = conn.execute(
                "SELECT u.id, u.temp, s.folder FROM uploads u JOIN spaces s ON s.name = u.space "
                "WHERE u.touched <= ?",
                (iso(now - stale_after),),
            ).fetchall()
        for row in stale:
            self._release(row["id"])
            (self._blobs / row["folder"] / row["temp"]).unlink(missing_ok=True)
        deleted: list[str] = []
        if delete_expired_spaces:
            deleted = [name for name in self.expired_spaces() if self.delete_space(name)]
        files = self._remove_orphans(older_than=time.time() - stale_after.total_seconds())
        report = SweepReport(removed, len(stale), files, tuple(deleted))
        if stale or files or deleted:
            log.info("VOSpace sweep reclaimed what failures left behind: %s", report)
        return report

    def _remove_orphans(self, *, older_than: float) -> int:
        """Delete unreferenced files and folders last changed before ``older_than``."""
        with self._read() as conn:
            folders = {row["folder"] for row in conn.execute("SELECT folder FROM spaces")}
            kept = {
                row["blob"] for row in conn.execute("SELECT blob FROM nodes WHERE blob IS NOT NULL")
            }
            kept |= {row["temp"] for row in conn.execute("SELECT temp FROM uploads")}
        removed = 0
        for folder in list(self._blobs.iterdir()):
            # Everything here may vanish meanwhile (a space deleted by another thread).
            with contextlib.suppress(FileNotFoundError):
                if folder.name not in folders:
                    if folder.stat().st_mtime < older_than:
                        shutil.rmtree(folder, ignore_errors=True)
                        removed += 1
                    continue
                for file in list(folder.iterdir()):
                    if file.name not in kept and file.stat().st_mtime < older_than:
                        file.unlink(missing_ok=True)
                        removed += 1
        return removed
