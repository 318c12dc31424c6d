"""List responses (snapshot, pilots, thermals …) assembled from per-object encodings, each made once.

Building protobuf messages in Python is the cost of a large response, and the JSON mirror through
``json_format`` costs far more (measured here: 5,000 pilots took 26 ms to build as messages and 200 ms
to print as JSON). An object that did not change encodes the same, so :class:`ObjectEncodings` keeps
each object's encoding — the bytes of its message and its JSON text, made by
:mod:`fanet.server.api.messages` as everywhere else — keyed by the object's value (the records are
frozen, hashable and compared field by field), and a response is the concatenation of the encodings
with the field tags in front: byte for byte what ``SerializeToString`` gives for the whole message,
and JSON that parses to what ``messages.to_dict`` gives (tests check both).
"""

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fanet.server.api.messages import object_message, to_json
from fanet.server.api.wire import varint
from fanet.server.model import Kind, LiveObject, kind_of


@dataclass(frozen=True, slots=True)
class ListLayout:
    """Where each kind's objects go in a response message: field number and JSON name by kind, in
    field order, and the field number of ``sequence`` (0 when the message has none)."""

    fields: Mapping[Kind, tuple[int, str]]
    sequence_field: int = 0


SNAPSHOT = ListLayout(
    {
        Kind.PILOT: (1, "pilots"),
        Kind.GROUND: (2, "ground_objects"),
        Kind.THERMAL: (3, "thermals"),
        Kind.STATION: (4, "stations"),
    },
    sequence_field=5,
)
"""``SnapshotResponse``."""

LIST_OF: Mapping[Kind, ListLayout] = {
    Kind.PILOT: ListLayout({Kind.PILOT: (1, "pilots")}),
    Kind.GROUND: ListLayout({Kind.GROUND: (1, "ground_objects")}),
    Kind.THERMAL: ListLayout({Kind.THERMAL: (1, "thermals")}),
    Kind.STATION: ListLayout({Kind.STATION: (1, "stations")}),
}
"""``PilotsResponse``, ``GroundObjectsResponse``, ``ThermalsResponse``, ``StationsResponse``."""


class ObjectEncodings:
    """Encodings of recent objects by value, at most ``capacity`` per format (the oldest go first).

    One task uses it at a time (the server's event loop); nothing here awaits.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._wire: dict[LiveObject, bytes] = {}
        self._text: dict[LiveObject, str] = {}

    def wire(self, obj: LiveObject) -> bytes:
        found = self._wire.get(obj)
        if found is None:
            found = object_message(obj).SerializeToString()
            self._remember(self._wire, obj, found)
        return found

    def text(self, obj: LiveObject) -> str:
        found = self._text.get(obj)
        if found is None:
            found = to_json(object_message(obj))
            self._remember(self._text, obj, found)
        return found

    def _remember(self, cache: dict[LiveObject, Any], obj: LiveObject, value: object) -> None:
        if len(cache) >= self.capacity:
            del cache[next(iter(cache))]
        with contextlib.suppress(TypeError):  # an unhashable field value (the model never builds one)
            cache[obj] = value

    def protobuf(self, layout: ListLayout, objects: Iterable[LiveObject], sequence: int = 0) -> bytes:
        """The response message's bytes (fields in number order, as ``SerializeToString`` writes them)."""
        by_kind = _group(layout, objects)
        parts: list[bytes] = []
        wire = self.wire
        for kind, (number, _) in layout.fields.items():
            tag = bytes((number << 3 | 2,))
            for obj in by_kind[kind]:
                encoded = wire(obj)
                parts += (tag, varint(len(encoded)), encoded)
        if layout.sequence_field and sequence:
            parts += (bytes((layout.sequence_field << 3,)), varint(sequence))
        return b"".join(parts)

    def json(self, layout: ListLayout, objects: Iterable[LiveObject], sequence: int = 0) -> str:
        """The response's JSON mirror (every field printed, 64-bit integers as strings)."""
        by_kind = _group(layout, objects)
        text = self.text
        members = [
            f'"{name}":[{",".join([text(obj) for obj in by_kind[kind]])}]'
            for kind, (_, name) in layout.fields.items()
        ]
        if layout.sequence_field:
            members.append(f'"sequence":{json.dumps(str(sequence))}')
        return "{" + ",".join(members) + "}"


def _group(layout: ListLayout, objects: Iterable[LiveObject]) -> dict[Kind, list[LiveObject]]:
    by_kind: dict[Kind, list[LiveObject]] = {kind: [] for kind in layout.fields}
    for obj in objects:
        by_kind[kind_of(obj)].append(obj)
    return by_kind
