"""Compressed coordinates: parity bit, signed fraction, reference degree, antimeridian."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto._compressed import (
    COMPRESSED_STEP_DEG,
    decode_compressed,
    decode_compressed_chain,
    decode_compressed_position,
    encode_compressed,
    encode_compressed_position,
)

STEP = COMPRESSED_STEP_DEG
degrees = st.floats(-180.0, 180.0, allow_nan=False)
near = st.floats(-0.4999, 0.4999, allow_nan=False)


def test_word_layout_is_parity_bit_and_fifteen_bit_signed_fraction() -> None:
    assert encode_compressed(46.0) == 0x0000
    assert encode_compressed(47.0) == 0x8000  # odd degree
    assert encode_compressed(46.25) == round(0.25 * 32767)
    assert encode_compressed(46.75) == 0x8000 | (-round(0.25 * 32767) & 0x7FFF)  # 47 − 0.25
    assert encode_compressed(-13.1) == 0x8000 | (-round(0.1 * 32767) & 0x7FFF)  # −13 is odd


def test_fraction_is_clamped_to_half_a_degree() -> None:
    assert encode_compressed(0.5) & 0x7FFF == -16383 & 0x7FFF  # 0.5 rounds to 1: 1 − 0.49998
    assert decode_compressed(encode_compressed(0.5), 0.4) == pytest.approx(0.5, abs=STEP)
    assert decode_compressed(encode_compressed(-0.5), -0.4) == pytest.approx(-0.5, abs=STEP)


def test_same_parity_takes_the_reference_degree() -> None:
    assert decode_compressed(encode_compressed(46.3), 46.1) == pytest.approx(46.3, abs=STEP)
    assert decode_compressed(encode_compressed(45.6), 46.1) == pytest.approx(45.6, abs=STEP)


def test_other_parity_takes_the_nearer_neighbouring_degree() -> None:
    assert decode_compressed(encode_compressed(0.51), 0.49) == pytest.approx(0.51, abs=STEP)
    assert decode_compressed(encode_compressed(0.45), 0.9) == pytest.approx(0.45, abs=STEP)
    assert decode_compressed(encode_compressed(1.9), 1.4) == pytest.approx(1.9, abs=STEP)
    assert decode_compressed(encode_compressed(-2.6), -1.9) == pytest.approx(-2.6, abs=STEP)


def test_longitude_crosses_the_antimeridian() -> None:
    data = encode_compressed_position(10.0, -179.9)
    lat, lon = decode_compressed_position(data, 0, 10.1, 179.9)
    assert lat == pytest.approx(10.0, abs=STEP)
    assert lon == pytest.approx(-179.9, abs=STEP)
    _, lon = decode_compressed_position(encode_compressed_position(10.0, 179.8), 0, 10.0, -179.9)
    assert lon == pytest.approx(179.8, abs=STEP)


def test_bytes_are_little_endian_latitude_first() -> None:
    assert encode_compressed_position(47.0, 46.25) == bytes((0x00, 0x80)) + round(0.25 * 32767).to_bytes(
        2, "little"
    )


def test_chain_reads_complete_elements_each_against_the_previous_point() -> None:
    points = [(46.6, 13.4), (47.1, 13.9), (47.55, 14.35)]
    data = b"".join(encode_compressed_position(lat, lon) + b"\x07" for lat, lon in points) + b"\x01\x02"
    chain, end = decode_compressed_chain(data, 0, 46.2, 13.0, extra=1)
    assert end == len(data) - 2
    assert [at for _, _, at in chain] == [4, 9, 14]
    for (lat, lon, _), (want_lat, want_lon) in zip(chain, points, strict=True):
        assert lat == pytest.approx(want_lat, abs=STEP)
        assert lon == pytest.approx(want_lon, abs=STEP)


@given(degrees, near)
def test_a_point_within_half_a_degree_decodes_within_one_step(ref: float, delta: float) -> None:
    point = ref + delta
    assert abs(decode_compressed(encode_compressed(point), ref) - point) <= STEP


@given(degrees, st.floats(-0.99, 0.99, allow_nan=False))
def test_a_point_within_the_allowed_degree_decodes_within_one_step(ref: float, delta: float) -> None:
    point = ref + delta
    assert abs(decode_compressed(encode_compressed(point), ref) - point) <= STEP


@given(st.floats(-89.0, 89.0), degrees, near, near)
def test_positions_decode_within_one_step_across_the_antimeridian(
    ref_lat: float, ref_lon: float, d_lat: float, d_lon: float
) -> None:
    lat = ref_lat + d_lat
    lon = (ref_lon + d_lon + 180.0) % 360.0 - 180.0
    got_lat, got_lon = decode_compressed_position(encode_compressed_position(lat, lon), 0, ref_lat, ref_lon)
    assert abs(got_lat - lat) <= STEP
    assert -180.0 <= got_lon <= 180.0
    assert abs((got_lon - lon + 180.0) % 360.0 - 180.0) <= STEP


@given(st.integers(0, 0xFFFF).filter(lambda w: w & 0x7FFF != 0x4000), degrees)
def test_a_decoded_word_encodes_to_the_same_word(word: int, ref: float) -> None:
    # 0x4000 is −16384/32767, a hair past −0.5°: it re-encodes as the same point from the other side.
    assert encode_compressed(decode_compressed(word, ref)) == word
