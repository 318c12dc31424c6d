"""How long updates wait in the server's outboxes before their batch goes out: a histogram kept as plain
counts (one ``bisect`` per batch), turned into ``fanet_ws_update_wait_seconds`` when Prometheus scrapes.

The wait runs from the moment the hub owes a client an update to the moment the client's batch is handed
to its socket, for the oldest update of each batch. With a batch interval it includes the interval (the
wait is the point); with interval 0 it is what the server adds between the change stream and the
socket. Together with ``fanet_ingest_to_store_seconds`` (arrival to store) it is the server's share of
the delay a client sees.
"""

from bisect import bisect_left

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Waits:
    """Counts by bucket (the last one: above every bound), their sum, and how many."""

    __slots__ = ("counts", "total_s")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_S) + 1)
        self.total_s = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS_S, seconds)] += 1
        self.total_s += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' buckets: (upper bound, observations at or below it), ``+Inf`` last."""
        running, buckets = 0, []
        for bound, count in zip((*map(str, BUCKETS_S), "+Inf"), self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets
