"""Deduplication: a frame heard by several stations, or again through a repeater, is applied once.

The key is the frame's bytes with what a repeater changes masked out: the forward bit in the header
byte (the original asks to be forwarded, the repeater's copy no longer does) and the geo-forwarded
bit of the extended header; trailing bytes (NUL padding some stations add) are left out. The first
reception counts; copies within the window are duplicates. Receptions of every copy still go to the
base-station statistics, before deduplication.

Memory is bounded by time with two generations of keys: a key lives in the current dictionary, which
becomes the previous one every window, and the previous one is dropped at the next turn. So a key is
remembered for at least one window and at most two, and each frame costs two dictionary lookups.
"""

_FORWARD = 0x40
_GEO_FORWARDED = 0x08


def dedupe_key(raw: bytes, trailing: int = 0) -> bytes:
    """The bytes that identify a frame across stations and repeaters (``trailing``: bytes to drop at the end)."""
    head = raw[0]
    if head < _FORWARD and not trailing:
        return raw  # no forward bit, no extended header: the frame is its own key
    end = len(raw) - trailing
    if head & 0x80 and end > 4:
        return (
            bytes((head & ~_FORWARD & 0xFF, raw[1], raw[2], raw[3], raw[4] & ~_GEO_FORWARDED & 0xFF))
            + raw[5:end]
        )
    return bytes((head & ~_FORWARD & 0xFF,)) + raw[1:end]


class Deduplicator:
    """Remembers frame keys for ``window_s`` seconds of the caller's clock."""

    __slots__ = ("_current", "_max_entries", "_previous", "_turned_at", "window_s")

    def __init__(self, window_s: float, max_entries: int) -> None:
        self.window_s = window_s
        self._max_entries = max(max_entries // 2, 1)
        self._current: dict[bytes, float] = {}
        self._previous: dict[bytes, float] = {}
        self._turned_at = float("-inf")

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def seen(self, key: bytes, now: float) -> bool:
        """True when ``key`` was first seen less than a window ago; otherwise remember it from ``now``."""
        if now - self._turned_at >= self.window_s or len(self._current) >= self._max_entries:
            self._turn(now)
        first = self._current.get(key)
        if first is None:
            first = self._previous.get(key)
        if first is not None and now - first < self.window_s:
            return True
        self._current[key] = now
        return False

    def evict(self, now: float) -> None:
        """Drop what is older than the window even when no frames arrive."""
        if now - self._turned_at >= self.window_s:
            self._turn(now)

    def _turn(self, now: float) -> None:
        self._previous = self._current
        self._current = {}
        self._turned_at = now
