"""Arbitrary bytes: the codec raises FrameError or decodes, and what decodes re-encodes."""

import contextlib
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanet.proto import FrameError, decode_frame, encode_frame, unwrap
from fanet.proto._dict import frame_to_dict
from fanet.proto._frame import _decode_general


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


def _outcome(decode: Callable[[bytes], object], data: bytes) -> object:
    try:
        return decode(data)
    except FrameError as error:
        return ("error", error.field, error.offset, str(error))


@settings(max_examples=3000)
@given(st.sampled_from([1, 2, 4, 7, 9]), st.booleans(), st.binary(max_size=24))
def test_the_fast_paths_decode_exactly_like_the_general_path(
    frame_type: int, forward: bool, payload: bytes
) -> None:
    """The fast decoders (tracking, names, service) are copies of the general path's logic, tuned; they
    must agree with it on every input, values, exact types and errors alike."""
    data = bytes((frame_type | (0x40 if forward else 0), 0x11, 0x0B, 0x90)) + payload
    fast, general = _outcome(decode_frame, data), _outcome(_decode_general, data)
    assert fast == general
    if isinstance(fast, tuple) and isinstance(general, tuple):
        assert [type(value) for value in fast] == [type(value) for value in general]
        fast_payload, general_payload = getattr(fast, "payload", ()), getattr(general, "payload", ())
        assert [type(v) for v in fast_payload] == [type(v) for v in general_payload]
