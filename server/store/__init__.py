"""Where the live world is kept: the store interface and its implementations."""

from fanet.server.store.base import Area, Bounds, Circle, Store, StoreUnavailable, distance_km

__all__ = ["Area", "Bounds", "Circle", "Store", "StoreUnavailable", "distance_km"]
