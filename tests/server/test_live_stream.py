"""Frames written straight to a real TCP socket: whole, in order, never interleaved with awaited writes."""

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol

from fanet.server.live.stream import DirectStream, frame_of


@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200),
        st.sampled_from([125, 126, 127, 65535, 65536, 70000]).map(bytes),
        st.sampled_from([125, 126, 65535, 65536]).map(lambda n: "é" * (n // 2) + "x" * (n % 2)),
    )
)
def test_a_frame_is_what_wsproto_frames(message: bytes | str) -> None:
    assert frame_of(message) == bytes(FrameProtocol(client=False, extensions=[]).send_data(message, fin=True))


@asynccontextmanager
async def connected(small_buffers: bool = False) -> AsyncIterator[tuple[DirectStream, trio.SocketStream]]:
    """A DirectStream over a real loopback TCP connection, and the peer's end."""
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    sock = trio.socket.socket()
    if small_buffers:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    server = await listener.accept()
    if small_buffers:
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer = trio.SocketStream(sock)
    try:
        yield DirectStream(server), peer
    finally:
        await server.aclose()
        await peer.aclose()
        await listener.aclose()


async def read_exactly(stream: trio.SocketStream, count: int) -> bytes:
    data = bytearray()
    with trio.fail_after(5):
        while len(data) < count:
            data += await stream.receive_some()
    return bytes(data)


async def test_a_frame_the_socket_takes_is_written_without_awaiting() -> None:
    async with connected() as (direct, peer):
        frame = frame_of(b"\x12\x03abc")
        assert direct.idle
        assert direct.write_now(frame)
        assert direct.idle and not direct.behind
        assert await read_exactly(peer, len(frame)) == frame


async def test_the_rest_of_a_frame_goes_out_before_anything_written_after_it() -> None:
    async with connected(small_buffers=True) as (direct, peer):
        frames = [frame_of(bytes([n]) * 3000) for n in range(200)]
        written = []
        for frame in frames:
            written.append(frame)
            if not direct.write_now(frame):
                break
        assert direct.behind and not direct.idle  # the socket took only part of the last frame
        with pytest.raises(RuntimeError):
            direct.write_now(frames[-1])
        pong = frame_of(b"pong")  # what trio-websocket might write meanwhile (its own Pong, a close)
        expected = b"".join(written) + pong
        async with trio.open_nursery() as nursery:
            nursery.start_soon(direct.send_all, pong)  # waits for the kept rest, then writes
            assert await read_exactly(peer, len(expected)) == expected
        assert direct.idle


async def test_flush_sends_the_rest_once_the_client_reads() -> None:
    async with connected(small_buffers=True) as (direct, peer):
        written = []
        for n in range(200):
            frame = frame_of(bytes([n]) * 3000)
            written.append(frame)
            if not direct.write_now(frame):
                break
        expected = b"".join(written)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(direct.flush)
            assert await read_exactly(peer, len(expected)) == expected
        assert direct.idle


async def test_a_broken_connection_shows_in_flush() -> None:
    async with connected() as (direct, peer):
        peer.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await peer.aclose()  # a reset
        await trio.sleep(0.05)
        frame = frame_of(b"x" * 100)
        with pytest.raises(trio.BrokenResourceError):
            for _ in range(100):  # the first write may still be taken; a later one meets the reset
                if not direct.write_now(frame):
                    await direct.flush()


async def test_a_closed_stream_writes_nothing_and_flush_says_so() -> None:
    async with connected() as (direct, _):
        await direct.aclose()
        assert not direct.write_now(frame_of(b"late"))
        with pytest.raises(trio.ClosedResourceError):
            await direct.flush()
