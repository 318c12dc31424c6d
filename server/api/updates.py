"""Live updates on the wire: each update encoded once, however many clients receive it.

Building protobuf messages in Python is what costs (serialising is cheap), so a change is turned into
bytes once: :class:`UpdateCodec` keeps the encoded object (``Update.data``) per (kind, key, sequence),
and every :class:`PendingUpdate` — one change as one action, shared by all the clients owed it —
memoises its framed ``Update``. A batch is then the concatenation of those frames with the envelope's
tag and length in front (:meth:`UpdateCodec.batch`): no message objects per client, and nothing for the
cyclic garbage collector (bytes and str are not tracked).

A client that asked for compact updates gets a ``moving`` update (a pilot's UPDATE that changed
nothing but its motion, as the hub decides) as a ``PilotMotion`` instead (:meth:`UpdateCodec.motion_wire`),
memoised too, per batch timestamp, since the pilot's time goes as an age relative to it.

The JSON mirror is built the same way from memoised fragments. Its ``Update.data`` is the object as JSON
(``{"addr": 1117072, ...}``), not base64 of the protobuf bytes, so that a client without protobuf can
read it; everything else is what ``json_format`` prints for the message.
"""

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import UPDATE_TYPES, identity_message, object_message, pilot_motion, to_dict
from fanet.server.api.wire import varint
from fanet.server.model import Action, Kind, LiveObject, Pilot

MAX_BATCH_UPDATES = 100
"""The contract's bound on the updates in one ``UpdateBatch``."""

_Slot = tuple[Kind, str, int]
_T = TypeVar("_T")
_ACTION_NAMES = {action: pb.Action.Name(action.value) for action in Action}  # type: ignore[arg-type]
_TYPE_NAMES = {kind: pb.UpdateType.Name(value) for kind, value in UPDATE_TYPES.items()}
_BATCH_UPDATE_TAG = b"\x0a"  # UpdateBatch.updates: field 1, length-delimited
_BATCH_TIMESTAMP_TAG = b"\x10"  # UpdateBatch.timestamp: field 2, varint
_SERVER_BATCH_TAG = b"\x12"  # ServerMessage.batch: field 2, length-delimited
_SINT32_MIN, _SINT32_MAX = -(2**31), 2**31 - 1


@dataclass(eq=False, slots=True)
class PendingUpdate:
    """One change as one action (the client-relative ADD/UPDATE/REMOVE), shared by every client owed it.

    ``obj`` is the object's state after the change; ``None`` when only its identity is known (a
    ``REMOVE`` for an object whose last state is gone). Compared by identity: two clients owed the same
    change with the same action hold the same instance, and its encodings are made once.
    """

    kind: Kind
    key: str
    action: Action
    sequence: int
    obj: LiveObject | None
    urgent: bool = False
    owed_at: float = 0.0
    """When the hub owed it to its clients (unix seconds): where ``fanet_ws_update_wait_seconds`` starts."""
    moving: bool = False
    """A pilot's UPDATE that changed nothing but its motion for every client owed it: a client that asked
    for compact updates gets a ``PilotMotion`` instead of the whole pilot (see :meth:`UpdateCodec.batch`)."""
    wire: bytes | None = None
    """The ``UpdateBatch.updates`` field (tag, length, ``Update``), once encoded."""
    text: str | None = None
    """The ``Update``'s JSON mirror, once encoded."""
    motion: tuple[int, bytes] | None = None
    """The compact ``UpdateBatch.updates`` field and the batch timestamp it was encoded for (the pilot's
    time is an age relative to it)."""


