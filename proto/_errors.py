"""The one exception the codec raises for bytes that are not a FANET frame."""


class FrameError(ValueError):
    """A frame is truncated or impossible.

    ``field`` names what could not be read (``"header"``, ``"air_tracking.position"`` …) and
    ``offset`` is the byte offset in the input where it should have started.
    """

    def __init__(self, field: str, offset: int, reason: str) -> None:
        super().__init__(f"{field} at byte {offset}: {reason}")
        self.field = field
        self.offset = offset
        self.reason = reason


def require(buf: bytes, offset: int, size: int, field: str) -> None:
    """Raise :class:`FrameError` unless ``buf`` holds ``size`` bytes from ``offset``."""
    available = len(buf) - offset
    if available < size:
        raise FrameError(field, offset, f"truncated: {size} bytes needed, {max(available, 0)} given")
