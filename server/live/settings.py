"""The live-update service's settings: one frozen record, built once by the server's settings.

Defaults follow the contract (ping every 30 s, close after 60 s without an answer, at most 10
resubscriptions a minute) and the issue (batches every second).
"""

from dataclasses import dataclass

from fanet import __version__


@dataclass(frozen=True, slots=True)
class LiveSettings:
    host: str = "0.0.0.0"  # a server listens on every interface unless told otherwise
    port: int = 8081
    """0 picks a free port (tests); :func:`~fanet.server.live.listener.serve_websockets` reports it."""
    batch_interval_s: float = 1.0
    """How often a client gets a batch; 0 sends every change as soon as the client can take it."""
    stagger_batches: bool = True
    """Spread the clients' batch times over the interval (each client its own phase, by a golden-ratio
    sequence of client numbers) rather than one grid for all. Measured with 10,000 clients: a common tick
    made a burst of ≈ 0.6 s of sends every second, during which the MQTT reader got no turn, the broker's
    window of unacknowledged messages filled and ingest fell behind for good."""
    ping_interval_s: float = 30.0
    pong_timeout_s: float = 60.0
    """Close a connection that sent nothing (no Pong, no message) for this long."""
    max_lag_s: float = 20.0
    """Close (1001, going away) a client whose send has not completed for this long: it does not read."""
    max_outbox: int = 50_000
    """Close (1001) a client owed more distinct objects than this (the outbox holds one entry per object,
    so only a region with that many objects and a client that cannot keep up reach it)."""
    max_message_bytes: int = 1024
    """Client messages above this get an error (a SubscribeRequest is ≈ 30 bytes)."""
    max_frame_bytes: int = 65_536
    """Frames above this close the connection at once (1009, trio-websocket's own limit)."""
    resubscriptions_per_minute: int = 10
    errors_per_minute: int = 5
    """That many error answers within a minute close the connection with 1008 (policy violation)."""
    max_control_messages: int = 64
    """Answers (Pong, Error, SubscribeResponse) waiting to be sent; a client that lets more pile up is
    closed with 1008."""
    sync_concurrency: int = 8
    """Clients whose snapshot or replay is read from the store at the same time."""
    max_recent_changes: int = 200_000
    """Changes kept for clients whose snapshot is being read; above it the oldest such client is closed
    (1001) and resumes."""
    handshake_timeout_s: float = 20.0
    """A connection that has not completed its WebSocket handshake by then is dropped (a TCP connection
    that says nothing must not hold a descriptor for good)."""
    close_grace_s: float = 2.0
    """How long shutdown waits for clients to answer the 1001 close frame."""
    follow_timeout_s: float = 5.0
    """How long one ``wait_for_changes`` call waits before the fan-out task calls again."""
    freeze_gc: bool = True
    """``gc.freeze()`` after start-up, so the collector never scans the start-up objects again."""
    server_version: str = __version__

    def __post_init__(self) -> None:
        if self.batch_interval_s < 0:
            raise ValueError(f"batch_interval_s must be 0 or more, not {self.batch_interval_s}")
        if self.pong_timeout_s <= self.ping_interval_s:
            raise ValueError(
                f"pong_timeout_s ({self.pong_timeout_s}) must exceed ping_interval_s ({self.ping_interval_s})"
            )
