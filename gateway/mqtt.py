"""The Trio MQTT client the gateway publishes frames with and the server ingests them with.

One ``MqttClient`` keeps one connection to one broker, reconnecting with backoff until it is cancelled::

    settings = MqttSettings.from_url("mqtts://gw:secret@broker.example", client_id="fanet-gw-0A0493",
                                     clean_start=False, session_expiry_s=3600)
    async with open_mqtt_client(settings) as client:
        await client.wait_connected()
        await client.publish("fb/b/0A0493/f", frame_bytes)          # returns after the PUBACK
        await client.subscribe([("fb/b/+/f", 1)])
        while True:
            batch = await client.receive_batch(100)                  # or: async for m in client.messages
            ...

Delivery guarantees, in one place:

- ``publish`` returns once the broker acknowledged the message (PUBACK for QoS 1; for QoS 0, once it is
  written to the socket). It raises ``MqttDisconnected`` when there is no connection or the connection
  dies first — nothing is queued or resent behind the caller's back, so a publisher that must not lose a
  message keeps it (the gateway's spool) until ``publish`` returns, and publishes it again otherwise. The
  broker may then see it twice. ``PublishFailed`` means the broker refused it (reason code attached).
- ``start_publish`` / ``publish_nowait`` return a ``PublishHandle`` at once, so a publisher can keep a
  window of messages in flight; the window is ``settings.max_in_flight``, lowered to the broker's
  Receive Maximum. ``start_publish`` waits for room, ``publish_nowait`` raises ``trio.WouldBlock``.
- Received messages go into ``client.messages``, a Trio channel of ``settings.message_buffer`` entries.
  When it is full the client stops reading the socket, so the backlog stays in the broker (and in
  the kernel's socket buffers), never in our memory; nothing is dropped by us. Beyond the channel the
  client holds at most the few messages paho parsed in one read (``held_messages``) and the unparsed
  rest of one socket read (≤ 64 KiB). Mosquitto, though, drops QoS-1 messages for a client once more
  than ``max_queued_messages`` (default 1000) wait for it: a broker that must hold a backlog needs that
  raised. ``receive_batch(n)`` takes up to ``n`` buffered messages in one scheduler trip; ``async for``
  over ``client.messages`` costs one trip per message.
- ``manual_ack=True``: QoS-1 messages are acknowledged only by ``client.ack(message)`` (or
  ``client.ack_many(messages)``, whose PUBACKs go out in one write), after their effect is stored. With
  a persistent session (``clean_start=False``, ``session_expiry_s > 0``) an unacknowledged message is
  redelivered after a reconnect; ``ack`` of a message from an earlier connection is ignored
  (returns False) because that redelivery is coming. The broker sends at most ``receive_maximum``
  unacknowledged messages (if it is None, mosquitto uses its ``max_inflight_messages``, 20 by default),
  so a consumer must not wait for more than that many before acknowledging. Without manual
  acks, paho acknowledges each message as it is read, so messages still in the channel when the process
  stops are lost.
- Subscriptions are remembered and issued again after each reconnect unless the broker resumed the
  session (CONNACK "session present"). ``connected`` turns True only after that re-subscription.

Cancellation (leaving ``open_mqtt_client`` or cancelling ``run``): the connection tasks stop; whatever paho
has queued (publishes, acks) is written followed by a DISCONNECT — so the broker does not publish the last
will — within ``CLOSE_TIMEOUT_S`` and shielded; then the socket is closed. Publishes still awaiting their
PUBACK fail with ``MqttDisconnected`` (the broker may or may not have them), and ``client.messages`` is
closed, so ``async for`` over it ends (staged messages not yet in it are dropped: with manual acks the
broker redelivers them). A blocking connect in a worker thread is abandoned, and its socket closed when
the thread returns. Leaving the block therefore takes at most ``CLOSE_TIMEOUT_S``.

A consumer that leaves the channel full for longer than the keepalive makes paho declare the connection
dead (its PINGRESP waits unread behind the backlog); the client reconnects, and the broker redelivers what
was not acknowledged.

Logs go to the ``fanet.mqtt`` logger: one line per connect, disconnect (with the reason) or failed
attempt, never one per message (paho's per-packet lines go to ``paho.mqtt.client`` if that logger is
enabled for DEBUG when a connection opens, which ``--verbose`` does not do). Counters are plain
attributes of ``client.stats`` (``MqttStats``).
"""

from fanet.gateway._mqtt_client import MqttClient, open_mqtt_client
from fanet.gateway._mqtt_connection import CLOSE_TIMEOUT_S
from fanet.gateway._mqtt_settings import Backoff, BrokerAddress, LastWill, MqttSettings, parse_broker_url
from fanet.gateway._mqtt_types import (
    MqttDisconnected,
    MqttError,
    MqttMessage,
    MqttStats,
    PublishFailed,
    PublishHandle,
    SubscribeFailed,
)

__all__ = [
    "CLOSE_TIMEOUT_S",
    "Backoff",
    "BrokerAddress",
    "LastWill",
    "MqttClient",
    "MqttDisconnected",
    "MqttError",
    "MqttMessage",
    "MqttSettings",
    "MqttStats",
    "PublishFailed",
    "PublishHandle",
    "SubscribeFailed",
    "open_mqtt_client",
    "parse_broker_url",
]
