"""The on-disk spool: order, the acknowledged cursor, the size bound, and what a crash or power cut leaves."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fanet.gateway.spool import Record, Spool
from fanet.gateway.spool_format import encode_record

MAX = 64 * 1024
SEGMENT = 4 * 1024


def payload(n: int) -> bytes:
    return f"frame-{n:05d}".encode() * 2


def open_spool(directory: Path, max_bytes: int = MAX, segment_bytes: int = SEGMENT) -> Spool:
    return Spool.open(directory, max_bytes=max_bytes, segment_bytes=segment_bytes)


def read_all(spool: Spool) -> list[Record]:
    records: list[Record] = []
    while batch := spool.read(50):
        records.extend(batch)
    return records


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_records_come_back_in_order_once_across_segments(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    seqs = [spool.append(payload(n)) for n in range(1000)]
    assert seqs == list(range(1, 1001))
    assert len(segments(tmp_path)) > 3  # the test crosses segment boundaries
    records = read_all(spool)
    assert [r.payload for r in records] == [payload(n) for n in range(1000)]
    assert [r.seq for r in records] == seqs
    assert spool.read(10) == []  # each record is handed out once
    spool.append(b"late")
    assert spool.read(10) == [Record(1001, b"late")]
    assert spool.pending == 1001
    spool.close()


def test_acknowledged_records_are_deleted_and_the_cursor_survives_a_restart(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for n in range(600):
        spool.append(payload(n))
    read_all(spool)
    before = len(segments(tmp_path))
    spool.ack(400)
    assert spool.pending == 200
    assert len(segments(tmp_path)) < before  # fully acknowledged segments are gone at once
    spool.close()

    again = open_spool(tmp_path)
    assert again.acked == 400
    assert again.pending == again.stats.recovered == 200
    assert [r.seq for r in read_all(again)] == list(range(401, 601))
    assert again.append(b"next") == 601  # numbering goes on
    again.close()


def test_cursor_is_written_by_the_sync_job_not_by_ack(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for n in range(10):
        spool.append(payload(n))
    read_all(spool)
    spool.ack(7)
    assert not (tmp_path / "cursor").exists()
    job = spool.sync_job()
    assert job is not None and job.cursor == 7 and job.fds and job.sync_directory
    job.run()
    assert spool.sync_job() is None  # nothing new since
    # A crash now (no close): the next start resumes after the cursor the job wrote.
    assert [r.seq for r in read_all(open_spool(tmp_path))] == [8, 9, 10]


def test_killed_process_loses_nothing_appended(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for n in range(300):
        spool.append(payload(n))
    # no close, no sync: the writes are in the page cache, which a killed process does not take along
    again = open_spool(tmp_path)
    assert [r.payload for r in read_all(again)] == [payload(n) for n in range(300)]


@pytest.mark.parametrize(
    ("damage", "kept"),
    [
        pytest.param(lambda data: data[:-5], 49, id="cut-mid-record"),
        pytest.param(lambda data: data + encode_record(51, b"x" * 30)[:9], 50, id="torn-header"),
        pytest.param(lambda data: data + bytes(4096), 50, id="zero-filled-block"),
        pytest.param(lambda data: data[:-3] + b"\xff\xff\xff", 49, id="bad-crc"),
    ],
)
def test_torn_last_record_after_a_power_cut_is_skipped(
    tmp_path: Path, damage: Callable[[bytes], bytes], kept: int
) -> None:
    spool = open_spool(tmp_path, segment_bytes=MAX // 2)
    for n in range(50):
        spool.append(payload(n))
    spool.close()
    (segment,) = segments(tmp_path)
    segment.write_bytes(damage(segment.read_bytes()))

    again = open_spool(tmp_path, segment_bytes=MAX // 2)
    assert again.stats.truncated_bytes > 0
    assert [r.payload for r in read_all(again)] == [payload(n) for n in range(kept)]
    assert again.append(b"after the cut") == kept + 1  # numbering goes on after the last good record
    again.close()
    assert read_all(open_spool(tmp_path, segment_bytes=MAX // 2))[-1] == Record(kept + 1, b"after the cut")


def test_damaged_cursor_means_publishing_everything_again(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for n in range(20):
        spool.append(payload(n))
    read_all(spool)
    spool.ack(15)
    spool.close()
    (tmp_path / "cursor").write_bytes(b"FNSC" + bytes(12))  # CRC does not match
    again = open_spool(tmp_path)
    # At least once: duplicates are allowed, losses are not.
    assert [r.seq for r in read_all(again)] == list(range(1, 21))


def test_seqs_at_or_below_a_durable_cursor_are_never_reused(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for n in range(30):
        spool.append(payload(n))
    read_all(spool)
    spool.ack(30)
    spool.close()
    for segment in segments(tmp_path):  # the cut took segment data the cursor had already passed
        segment.unlink()
    again = open_spool(tmp_path)
    assert again.append(b"new") == 31
    assert read_all(again) == [Record(31, b"new")]


def test_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=8 * 1024, segment_bytes=1024)
    total = 2000
    for n in range(total):
        spool.append(payload(n))
        assert spool.size_bytes <= 8 * 1024
    assert sum(p.stat().st_size for p in segments(tmp_path)) <= 8 * 1024
    records = read_all(spool)
    assert spool.stats.dropped == total - len(records) > 0
    # The newest survive, in order and without a gap: whole oldest segments went.
    assert [r.payload for r in records] == [payload(n) for n in range(total - len(records), total)]
    spool.close()


def test_dropping_skips_records_not_yet_read_and_only_counts_unacknowledged_ones(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=4 * 1024, segment_bytes=1024)
    for n in range(40):
        spool.append(payload(n))
    first_read = spool.read(10)
    spool.ack(first_read[-1].seq)
    for n in range(40, 400):
        spool.append(payload(n))
    rest = read_all(spool)
    assert rest[0].seq == spool.first_seq > 11  # the reader jumped over what was dropped
    assert spool.stats.dropped == rest[0].seq - 11  # acknowledged records are not "dropped"
    assert [r.seq for r in rest] == list(range(rest[0].seq, 401))


def test_open_rejects_a_bound_smaller_than_two_segments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 × segment_bytes"):
        Spool.open(tmp_path, max_bytes=1000, segment_bytes=800)


def test_empty_and_foreign_files_are_cleaned_up(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000005.seg").write_bytes(b"")
    (tmp_path / "garbage.seg").write_bytes(b"not a record")
    spool = open_spool(tmp_path)
    assert spool.stats.segments_discarded == 2
    assert segments(tmp_path) == []
    assert spool.append(b"x") == 1
    spool.close()
    assert os.listdir(tmp_path)  # a segment and the cursor
