"""paho's client as our protocol engine, with its per-packet costs taken out of the hot paths.

paho-mqtt 2.x reads a packet in three ``recv`` calls (type, length, body), builds an ``MQTTMessage``
with a ``threading.Condition`` and an MQTT v5 ``Properties`` object (whose constructor alone fills two
tables) for every PUBLISH, and writes every packet, each 4-byte PUBACK included, with a ``send`` of its
own. Measured with ``bench/ingest.py`` that was half of the server's CPU per frame. ``PahoClient``
overrides seven private methods of paho and leaves the protocol logic to paho (written against paho
2.1.0 and 2.2.0; ``tests/gateway`` exercises each path and passed with both):

- ``_sock_recv`` reads the socket in chunks of ``READ_CHUNK`` bytes and serves paho's small reads from
  that buffer; ``buffered`` tells the reader task not to wait for the socket while bytes are left.
- ``_packet_read`` cuts a packet that is complete in that buffer out in one step (paho's own path,
  three reads through ``_sock_recv``, takes the rest: a packet split over reads, an empty buffer).
- ``_handle_publish`` decodes a QoS 0/1 PUBLISH itself and hands it to ``on_publish_received``: no
  ``MQTTMessage``, and no ``Properties`` unless the packet carries properties (a plain publish has none).
- ``_handle_pubackcomp`` settles a plain PUBACK (success, no properties) without decoding objects.
- ``_packet_write`` sends runs of queued packets as one buffer (one syscall for a burst of PUBACKs or
  of publishes); packets whose completion paho reports (QoS-0 PUBLISH, DISCONNECT) still go alone.
- ``_create_socket`` opens TCP and TLS so that a failed connect leaves no socket behind.

``ack_many`` queues the PUBACKs of many messages as one packet buffer. The fast paths write none of
paho's per-packet debug lines (``Received PUBLISH``, ``Received PUBACK``, ``Sending PUBACK``).
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Callable, Iterable
from typing import Literal

import paho.mqtt.client as paho_mqtt
from paho.mqtt import MQTTException
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_time_func = paho_mqtt.time_func  # paho's clock for the keepalive check

READ_CHUNK = 65536
"""Bytes asked of the socket per ``recv``: a few hundred frames' PUBLISH packets."""
WRITE_CHUNK = 65536
"""Most bytes merged into one ``send``."""

_PUBLISH = 0x30
_PUBACK = 0x40
_DISCONNECT = 0xE0
_U16 = struct.Struct("!H")
_PUBACK_PACKET = struct.Struct("!BBH")
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK)  # shared: handed to on_publish, never changed
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]
_DECODE_ERRORS = (struct.error, IndexError, KeyError, ValueError, MQTTException)  # as paho's decoders

OnPublishReceived = Callable[[str, bytes, int, bool, int, bool, "Properties | None"], None]
"""``(topic, payload, qos, retain, mid, duplicate, properties)``; ``properties`` is None when empty."""


