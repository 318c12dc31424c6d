"""The outbox-wait histogram: counts by bucket, as Prometheus reads them."""

from fanet.server.live.waits import BUCKETS_S, Waits


def test_waits_fall_in_their_buckets_and_add_up() -> None:
    waits = Waits()
    for seconds in (0.0005, 0.001, 0.003, 0.7, 42.0):
        waits.observe(seconds)
    buckets = dict(waits.cumulative())
    assert buckets["0.001"] == 2  # a bound holds what equals it
    assert buckets["0.005"] == 3
    assert buckets["0.5"] == 3
    assert buckets["1.0"] == 4
    assert buckets[str(BUCKETS_S[-1])] == 4
    assert buckets["+Inf"] == 5
    assert waits.total_s == 0.0005 + 0.001 + 0.003 + 0.7 + 42.0
    assert [bound for bound, _ in waits.cumulative()][-1] == "+Inf"
