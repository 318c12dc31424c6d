"""Codec throughput: decoding a realistic traffic mix, against a bare ``struct`` unpack of the same bytes.

The mix is 70 % air tracking, 10 % ground tracking, 10 % service (weather), 5 % names, 5 % thermals,
with varied positions and values. The baseline reads the same frames with one precompiled
``struct.unpack_from`` per frame (chosen by frame type, as any decoder must), which is the floor for
Python code that looks at every field; the ratio to it is what this benchmark is about, since the
machine is shared and absolute figures drift. Each figure is the best of several rounds.

Run with ``make bench``.
"""

import argparse
import random
import struct
import sys
import time
from collections.abc import Callable

from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    GroundTracking,
    GroundType,
    Name,
    Thermal,
    decode_frame,
    encode_frame,
    encode_header,
)

SERVICE_WEATHER_PAYLOAD = bytes.fromhex("60ecb741a9a5092e800e24")  # a real wind station's report


def traffic_mix(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    frames: list[bytes] = []
    for _ in range(count):
        source = rng.choice((0x110B90, 0x0A0493, 0x200C9E, 0x0B1234, 0xFB0042))
        lat, lon = 46.0 + rng.random(), 13.0 + rng.random()
        pick = rng.random()
        if pick < 0.70:
            payload: object = AirTracking(
                lat,
                lon,
                AircraftType.PARAGLIDER,
                rng.randrange(300, 4000),
                rng.uniform(0, 60),
                rng.uniform(-4, 5),
                rng.uniform(0, 360),
                True,
                rng.uniform(-20, 20) if rng.random() < 0.3 else None,
            )
        elif pick < 0.80:
            payload = GroundTracking(lat, lon, rng.choice((GroundType.WALKING, GroundType.LANDED_WELL)), True)
        elif pick < 0.90:
            frames.append(encode_header(4, source, forward=True) + SERVICE_WEATHER_PAYLOAD)
            continue
        elif pick < 0.95:
            payload = Name(rng.choice(("Tom Payne", "SkyNet: Matajur", "Skytraxx 3.0", "Ana")))
        else:
            payload = Thermal(
                lat, lon, rng.randrange(8), rng.randrange(500, 3000), rng.uniform(0, 4), 10.5, 241.9
            )
        frames.append(encode_frame(Frame(source, payload)))
    return frames


_BARE = {
    1: struct.Struct("<BBHHbHbHBBB"),
    2: struct.Struct("<BBH"),
    4: struct.Struct("<BBHBHbHbbBBB"),
    7: struct.Struct("<BBHHbHbB"),
    9: struct.Struct("<BBHHbHbHBBB"),
}
_BARE_BY_TYPE = [_BARE.get(t) for t in range(64)]


def bare_unpack(frames: list[bytes]) -> None:
    table = _BARE_BY_TYPE
    for raw in frames:
        table[raw[0] & 0x3F].unpack_from(raw)  # type: ignore[union-attr]


def codec_decode(frames: list[bytes]) -> None:
    decode = decode_frame
    for raw in frames:
        decode(raw)


def best_rate(run: Callable[[list[bytes]], None], frames: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run(frames)
        best = min(best, time.perf_counter() - start)
    return len(frames) / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="frames in the mix (default 200000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best counts (default 7)")
    args = parser.parse_args()

    frames = traffic_mix(args.frames)
    for raw in frames[:1000]:  # the mix must be what the codec understands
        decode_frame(raw)
    # Interleave the two measurements so that a noisy neighbour hurts both alike.
    codec = bare = 0.0
    for _ in range(args.rounds):
        bare = max(bare, best_rate(bare_unpack, frames, 1))
        codec = max(codec, best_rate(codec_decode, frames, 1))
    print(f"codec decode, traffic mix : {codec:12,.0f} frames/s  ({1e6 / codec:.2f} µs/frame)")
    print(f"bare struct unpack        : {bare:12,.0f} frames/s  ({1e6 / bare:.2f} µs/frame)")
    print(f"ratio codec : bare        : 1 : {bare / codec:.2f}   (target ≤ 1 : 4, and ≥ 300,000 frames/s)")
    by_type: dict[int, list[bytes]] = {}
    for raw in frames:
        by_type.setdefault(raw[0] & 0x3F, []).append(raw)
    for frame_type, subset in sorted(by_type.items()):
        rate = best_rate(codec_decode, subset, args.rounds)
        print(f"  type {frame_type:2d}: {len(subset) / len(frames):5.1%} of the mix, {rate:12,.0f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