class UpdateCodec:
    """Encodes updates and batches, caching the encoded object data of recent changes.

    The cache keeps ``capacity`` entries per format and forgets the oldest first: a change is wanted by
    its clients within a batching interval, or by a client resuming soon after.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[_Slot, bytes] = OrderedDict()
        self._json: OrderedDict[_Slot, str] = OrderedDict()
        self._stamp: tuple[int, bytes] = (0, b"")
        """The last batch timestamp and its encoding (every batch of a second has the same)."""

    def data(self, update: PendingUpdate) -> bytes:
        """``Update.data``: the encoded object (cached per kind, key and sequence)."""
        slot = (update.kind, update.key, update.sequence)
        found = self._data.get(slot)
        if found is None:
            found = self._message(update).SerializeToString()
            self._remember(self._data, slot, found)
        return found

    def data_json(self, update: PendingUpdate) -> str:
        """The object as JSON text (cached per kind, key and sequence)."""
        slot = (update.kind, update.key, update.sequence)
        found = self._json.get(slot)
        if found is None:
            found = _dumps(to_dict(self._message(update)))
            self._remember(self._json, slot, found)
        return found

    def wire(self, update: PendingUpdate) -> bytes:
        if update.wire is None:
            encoded = pb.Update(
                type=UPDATE_TYPES[update.kind],
                action=update.action.value,  # type: ignore[arg-type]
                data=self.data(update),
                sequence=update.sequence,
            ).SerializeToString()
            update.wire = _BATCH_UPDATE_TAG + varint(len(encoded)) + encoded
        return update.wire

    def motion_wire(self, update: PendingUpdate, timestamp_s: int) -> bytes:
        """The compact form of a ``moving`` update, for a batch stamped ``timestamp_s``; the whole
        update when the pilot's time is too far from the batch's for an age (a clock gone wrong)."""
        found = update.motion
        if found is None or found[0] != timestamp_s:
            pilot = update.obj
            assert isinstance(pilot, Pilot), "only a pilot's update is moving"
            if not _SINT32_MIN <= timestamp_s - int(pilot.last_update) <= _SINT32_MAX:
                return update.wire or self.wire(update)
            encoded = pb.Update(
                action=pb.ACTION_UPDATE, motion=pilot_motion(pilot, timestamp_s), sequence=update.sequence
            ).SerializeToString()
            found = update.motion = (timestamp_s, _BATCH_UPDATE_TAG + varint(len(encoded)) + encoded)
        return found[1]

    def text(self, update: PendingUpdate) -> str:
        if update.text is None:
            update.text = (
                f'{{"type":"{_TYPE_NAMES[update.kind]}","action":"{_ACTION_NAMES[update.action]}",'
                f'"data":{self.data_json(update)},"sequence":"{update.sequence}"}}'
            )
        return update.text

    def batch(
        self, updates: list[PendingUpdate], timestamp_s: int, *, as_json: bool, compact: bool = False
    ) -> bytes | str:
        """One ``ServerMessage`` holding an ``UpdateBatch`` of these updates (at most 100), as a frame;
        ``compact`` (protobuf only): ``moving`` updates as their ``PilotMotion``."""
        if len(updates) > MAX_BATCH_UPDATES:
            raise ValueError(f"a batch holds at most {MAX_BATCH_UPDATES} updates, not {len(updates)}")
        if as_json:
            body = ",".join([self.text(update) for update in updates])
            return f'{{"batch":{{"updates":[{body}],"timestamp":"{timestamp_s}"}}}}'
        if compact:
            parts = [
                self.motion_wire(update, timestamp_s) if update.moving else update.wire or self.wire(update)
                for update in updates
            ]
        else:
            parts = [update.wire or self.wire(update) for update in updates]
        if timestamp_s:
            if self._stamp[0] != timestamp_s:
                self._stamp = (timestamp_s, _BATCH_TIMESTAMP_TAG + varint(timestamp_s))
            parts.append(self._stamp[1])
        body_bytes = b"".join(parts)
        return _SERVER_BATCH_TAG + varint(len(body_bytes)) + body_bytes

    def _remember(self, cache: OrderedDict[_Slot, _T], slot: _Slot, value: _T) -> None:
        # Not a dict: deleting its first key leaves a dummy at the front that ``next(iter(...))`` walks
        # past every time, so forgetting the oldest of a full dict grows slower the longer it runs.
        if len(cache) >= self.capacity:
            cache.popitem(last=False)
        cache[slot] = value

    @staticmethod
    def _message(update: PendingUpdate) -> pb.Pilot | pb.GroundObject | pb.Thermal | pb.Station:
        return identity_message(update.kind, update.key) if update.obj is None else object_message(update.obj)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
