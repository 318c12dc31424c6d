"""The frame header, extended header, addresses, wrapper and signature."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import (
    Ack,
    AckMode,
    AircraftType,
    AirTracking,
    Frame,
    FrameError,
    FrameType,
    GroundTracking,
    GroundType,
    Message,
    Name,
    Thermal,
    UnknownPayload,
    compute_signature,
    decode_frame,
    encode_frame,
    encode_header,
    format_address,
    parse_address,
    sign,
    unwrap,
    verify_signature,
    wrap,
)


def test_address_is_manufacturer_then_little_endian_id() -> None:
    frame = decode_frame(bytes.fromhex("02110B90") + b"x")
    assert frame.source == 0x11900B
    assert (frame.manufacturer, frame.device_id, frame.address) == (0x11, 0x900B, "11900B")
    assert encode_header(2, 0x110B90) == bytes.fromhex("0211900B")


def test_forward_bit_is_not_a_type_bit() -> None:
    frame = decode_frame(bytes.fromhex("42110B90") + b"x")
    assert frame.forward is True
    assert frame.type == 2


def test_extended_header_with_destination_signature_ack_and_geo_forward() -> None:
    frame = Frame(
        0x110B90,
        Name("hi"),
        ack=AckMode.REQUESTED_VIA_FORWARD,
        dest=0x0A0493,
        signature=0xDEADBEEF,
        geo_forwarded=True,
    )
    raw = encode_frame(frame)
    assert raw[0] == 0x82
    assert raw[4] == 0x80 | 0x20 | 0x10 | 0x08
    assert raw[5:8] == bytes.fromhex("0A9304")
    assert raw[8:12] == bytes.fromhex("EFBEADDE")
    assert decode_frame(raw) == frame


addresses = st.integers(0, 0xFFFFFF)
signatures = st.integers(0, 0xFFFFFFFF)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=40)


def quantised(payload: Any) -> Any:
    """``payload`` as a receiver sees it: its values on the codec's grid, so they re-encode exactly."""
    return decode_frame(encode_frame(Frame(0x110B90, payload))).payload


degrees = st.floats(-89.9, 89.9)
payloads = st.one_of(
    st.builds(Name, texts),
    st.builds(Message, texts, st.integers(0, 255)),
    st.builds(
        UnknownPayload,
        st.integers(11, 63).filter(lambda kind: kind not in set(FrameType)),
        st.binary(max_size=20),
    ),
    st.builds(
        AirTracking,
        degrees,
        degrees,
        st.sampled_from(AircraftType),
        st.integers(0, 8188),
        st.floats(0, 317),
        st.floats(-31, 31),
        st.floats(0, 359),
        st.booleans(),
        st.none() | st.floats(-63, 63),
        st.none() | st.integers(-250, 250),
    ).map(quantised),
    st.builds(GroundTracking, degrees, degrees, st.sampled_from(GroundType), st.booleans()).map(quantised),
    st.builds(
        Thermal,
        degrees,
        degrees,
        st.integers(0, 7),
        st.integers(0, 8188),
        st.floats(-31, 31),
        st.floats(0, 317),
        st.floats(0, 359),
    ).map(quantised),
)
"""Payloads of several families, including the tracking types that have a fast decoding path."""


@given(
    source=addresses,
    forward=st.booleans(),
    ack=st.sampled_from(AckMode),
    dest=st.none() | addresses,
    signature=st.none() | signatures,
    geo_forwarded=st.booleans(),
    trailing=st.binary(max_size=8),
)
def test_ack_frames_survive_encoding_exactly(
    source: int,
    forward: bool,
    ack: AckMode,
    dest: int | None,
    signature: int | None,
    geo_forwarded: bool,
    trailing: bytes,
) -> None:
    frame = Frame(source, Ack(), forward, ack, dest, signature, geo_forwarded, trailing)
    assert decode_frame(encode_frame(frame)) == frame


