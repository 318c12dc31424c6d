"""The store-and-forward spool: every received frame is appended here before it is published.

Role in the data flow: module link → ``Spool.append`` → ``Spool.read`` (the publisher, in order) →
MQTT, and ``Spool.ack`` once the broker acknowledged. Because every frame takes this path, frames
that arrive while the broker is away simply wait here, and leave in order, before later ones.
Delivery is at least once: a frame published but not acknowledged is published again (the server
drops duplicates). Plain synchronous file I/O; no Trio, no clock, no logging (``spooler`` is the Trio
side: it feeds frames in and runs :meth:`Spool.sync_job` in a worker thread).

On disk, one directory (the bytes: ``spool_format``)::

    00000000000000000001.seg   segments: append-only runs of records (length, seq, CRC, payload)
    00000000000000004711.seg   with consecutive seqs, named after the first one
    cursor                     every record with seq ≤ this one was acknowledged (replaced atomically:
                               written to cursor.tmp, fsynced, renamed)

Bounded: when a record does not fit under ``max_bytes``, whole segments are deleted oldest first,
acknowledged or not; unacknowledged records deleted so are counted in ``stats.dropped``. Fully
acknowledged segments are deleted as soon as the cursor passes them.

Durability (the fsync policy):

- ``append`` writes each record with one ``write`` at once: it is in the kernel's page cache, so a
  crash or SIGKILL of the process loses nothing that was appended.
- Data reaches the disk when :meth:`sync_job` runs (the gateway runs it every ``spool_sync_s``, 1 s
  by default, in a worker thread, and at shutdown): fsync of every segment written since the last
  job, the new cursor, then the directory (segments created or deleted).
- So a power cut costs (a) frames received in the last ``spool_sync_s`` (plus the fsync's own time)
  that the broker had not acknowledged yet — the only loss — and (b) duplicates: frames acknowledged
  since the last cursor write are published again. A record torn by the cut is recognised (length,
  CRC or sequence wrong) and cut off when the spool is opened again, with everything after it in
  that segment (nothing can follow it: segments are append-only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Self

from fanet.gateway.spool_format import (
    CURSOR_NAME,
    HEADER,
    MAX_PAYLOAD,
    SEGMENT_SUFFIX,
    decode_cursor,
    encode_cursor,
    encode_record,
    iter_records,
    segment_base,
    segment_name,
    valid_prefix,
)

READ_CHUNK = 64 * 1024


class SpoolError(Exception):
    """The spool directory cannot be used (not writable, disk full, I/O error); says which file."""


class Record(NamedTuple):
    seq: int
    payload: bytes


@dataclass(slots=True)
class SpoolStats:
    """Counters since the spool was opened."""

    appended: int = 0
    dropped: int = 0
    """Unacknowledged records deleted to make room (the spool was full)."""
    recovered: int = 0
    """Unacknowledged records found when the spool was opened."""
    truncated_bytes: int = 0
    """Bytes cut off when the spool was opened: torn or corrupt records and what followed them."""
    segments_discarded: int = 0
    """Segment files found unusable when opened (a bad name, no valid first record)."""


@dataclass(slots=True)
class _Segment:
    base: int
    path: Path
    end: int
    """The seq after the last record (``base`` when empty)."""
    size: int


@dataclass(slots=True)
class SyncJob:
    """What one sync writes to disk; :meth:`run` it in a worker thread (it blocks on fsync).

    Holds its own file descriptors (duplicates, or segments handed over when rolled), so the spool
    may go on appending, rolling and deleting in the meantime.
    """

    directory: Path
    fds: list[int] = field(default_factory=list)
    cursor: int | None = None
    sync_directory: bool = False

    def run(self) -> None:
        """fsync the segments, replace the cursor, fsync the directory. Raises ``OSError``."""
        try:
            for fd in self.fds:
                os.fsync(fd)
        finally:
            for fd in self.fds:
                os.close(fd)
            self.fds = []
        if self.cursor is not None:
            temporary = self.directory / f"{CURSOR_NAME}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, encode_cursor(self.cursor))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.directory / CURSOR_NAME)
        if self.sync_directory or self.cursor is not None:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class Spool:
    """An open spool directory; build it with :meth:`open`. Not thread-safe: one owner calls it."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.stats = SpoolStats()
        self.acked = 0
        """Every record with a seq up to this one is acknowledged."""
        self.next_seq = 1
        self._segments: list[_Segment] = []
        self._size = 0
        self._active: _Segment | None = None
        self._active_fd: int | None = None
        self._active_dirty = False
        self._rolled_fds: list[int] = []  # rolled segments not yet fsynced; a SyncJob takes them
        self._directory_dirty = False
        self._cursor_saved = 0
        self._read_segment: _Segment | None = None
        self._read_fd: int | None = None
        self._read_offset = 0
        self._read_seq = 1
        self._closed = False

    # --- opening ----------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, max_bytes: int, segment_bytes: int | None = None) -> Spool:
        """Open (or create) the spool in ``directory``, recovering what a crash or power cut left.

        ``segment_bytes`` defaults to a 32nd of ``max_bytes`` (between 16 KiB and 4 MiB): dropping
        the oldest segment when full then drops about 3 % of the spool. Raises :class:`SpoolError`.
        """
        if segment_bytes is None:
            segment_bytes = min(max(max_bytes // 32, 16 * 1024), 4 * 1024 * 1024)
        if segment_bytes < HEADER.size + 64 or max_bytes < 2 * segment_bytes:
            raise ValueError(
                f"spool of {max_bytes} bytes with segments of {segment_bytes} bytes: "
                "need max_bytes ≥ 2 × segment_bytes and segments of at least 80 bytes"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
            spool = cls(directory, max_bytes, segment_bytes)
            spool._recover()
        except OSError as error:
            raise SpoolError(f"spool directory {directory}: {error.strerror or error}") from None
        return spool

    def _recover(self) -> None:
        for path in sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}")):
            segment = self._recover_segment(path)
            if segment is None:
                continue
            if self._segments and segment.base < self._segments[-1].end:
                self.stats.segments_discarded += 1  # overlaps its predecessor: cannot be ours
                path.unlink()
                continue
            self._segments.append(segment)
        self._size = sum(segment.size for segment in self._segments)
        cursor = self._read_cursor()
        first = self._segments[0].base if self._segments else 1
        # A missing or damaged cursor: publish everything kept again (duplicates, never a loss).
        self.acked = cursor if cursor is not None else first - 1
        self._cursor_saved = self.acked
        last_end = self._segments[-1].end if self._segments else 1
        # Never reuse a seq at or below the cursor: those count as delivered.
        self.next_seq = max(last_end, self.acked + 1)
        self._delete_acknowledged()
        self.stats.recovered = self.pending
        self._read_seq = self.acked + 1
        self._read_segment = None

    def _recover_segment(self, path: Path) -> _Segment | None:
        base = segment_base(path.name)
        if base is None:
            self.stats.segments_discarded += 1
            path.unlink()
            return None
        data = path.read_bytes()
        size, end = valid_prefix(data, base)
        if size < len(data):
            self.stats.truncated_bytes += len(data) - size
            os.truncate(path, size)
        if size == 0:
            self.stats.segments_discarded += 1
            path.unlink()
            return None
        return _Segment(base, path, end, size)

    def _read_cursor(self) -> int | None:
        try:
            return decode_cursor((self.directory / CURSOR_NAME).read_bytes())
        except FileNotFoundError:
            return None

    # --- state --------------------------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        """The oldest seq still kept (``next_seq`` when the spool is empty)."""
        return self._segments[0].base if self._segments else self.next_seq

    @property
    def pending(self) -> int:
        """Records kept and not acknowledged."""
        first_unacked = self.acked + 1
        return sum(max(0, s.end - max(s.base, first_unacked)) for s in self._segments)

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    # --- writing ------------------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Append one record and return its seq; deletes the oldest segments if it does not fit.

        Raises :class:`SpoolError` when the write fails (disk full, I/O error); the segment is
        then cut back to its last whole record, so the spool stays readable.
        """
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"spool record of {len(payload)} bytes; at most {MAX_PAYLOAD}")
        record = encode_record(self.next_seq, payload)
        if self._active is not None and self._active.size + len(record) > self.segment_bytes:
            self._roll()
        while self._segments and self._size + len(record) > self.max_bytes:
            self._drop_oldest()
        if self._active is None:
            self._start_segment()
        assert self._active is not None and self._active_fd is not None
        try:
            written = os.write(self._active_fd, record)
            if written != len(record):
                raise OSError(f"short write ({written} of {len(record)} bytes)")
        except OSError as error:
            self._undo_write()
            raise SpoolError(f"cannot write to {self._active.path}: {error}") from None
        self._active.size += len(record)
        self._active.end = self.next_seq + 1
        self._size += len(record)
        self._active_dirty = True
        self.next_seq += 1
        self.stats.appended += 1
        return self.next_seq - 1

    def _undo_write(self) -> None:
        assert self._active is not None and self._active_fd is not None
        try:
            os.ftruncate(self._active_fd, self._active.size)
        except OSError:
            self._roll()  # cannot repair it in place: never write after a torn record

    def _start_segment(self) -> None:
        path = self.directory / segment_name(self.next_seq)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        except OSError as error:
            raise SpoolError(f"cannot create {path}: {error.strerror or error}") from None
        self._active = _Segment(self.next_seq, path, self.next_seq, 0)
        self._active_fd = fd
        self._segments.append(self._active)
        self._directory_dirty = True

    def _roll(self) -> None:
        """Finish the active segment; its descriptor waits for the next sync job to fsync it."""
        if self._active_fd is not None:
            if self._active_dirty:
                self._rolled_fds.append(self._active_fd)
            else:
                os.close(self._active_fd)
        self._active = None
        self._active_fd = None
        self._active_dirty = False

    def _drop_oldest(self) -> None:
        oldest = self._segments[0]
        if oldest is self._active:
            self._roll()
        self.stats.dropped += max(0, oldest.end - max(oldest.base, self.acked + 1))
        self._delete(oldest)

    def _delete(self, segment: _Segment) -> None:
        self._segments.remove(segment)
        self._size -= segment.size
        if segment is self._read_segment:
            self._close_reader()
        segment.path.unlink(missing_ok=True)
        self._directory_dirty = True

    # --- reading and acknowledging --------------------------------------------------------------------

    def read(self, limit: int) -> list[Record]:
        """Up to ``limit`` records after the last one read, oldest first (``[]``: nothing new).

        Each record is returned once; after a record was dropped unread, reading goes on at the
        oldest record kept. The first read after opening starts after the cursor.
        """
        records: list[Record] = []
        while len(records) < limit:
            segment = self._reader_segment()
            if segment is None:
                break
            available = segment.size - self._read_offset
            if available <= 0:
                if segment is self._segments[-1]:
                    break
                self._close_reader()
                self._read_seq = max(self._read_seq, segment.end)
                continue
            assert self._read_fd is not None
            data = os.pread(self._read_fd, min(available, READ_CHUNK), self._read_offset)
            offset = 0
            for end, seq, payload in iter_records(data):
                if seq >= self._read_seq:
                    records.append(Record(seq, payload))
                    self._read_seq = seq + 1
                offset = end
                if len(records) == limit:
                    break
            self._read_offset += offset
            if offset == 0:
                break  # defensive: a record longer than what pread returned
        return records

    def _reader_segment(self) -> _Segment | None:
        if self._read_segment is not None:
            return self._read_segment
        for segment in self._segments:
            if segment.end > self._read_seq:
                self._read_segment = segment
                self._read_offset = 0
                self._read_seq = max(self._read_seq, segment.base)
                self._read_fd = os.open(segment.path, os.O_RDONLY)
                return segment
        return None

    def _close_reader(self) -> None:
        if self._read_fd is not None:
            os.close(self._read_fd)
        self._read_fd = None
        self._read_segment = None
        self._read_offset = 0

    def ack(self, seq: int) -> None:
        """The broker acknowledged ``seq`` and everything before it; fully acknowledged segments go."""
        if seq > self.acked:
            self.acked = seq
            self._delete_acknowledged()

    def _delete_acknowledged(self) -> None:
        while self._segments and self._segments[0].end <= self.acked + 1:
            segment = self._segments[0]
            if segment is self._active:
                if segment.size < self.segment_bytes:
                    return  # keep appending to it
                self._roll()
            self._delete(segment)

    # --- durability -----------------------------------------------------------------------------------

    def sync_job(self) -> SyncJob | None:
        """What must reach the disk since the last job (``None``: nothing); see the module docstring.

        The job owns its descriptors: run it (in a worker thread) or call :meth:`SyncJob.run` anyway.
        If it fails, call :meth:`sync_failed` so that the next job tries again.
        """
        job = SyncJob(self.directory)
        job.fds, self._rolled_fds = self._rolled_fds, []
        if self._active_dirty and self._active_fd is not None:
            job.fds.append(os.dup(self._active_fd))
            self._active_dirty = False
        if self.acked != self._cursor_saved:
            job.cursor = self._cursor_saved = self.acked
        job.sync_directory, self._directory_dirty = self._directory_dirty, False
        if not job.fds and job.cursor is None and not job.sync_directory:
            return None
        return job

    def sync_failed(self) -> None:
        """A job failed: sync the active segment, the cursor and the directory again next time."""
        self._active_dirty = self._active_fd is not None
        self._cursor_saved = -1
        self._directory_dirty = True

    def close(self) -> None:
        """Sync everything (in the calling thread) and close. Raises ``OSError`` if the sync fails."""
        if self._closed:
            return
        self._closed = True
        job = self.sync_job()
        self._roll()
        self._close_reader()
        if job is not None:
            job.run()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
