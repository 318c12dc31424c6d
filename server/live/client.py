"""A live-updates client over trio-websocket: ``fanet watch`` and the load generator build on it.

:func:`open_updates` connects to ``/ws/v1/updates`` and yields an :class:`UpdateStream` that decodes the
server's frames, answers its Pings, and keeps the position to resume from (``last_sequence``): the
highest sequence received, starting from the Welcome's.
"""

import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from google.protobuf.message import Message
from trio_websocket import WebSocketConnection, open_websocket_url

from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import apply_motion, to_dict, to_json
from fanet.server.live.listener import PATH

ServerFrame = pb.ServerMessage | dict[str, Any]
"""A decoded server frame: the message (protobuf), or its JSON mirror as a dict (``format=json``)."""


def updates_url(
    base: str,
    lat: float,
    lon: float,
    radius_km: float,
    *,
    as_json: bool = False,
    last_sequence: int = 0,
    token: str | None = None,
    compact: bool = False,
) -> str:
    """The endpoint URL: ``base`` is ``ws://host:port`` (the path is added) or the endpoint itself."""
    url = urllib.parse.urlsplit(base)
    query: dict[str, str | float | int] = {"lat": lat, "lon": lon, "radius": radius_km}
    if as_json:
        query["format"] = "json"
    if compact:
        query["compact"] = "true"
    if last_sequence:
        query["last_sequence"] = last_sequence
    if token:
        query["token"] = token
    path = url.path if url.path not in ("", "/") else PATH
    return urllib.parse.urlunsplit((url.scheme, url.netloc, path, urllib.parse.urlencode(query), ""))


class UpdateStream:
    """Frames from the server, decoded; Pings answered on the way. Compact updates (``PilotMotion``) are
    applied to the pilots received before them, so that every decoded update holds its whole object."""

    def __init__(self, ws: WebSocketConnection, *, as_json: bool, compact: bool = False) -> None:
        self.ws = ws
        self.as_json = as_json
        self.compact = compact
        self.position = 0
        """The sequence to resume from: the highest one received (the Welcome's to begin with)."""
        self.pilots: dict[int, pb.Pilot] = {}
        """The pilots the client has, as a compact update needs them (kept when ``compact``). A stream
        that resumes in a new process has none: a pilot it does not know holds what the motion says."""

    async def receive(self) -> ServerFrame:
        """The next frame; ``trio_websocket.ConnectionClosed`` (with the code) when the server closes."""
        return (await self.receive_raw())[1]

    async def receive_raw(self) -> tuple[bytes | str, ServerFrame]:
        """The next frame as received, and decoded."""
        raw = await self.ws.get_message()
        frame = self.decode(raw)
        if _which(frame) == "ping":
            await self.send(pb.ClientMessage(pong=pb.Pong(timestamp=int(_field(frame, "ping", "timestamp")))))
        self._advance(frame)
        return raw, frame

    def decode(self, raw: bytes | str) -> ServerFrame:
        if isinstance(raw, str):
            decoded: dict[str, Any] = json.loads(raw)
            return decoded
        frame = pb.ServerMessage.FromString(raw)
        if self.compact:
            self._keep_pilots(frame)
        return frame

    def _keep_pilots(self, frame: pb.ServerMessage) -> None:
        which = frame.WhichOneof("message")
        if which == "batch":
            for update in frame.batch.updates:
                self._expand(update, frame.batch.timestamp)
        elif which == "error" and frame.error.code == "resume_unavailable":
            self.pilots.clear()  # a fresh snapshot follows

    def _expand(self, update: pb.Update, timestamp_s: int) -> None:
        if update.type != pb.UPDATE_TYPE_PILOT:
            return
        if update.HasField("motion"):
            addr = update.motion.addr
            known = self.pilots.get(addr) or pb.Pilot(addr=addr)
            moved = self.pilots[addr] = apply_motion(known, update.motion, timestamp_s)
            update.data = moved.SerializeToString()
            update.ClearField("motion")
        elif update.action == pb.ACTION_REMOVE:
            self.pilots.pop(pb.Pilot.FromString(update.data).addr, None)
        else:
            pilot = pb.Pilot.FromString(update.data)
            self.pilots[pilot.addr] = pilot

    async def send(self, message: pb.ClientMessage) -> None:
        if self.as_json:
            await self.ws.send_message(to_json(message))
        else:
            await self.ws.send_message(message.SerializeToString())

    async def subscribe(self, lat: float, lon: float, radius_km: int, last_sequence: int = 0) -> None:
        center = pb.GeoPoint(latitude=lat, longitude=lon)
        request = pb.SubscribeRequest(center=center, radius=radius_km, last_sequence=last_sequence)
        await self.send(pb.ClientMessage(subscribe=request))

    async def ping(self) -> None:
        await self.send(pb.ClientMessage(ping=pb.Ping(timestamp=round(time.time() * 1000))))

    def _advance(self, frame: ServerFrame) -> None:
        which = _which(frame)
        if which == "welcome":
            self.position = max(self.position, int(_field(frame, "welcome", "sequence")))
        elif which == "batch":
            for update in updates_of(frame):
                self.position = max(self.position, int(_get(update, "sequence")))


def updates_of(frame: ServerFrame) -> list[Any]:
    """The updates of a batch frame (``pb.Update`` or dicts), ``[]`` for any other frame."""
    if isinstance(frame, dict):
        return list(frame.get("batch", {}).get("updates", []))
    return list(frame.batch.updates) if frame.WhichOneof("message") == "batch" else []


def update_object(update: Any) -> dict[str, Any]:
    """An update's object as the JSON mirror's dict, from either format."""
    if isinstance(update, dict):
        data: dict[str, Any] = update["data"]
        return data
    message: Message = _MESSAGE_TYPES[update.type]()
    message.ParseFromString(update.data)
    return to_dict(message)


_MESSAGE_TYPES: dict[int, type[Message]] = {
    pb.UPDATE_TYPE_PILOT: pb.Pilot,
    pb.UPDATE_TYPE_GROUND_OBJECT: pb.GroundObject,
    pb.UPDATE_TYPE_THERMAL: pb.Thermal,
    pb.UPDATE_TYPE_STATION: pb.Station,
}


@asynccontextmanager
async def open_updates(
    url: str,
    lat: float,
    lon: float,
    radius_km: float,
    *,
    as_json: bool = False,
    last_sequence: int = 0,
    token: str | None = None,
    compact: bool = False,
) -> AsyncIterator[UpdateStream]:
    """Connect to the live updates of a region (closing the connection when the block ends)."""
    target = updates_url(
        url, lat, lon, radius_km, as_json=as_json, last_sequence=last_sequence, token=token, compact=compact
    )
    async with open_websocket_url(target) as ws:
        stream = UpdateStream(ws, as_json=as_json, compact=compact)
        stream.position = last_sequence
        yield stream


def _which(frame: ServerFrame) -> str | None:
    if isinstance(frame, dict):
        return next(iter(frame), None)
    return frame.WhichOneof("message")


def _field(frame: ServerFrame, which: str, name: str) -> Any:
    return _get(frame[which] if isinstance(frame, dict) else getattr(frame, which), name)


def _get(message: Any, name: str) -> Any:
    return message[name] if isinstance(message, dict) else getattr(message, name)
