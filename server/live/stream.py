"""The TCP stream under one WebSocket connection, with a way to write a whole frame without awaiting.

trio-websocket reads and writes through a :class:`DirectStream` like through any Trio stream (the
handshake, its Pongs, the close). The listener also writes its own frames, batches above all, straight to
the socket with :meth:`DirectStream.write_now` while the kernel takes them whole: no task switch, no
lock, no await. Measured with 3,000 clients on the 1 s batch grid: ``send_message`` costs two trips
through Trio's scheduler per batch (its lock's checkpoint, then the socket's) on top of the wake-up of
the connection's sender task: ≈ 30 µs of the ≈ 55 µs a send costs, the system call being the rest.

A frame the kernel does not take whole (its buffer is full: a slow client) is kept, from the first byte
not taken, and goes out before anything else: on the next :meth:`DirectStream.send_all` (trio-websocket's
writes wait for it) or :meth:`DirectStream.flush` (the connection's sender task). So frames never
interleave, and a slow client costs one kept frame, not a queue.

The socket is written with ``os.write`` on its descriptor (POSIX; the server listens on plain TCP, TLS
ends in a reverse proxy), read afresh each time so that a closed socket fails with ``EBADF`` instead of
writing to a descriptor number the kernel has given to another connection.
"""

import os

import trio

_BINARY, _TEXT = 0x82, 0x81
"""The first byte of a whole (FIN) binary or text frame, no extension bits."""


def frame_of(message: bytes | str) -> bytes:
    """One complete, unmasked WebSocket frame (RFC 6455 §5.2): binary for bytes, text for str.

    Not wsproto's ``FrameProtocol.send_data``, which trio-websocket frames with: it cost 1.8 µs a frame
    (its extension and fragmentation bookkeeping), 7 % of a batch's whole cost, to write the two to ten
    bytes of a server frame's header. A test holds the two to the same bytes."""
    if isinstance(message, str):
        payload, first = message.encode(), _TEXT
    else:
        payload, first = message, _BINARY
    length = len(payload)
    if length < 126:
        header = bytes((first, length))
    elif length < 65536:
        header = bytes((first, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((first, 127)) + length.to_bytes(8, "big")
    return header + payload


class DirectStream(trio.abc.HalfCloseableStream):
    """A :class:`trio.SocketStream` and the rest of a frame the kernel did not take yet."""

    __slots__ = ("_lock", "_rest", "_stream")

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._lock = trio.StrictFIFOLock()
        """Held by whoever awaits a write (trio-websocket, or :meth:`flush`)."""
        self._rest = b""

    @property
    def idle(self) -> bool:
        """Nothing is being written and nothing is kept: :meth:`write_now` may write."""
        return not self._rest and not self._lock.locked()

    @property
    def behind(self) -> bool:
        """Part of a frame waits for :meth:`flush`."""
        return bool(self._rest)

    def write_now(self, frame: bytes) -> bool:
        """Write a whole frame (:func:`frame_of`) without waiting; only while :attr:`idle`. ``False``
        when the kernel took less than all of it: the rest is kept for :meth:`flush`, which must follow
        (it also raises what a broken connection raised here)."""
        if not self.idle:
            raise RuntimeError("write_now while a write is in progress or a frame is kept")
        try:
            written = os.write(self._stream.socket.fileno(), frame)
        except OSError:  # full (EAGAIN), or broken: flush waits, or raises what trio makes of it
            written = 0
        if written == len(frame):
            return True
        self._rest = frame[written:]
        return False

    async def flush(self) -> None:
        """Send what is kept of a frame (waiting as long as the client takes to read it)."""
        async with self._lock:
            await self._send_rest()

    async def _send_rest(self) -> None:
        rest, self._rest = self._rest, b""  # cancelled or broken midway, the stream is done for anyway
        if rest:
            await self._stream.send_all(rest)

    # --- trio.abc.HalfCloseableStream, for trio-websocket ---------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self._lock:
            await self._send_rest()
            await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        async with self._lock:
            await self._send_rest()
            await self._stream.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._stream.aclose()
