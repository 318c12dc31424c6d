"""One batch as one Lua script call: all or nothing, with the sequence numbers allocated inside.

A MULTI/EXEC transaction cannot feed the result of ``INCRBY`` into the ``XADD`` ids that follow it, and a
``WATCH`` loop would retry under contention between replicas; a script runs alone on the server, so the
batch is numbered and written in one step no other client can interleave with. Everything that can fail
(encoding, positions off the globe) is checked in Python before the call, so the script does not stop
half-way.

The script also makes a retry after a lost answer harmless: it remembers each batch's first sequence
number for ``dedupe_ttl_s`` under a digest of the batch's contents, and answers an identical batch with
that number instead of applying it again. Identical contents mean the same objects with the same times,
so two genuinely different batches never collide.

Argument layout (KEYS / ARGV), built by :func:`apply_call`:

- KEYS: 1 ``seq``, 2 ``changes``, 3 ``applied:<digest>``, 4 ``stations``, 5 ``tracks``, 6–9 ``geo:<kind>``
  and 10–13 ``polar:<kind>`` in :data:`KINDS` order, then the object key of each change, then the track
  key of each pilot with points.
- ARGV: 1 number of changes, 2 of pilots with points, 3 of base stations, 4 retained changes, 5 object
  time-to-live in ms (0: none), 6 track retention in s, 7 track time-to-live in ms, 8 dedupe time-to-live
  in ms; then 7 per change (kind index, ``s`` store or ``r`` remove, member, lon or empty when polar,
  lat, object, change), 2 + 2n per pilot (address, n, then score and point n times), 2 per base station
  (id, record).
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from fanet.server.model import Action, BaseStation, PendingChange, TrackPoint, key_of
from fanet.server.store._redis_layout import KINDS, RedisKeys, geo_lon, is_polar
from fanet.server.store.codec import encode_base_station, encode_change, encode_object, encode_point

APPLY_SCRIPT: Final = """
local n_changes, n_tracks, n_stations = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local object_ttl_ms, retention_s, track_ttl_ms = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local first = 0
if n_changes > 0 then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then return tonumber(earlier) end
  first = redis.call('INCRBY', KEYS[1], n_changes) - n_changes + 1
  redis.call('SET', KEYS[3], first, 'PX', ARGV[8])
end
local arg = 9
for i = 0, n_changes - 1 do
  local kind, member = tonumber(ARGV[arg]), ARGV[arg + 2]
  local geo, polar, key = KEYS[6 + kind], KEYS[10 + kind], KEYS[14 + i]
  if ARGV[arg + 1] == 'r' then
    redis.call('DEL', key)
    redis.call('ZREM', geo, member)
    redis.call('SREM', polar, member)
  else
    if object_ttl_ms == '0' then
      redis.call('SET', key, ARGV[arg + 5])
    else
      redis.call('SET', key, ARGV[arg + 5], 'PX', object_ttl_ms)
    end
    if ARGV[arg + 3] == '' then
      redis.call('SADD', polar, member)
      redis.call('ZREM', geo, member)
    else
      redis.call('GEOADD', geo, ARGV[arg + 3], ARGV[arg + 4], member)
      redis.call('SREM', polar, member)
    end
  end
  redis.call('XADD', KEYS[2], string.format('%d-0', first + i), 'c', ARGV[arg + 6])
  arg = arg + 7
end
if n_changes > 0 then
  redis.call('XTRIM', KEYS[2], 'MAXLEN', ARGV[4])
end
local track_key = 14 + n_changes
for _ = 1, n_tracks do
  local key, member, count = KEYS[track_key], ARGV[arg], tonumber(ARGV[arg + 1])
  arg = arg + 2
  for _ = 1, count do
    redis.call('ZREMRANGEBYSCORE', key, ARGV[arg], ARGV[arg])
    redis.call('ZADD', key, ARGV[arg], ARGV[arg + 1])
    arg = arg + 2
  end
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('(%.17g', tonumber(newest) - retention_s))
  redis.call('PEXPIRE', key, track_ttl_ms)
  redis.call('ZADD', KEYS[5], newest, member)
  track_key = track_key + 1
end
for _ = 1, n_stations do
  redis.call('HSET', KEYS[4], ARGV[arg], ARGV[arg + 1])
  arg = arg + 2
end
return first
"""

FORGET_EXPIRED_SCRIPT: Final = """
for i, member in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[2 + i]) == 0 then
    redis.call('ZREM', KEYS[1], member)
    redis.call('SREM', KEYS[2], member)
  end
end
return 0
"""
"""Drop index members whose object expired (KEYS: geo, polar, then each member's object key; ARGV:
the members). Re-checked inside the script so that an object written meanwhile keeps its entry."""

_KIND_INDEX: Final = {kind: str(index).encode() for index, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    retained_changes: int
    object_ttl_s: float | None
    track_retention_s: float
    dedupe_ttl_s: float


def apply_call(
    keys: RedisKeys,
    changes: Sequence[PendingChange],
    tracks: dict[int, list[TrackPoint]],
    stations: Sequence[BaseStation],
    options: ApplyOptions,
) -> tuple[list[str], list[bytes]]:
    """The KEYS and ARGV of the apply script for an already coalesced batch (layout above)."""
    payload: list[bytes] = []
    object_keys: list[str] = []
    for change in changes:
        obj, key = change.obj, key_of(change.obj)
        obj_bytes = encode_object(obj)
        object_keys.append(keys.obj(change.kind, key))
        if change.action is Action.REMOVE:
            payload += [_KIND_INDEX[change.kind], b"r", key.encode(), b"", b"", b""]
        elif is_polar(obj.lat):
            payload += [_KIND_INDEX[change.kind], b"s", key.encode(), b"", b"", obj_bytes]
        else:
            lon, lat = _num(geo_lon(obj.lon)), _num(obj.lat)
            payload += [_KIND_INDEX[change.kind], b"s", key.encode(), lon, lat, obj_bytes]
        payload.append(encode_change(change, obj_bytes))
    for addr, points in tracks.items():
        payload += [str(addr).encode(), str(len(points)).encode()]
        for point in points:
            payload += [_num(point.timestamp), encode_point(point)]
    for station in stations:
        payload += [station.station_id.encode(), encode_base_station(station)]

    digest = hashlib.blake2b(digest_size=16)
    for arg in payload:
        digest.update(len(arg).to_bytes(4, "little"))
        digest.update(arg)
    header = [
        len(changes),
        len(tracks),
        len(stations),
        options.retained_changes,
        0 if options.object_ttl_s is None else _ms(options.object_ttl_s),
        options.track_retention_s,
        _ms(options.track_retention_s),
        _ms(options.dedupe_ttl_s),
    ]
    script_keys = [
        keys.seq,
        keys.changes,
        keys.applied(digest.hexdigest()),
        keys.stations,
        keys.tracks,
        *(keys.geo[kind] for kind in KINDS),
        *(keys.polar[kind] for kind in KINDS),
        *object_keys,
        *(keys.track(addr) for addr in tracks),
    ]
    return script_keys, [_num(value) for value in header] + payload


def _num(value: float) -> bytes:
    """A number as Redis parses it back to the same double (``repr`` round-trips exactly)."""
    return repr(value).encode()


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