extensions = st.just((AckMode.NONE, None, None, False)) | st.tuples(
    st.sampled_from(AckMode), st.none() | addresses, st.none() | signatures, st.booleans()
)
"""(ack, dest, signature, geo_forwarded): often none of them, so no extended header (the fast path)."""


@given(source=addresses, payload=payloads, forward=st.booleans(), extension=extensions)
def test_header_fields_survive_encoding_exactly_in_any_combination(
    source: int, payload: Any, forward: bool, extension: tuple[AckMode, int | None, int | None, bool]
) -> None:
    # The header is not quantised: every combination of its fields comes back as it was sent.
    frame = Frame(source, payload, forward, *extension)
    decoded = decode_frame(encode_frame(frame))
    assert decoded == frame
    assert decoded.type == frame.type


def test_ack_frame_has_no_payload_and_keeps_junk_as_trailing() -> None:
    frame = decode_frame(bytes.fromhex("80110B90200A9304") + b"\x01")
    assert frame.payload == Ack()
    assert frame.dest == 0x0A0493
    assert frame.trailing == b"\x01"


@pytest.mark.parametrize(
    ("hex_frame", "field", "offset"),
    [
        ("", "header", 0),
        ("01110B", "header", 0),
        ("81110B90", "extended_header", 4),
        ("81110B9020", "dest", 5),
        ("81110B90300A9304AABB", "signature", 8),
    ],
)
def test_truncated_headers(hex_frame: str, field: str, offset: int) -> None:
    with pytest.raises(FrameError) as info:
        decode_frame(bytes.fromhex(hex_frame))
    assert (info.value.field, info.value.offset) == (field, offset)


def test_unknown_type_is_kept_raw() -> None:
    frame = decode_frame(bytes.fromhex("3F110B90CAFE"))
    assert frame.payload == UnknownPayload(0x3F, b"\xca\xfe")
    assert frame.type == 0x3F
    assert encode_frame(frame) == bytes.fromhex("3F110B90CAFE")


def test_addresses_format_and_parse() -> None:
    assert format_address(0x0A0493) == "0A0493"
    assert parse_address("0a0493") == 0x0A0493
    assert parse_address("1117072") == 0x110B90
    with pytest.raises(ValueError, match="not a FANET address"):
        parse_address("zz")
    with pytest.raises(ValueError, match="24-bit"):
        parse_address("99999999")


def test_wrapper_round_trip_and_unknown_signal() -> None:
    data = wrap(b"\x01\x02", 1749321353, rssi=None, snr=-2)
    assert data[4:6] == b"\x00\x80"
    assert unwrap(data) == (1749321353, None, -2, b"\x01\x02")
    assert unwrap(wrap(b"", 5, rssi=-40000, snr=7)).rssi == -32767
    with pytest.raises(FrameError, match="wrapper"):
        unwrap(b"\x00" * 7)


def test_signature_is_sha1_over_pseudo_header_payload_and_key() -> None:
    import hashlib

    frame = sign(Frame(0x110B90, Name("Bob"), forward=True), b"secret")
    expected = hashlib.sha1(bytes.fromhex("0211900B") + b"Bob" + b"secret").digest()[:4]
    assert frame.signature == int.from_bytes(expected, "little")
    raw = encode_frame(frame)
    assert raw[0] == 0xC2  # extended header and forward bits do not enter the pseudo header
    assert verify_signature(raw, b"secret")
    assert not verify_signature(raw, b"other")
    assert not verify_signature(encode_frame(Frame(0x110B90, Name("Bob"))), b"secret")
    assert compute_signature(2, 0x110B90, b"Bob", b"secret") == frame.signature


def test_received_frame_round_trips_the_wrapper() -> None:
    from fanet.proto import ReceivedFrame

    received = ReceivedFrame.from_wrapped(
        "8896672", bytes.fromhex("8986446888fffeff0111900b4caf411bc209a690030000")
    )
    assert received.station == "8896672"
    assert (received.timestamp, received.rssi, received.snr) == (1749321353.0, -120, -2)
    assert received.wrapped().hex() == "8986446888fffeff0111900b4caf411bc209a690030000"