class PahoClient(paho_mqtt.Client):
    """paho's MQTT v5 client with buffered reads, direct PUBLISH delivery and merged writes (see above)."""

    def __init__(self, client_id: str, *, manual_ack: bool) -> None:
        super().__init__(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
        )
        self.tls_context: ssl.SSLContext | None = None
        self.on_publish_received: OnPublishReceived | None = None
        """Called for each QoS 0/1 PUBLISH instead of ``on_message`` (paho's callback for anything else)."""
        self._read_buffer = b""
        self._read_pos = 0
        # When a byte last arrived, for the keepalive check: paho 2.2's name, or 2.1's.
        self._received_clock = (
            "_last_bytes_received" if hasattr(self, "_last_bytes_received") else "_last_msg_in"
        )

    @property
    def buffered(self) -> bool:
        """Bytes read from the socket that paho has not consumed yet: read on without waiting."""
        return self._read_pos < len(self._read_buffer)

    def ack_many(self, mids: Iterable[int]) -> None:
        """Queue the PUBACKs of ``mids`` (QoS-1 messages received with ``manual_ack``) as one buffer."""
        pack = _PUBACK_PACKET.pack
        data = b"".join([pack(_PUBACK, 2, mid) for mid in mids])
        if data:
            self._packet_queue(_PUBACK, data, 0, 0)

    # --- paho overrides ----------------------------------------------------------------------------------

    def _packet_read(self) -> MQTTErrorCode:
        # A packet that is complete in the buffer is cut out at once; anything else (a packet split
        # over reads, an empty buffer, a bad length) takes paho's path, which reads through _sock_recv.
        buffer, start = self._read_buffer, self._read_pos
        if self._in_packet["command"] or start >= len(buffer):
            return super()._packet_read()
        length, shift, pos, size = 0, 0, start + 1, len(buffer)
        while True:
            if pos >= size or shift > 21:
                return super()._packet_read()
            byte = buffer[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        end = pos + length
        if end > size:
            return super()._packet_read()
        self._read_pos = end
        self._in_packet = _in_packet(buffer[start], length, bytearray(buffer[pos:end]))
        try:
            rc = self._packet_handle()
        except MQTTException as error:  # paho 2.2's MalformedPacket: as in paho's own _packet_read
            self._easy_log(paho_mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", error)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = _in_packet(0, 0, bytearray())
        with self._msgtime_mutex:
            setattr(self, self._received_clock, _time_func())
        return rc

    def _sock_recv(self, bufsize: int) -> bytes:
        buffer, pos = self._read_buffer, self._read_pos
        if pos >= len(buffer):
            buffer = super()._sock_recv(READ_CHUNK)  # BlockingIOError when nothing came; b"" at EOF
            if len(buffer) <= bufsize:
                self._read_buffer, self._read_pos = b"", 0
                return buffer
            pos = 0
            self._read_buffer = buffer
        end = pos + bufsize
        self._read_pos = end
        return buffer[pos:end]

    def _handle_publish(self) -> MQTTErrorCode:
        in_packet = self._in_packet
        header = in_packet["command"]
        qos = (header & 0x06) >> 1
        deliver = self.on_publish_received
        if deliver is None or qos > 1 or self._protocol != MQTTProtocolVersion.MQTTv5:
            return super()._handle_publish()
        packet = in_packet["packet"]
        try:
            (topic_length,) = _U16.unpack_from(packet, 0)
            pos = 2 + topic_length
            topic = packet[2:pos]
            mid = 0
            if qos:
                (mid,) = _U16.unpack_from(packet, pos)
                pos += 2
            if packet[pos] == 0:  # property length 0: the usual case
                properties = None
                pos += 1
            else:
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                _, length = properties.unpack(packet[pos:])  # type: ignore[no-untyped-call]
                pos += length
        except _DECODE_ERRORS as error:  # paho then ends the connection
            self._easy_log(paho_mqtt.MQTT_LOG_ERR, "malformed PUBLISH: %s", error)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        deliver(
            topic.decode("utf-8", "replace"),
            bytes(packet[pos:]),
            qos,
            bool(header & 0x01),
            mid,
            bool(header & 0x08),
            properties,
        )
        if qos and not self._manual_ack:
            return self._send_puback(mid)
        return _SUCCESS

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or len(packet) != 2:  # a PUBACK with a reason code or properties: paho's path
            return super()._handle_pubackcomp(cmd)
        (mid,) = _U16.unpack(packet)  # a bare PUBACK means success
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_SUCCESS, _NO_PROPERTIES)
        return _SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        out = self._out_packet
        if len(out) > 1 and _mergeable(out[0]) and _mergeable(out[1]):
            first = out.popleft()
            parts = [first["packet"][first["pos"] :]]
            size = len(parts[0])
            while out and size < WRITE_CHUNK and _mergeable(out[0]):
                packet = out.popleft()
                parts.append(packet["packet"])
                size += len(packet["packet"])
            data = b"".join(parts)
            merged: paho_mqtt._OutPacket = {
                "command": first["command"],
                "mid": 0,
                "qos": first["qos"],
                "pos": 0,
                "to_process": len(data),
                "packet": data,
                "info": None,
            }
            out.appendleft(merged)
        return super()._packet_write()

    def _create_socket(self) -> paho_mqtt.SocketLike:
        # paho 2.x drops the socket of a failed TLS handshake on the floor (referenced from the exception's
        # traceback, so only the cyclic garbage collector closes it); here every failure closes what it
        # opened. TCP and TLS only, no proxies or WebSockets.
        host, port, timeout_s = self.host, self.port, self.connect_timeout
        sock = socket.create_connection((host, port), timeout=timeout_s)
        if self.tls_context is None:
            return sock
        try:
            tls_sock = self.tls_context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        try:
            tls_sock.settimeout(timeout_s)
            tls_sock.do_handshake()  # verifies the certificate chain and the host name (check_hostname)
        except BaseException:
            tls_sock.close()
            raise
        return tls_sock


def _in_packet(command: int, length: int, body: bytearray) -> paho_mqtt._InPacket:
    """paho's record of the packet being read: complete (``command`` set) or none yet (``command`` 0)."""
    return {
        "command": command,
        "have_remaining": 1 if command else 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": length,
        "packet": body,
        "to_process": 0,
        "pos": 0,
    }


def _mergeable(packet: paho_mqtt._OutPacket) -> bool:
    """Packets whose completion paho acts on (QoS-0 PUBLISH: on_publish; DISCONNECT) are written alone."""
    command = packet["command"] & 0xF0
    return not ((command == _PUBLISH and packet["qos"] == 0) or command == _DISCONNECT)
