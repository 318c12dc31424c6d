"""Where the live world is kept: the store interface and its implementations.

``MemoryStore`` keeps everything in this process (the single-machine default); ``RedisStore`` keeps it in
Redis, shared by every server replica. Both honour the one contract of :class:`Store`.
"""

from fanet.server.store.base import (
    Area,
    Bounds,
    Circle,
    InvalidBatch,
    Store,
    StoreCounts,
    StoreUnavailable,
    distance_km,
)
from fanet.server.store.memory import MemoryStore
from fanet.server.store.redis import RedisStore

__all__ = [
    "Area",
    "Bounds",
    "Circle",
    "InvalidBatch",
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreCounts",
    "StoreUnavailable",
    "distance_km",
]
