"""The unit stage's snapshot: its derived state saved at a clean stop and loaded at the next
start instead of decoding every stored view.

Why: after every recovery the unit stage rebuilds its derived state (counters, open timers,
rolling windows, the worklist's open timers) from the `unit-views` table by decoding each
stored view, ~25 us per view: 25 s of a restart at a million open complaints
(bench/RESULTS.md). At a clean stop (SIGTERM: a deploy, an operator's restart) the worker
writes that state per views partition as plain data, with a digest of the partition's table
entries; the next start loads it when the table holds exactly those entries, and decodes the
views otherwise. Prometheus does the same for its in-memory chunks
(`--enable-feature=memory-snapshot-on-shutdown`).

Rules
-----
- A snapshot is loaded only when all it was derived from is unchanged: the format, the
  source of the modules that derive the state (a hash of them), the histogram bounds, the
  partition count and the partition's table entries (their number and two checksums of
  every stored value, summed in any order). Otherwise (a missing, truncated or unreadable
  file too) the worker logs the file and the reason and decodes the views: a snapshot makes
  a start faster, never different.
- Each snapshot is read at most once: it is deleted when read, loaded or refused, so a
  later start after a crash does not pay for checking an old one.
- Plain data only (dicts, lists, tuples, str, int, float, bool, bytes): the file is read by
  an unpickler that refuses every class, so a damaged file cannot run code.
- Written to a temporary file and renamed (a stop killed halfway leaves no partial
  snapshot), mode 0600, in `SIGAP_STATE_DIR/unit-snapshots/`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

__all__ = [
    "SNAPSHOT_FORMAT",
    "SnapshotStore",
    "TableDigest",
    "code_fingerprint",
    "stored_values_by_partition",
]

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT: Final = 2  # 2: the worklist's open timers as columns (core.open_rows)
# The modules whose code decides what the derived state is: a snapshot taken by other code
# is refused (an upgrade's first start decodes the views).
_DERIVING_MODULES: Final = (
    "sigap.core.unit_kpis",
    "sigap.core.open_rows",
    "sigap.core.windows",
    "sigap.core.worklist",
    "sigap.core.unit_view",
    "streams.unit_snapshot",
    "streams.unit_stage",
)
_MASK: Final = (1 << 64) - 1


def code_fingerprint(extra: Iterable[object] = ()) -> str:
    """A hash of the deriving modules' source and of `extra` (settings the state depends
    on, such as the histogram bounds)."""
    import importlib

    digest = hashlib.blake2b(digest_size=16)
    for name in _DERIVING_MODULES:
        module = importlib.import_module(name)
        digest.update(name.encode())
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(repr(tuple(extra)).encode())
    return digest.hexdigest()


@dataclass
class TableDigest:
    """An order-independent digest of table entries: their number and the sums of a CRC-32
    and an Adler-32 of each stored value (mod 2^64). The values alone: each holds its view,
    whose unit and complaint id make the entry's key. Not a defence against a forger (who
    could write the table itself), a check that the entries are the ones the state was
    derived from."""

    count: int = 0
    crc_sum: int = 0
    adler_sum: int = 0

    def add(self, value: bytes) -> None:
        self.count += 1
        self.crc_sum += zlib.crc32(value)
        self.adler_sum += zlib.adler32(value)

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.count, self.crc_sum & _MASK, self.adler_sum & _MASK)


def stored_values_by_partition(table: Any, partitions: Iterable[int]) -> dict[int, Any] | None:
    """Per partition, an iterator over the stored values of a Faust table on the RocksDB
    store, as the bytes stored (no key decoded); None for any other table (a test's dict,
    the memory store), which the caller reads through `items()`.

    Why: a digest of a million entries read through `table.items()` decodes every key
    (Faust's JSON key codec) and computes its unit's partition; reading each partition's
    database directly takes the values as they are. Faust's own bookkeeping entry (the
    changelog offset, `offset_key`) is not a table entry and changes with the changelog, so
    it is left out. Uses faust-streaming 0.15.3's `Store._dbs` (partition -> rocksdict).
    """
    store = getattr(table, "data", None)
    databases = getattr(store, "_dbs", None)
    offset_key = getattr(store, "offset_key", None)
    if not isinstance(databases, dict) or not isinstance(offset_key, bytes):
        return None

    def values(database: Any) -> Iterator[bytes]:
        for key, value in database.items():
            if key != offset_key:
                yield value

    return {
        partition: values(databases[partition]) if partition in databases else iter(())
        for partition in partitions
    }


class _PlainUnpickler(pickle.Unpickler):
    """Refuses every class and function: a snapshot holds builtin values only."""

    def find_class(self, module: str, name: str) -> NoReturn:
        raise pickle.UnpicklingError(f"a snapshot holds plain data only, not {module}.{name}")


class SnapshotRefused(Exception):
    """Why a snapshot file is not loaded (logged with the file's name)."""


@dataclass
class PartitionSnapshot:
    """One views partition's snapshot as read: the state and what it must match."""

    path: Path
    digest: tuple[int, int, int]
    latest_view_as_of: float | None
    state: Mapping[str, Any] = field(repr=False)


class SnapshotStore:
    """The snapshot files of one worker's unit stage, one per views partition."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        self.fingerprint = fingerprint

    def path_of(self, partition: int) -> Path:
        return self.directory / f"views-{partition}.snapshot"

    def save(
        self,
        partition: int,
        digest: TableDigest,
        latest_view_as_of: float | None,
        state: Mapping[str, Any],
    ) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_of(partition)
        temporary = path.with_suffix(".tmp")
        document = {
            "format": SNAPSHOT_FORMAT,
            "fingerprint": self.fingerprint,
            "partition": partition,
            "digest": digest.as_tuple(),
            "latest_view_as_of": latest_view_as_of,
            "state": state,
        }
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            pickle.dump(document, file, protocol=pickle.HIGHEST_PROTOCOL)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        return path

    def take(self, partition: int) -> PartitionSnapshot | None:
        """The partition's snapshot if there is one that this code may load (its table
        digest is checked by the caller); the file is deleted either way."""
        path = self.path_of(partition)
        if not path.exists():
            return None
        try:
            return self._read(path, partition)
        except SnapshotRefused as refused:
            log.warning("unit snapshot %s not loaded: %s; decoding the stored views", path, refused)
            return None
        finally:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:  # e.g. a directory in its place: the start goes on
                log.warning("unit snapshot %s could not be removed: %s", path, error)

    def _read(self, path: Path, partition: int) -> PartitionSnapshot:
        try:
            document = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
        except Exception as error:  # any damage: truncated, foreign, unreadable
            raise SnapshotRefused(f"unreadable ({type(error).__name__}: {error})") from None
        if not isinstance(document, dict):
            raise SnapshotRefused("not a snapshot document")
        if document.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotRefused(
                f"format {document.get('format')!r}, this worker reads {SNAPSHOT_FORMAT}"
            )
        if document.get("fingerprint") != self.fingerprint:
            raise SnapshotRefused("written by other code or settings (fingerprint differs)")
        if document.get("partition") != partition:
            raise SnapshotRefused(f"holds partition {document.get('partition')!r}")
        digest = document.get("digest")
        state = document.get("state")
        latest = document.get("latest_view_as_of")
        if not (isinstance(digest, tuple) and len(digest) == 3 and isinstance(state, dict)):
            raise SnapshotRefused("incomplete document")
        if latest is not None and not isinstance(latest, float):
            raise SnapshotRefused("incomplete document")
        return PartitionSnapshot(path, digest, latest, state)
