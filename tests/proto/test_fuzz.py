"""Arbitrary bytes: the codec raises FrameError or decodes, and what decodes re-encodes."""

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanet.proto import FrameError, decode_frame, encode_frame, unwrap
from fanet.proto._dict import frame_to_dict


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_nothing_but_frame_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameError:
        return
    frame_to_dict(frame)
    again = decode_frame(encode_frame(frame))
    assert again.type == frame.type
    assert again.source == frame.source


@settings(max_examples=2000)
@given(st.integers(0, 63), st.binary(max_size=40))
def test_every_type_with_any_payload(frame_type: int, payload: bytes) -> None:
    for header in (
        bytes((frame_type, 0x11, 0x0B, 0x90)),
        bytes((0x80 | frame_type, 0x11, 0x0B, 0x90, 0x30, 1, 2, 3, 4, 5, 6, 7)),
    ):
        with contextlib.suppress(FrameError):
            frame_to_dict(decode_frame(header + payload))


@given(st.binary(max_size=40))
def test_wrapped_bytes(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode_frame(unwrap(data).raw)
