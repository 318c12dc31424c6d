"""The event loop's lag (``fanet_event_loop_lag_seconds``), on Trio's real clock."""

import time

import trio

from fanet.server.metrics import ServerMetrics, watch_loop_lag


async def test_a_step_that_holds_the_loop_shows_as_lag_and_an_idle_loop_as_none() -> None:
    lags: list[float] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_loop_lag, lags.append, 0.02)
        await trio.sleep(0.2)
        idle = list(lags)
        time.sleep(0.15)  # a step that holds the loop
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert len(idle) >= 3
    assert min(idle) < 0.02
    assert max(lags[len(idle) :]) >= 0.1


async def test_the_histogram_is_exposed() -> None:
    metrics = ServerMetrics()
    with trio.move_on_after(0.35):
        await watch_loop_lag(metrics.loop_lag_seconds.observe, 0.1)
    text = metrics.exposition().decode()
    count = next(line for line in text.splitlines() if line.startswith("fanet_event_loop_lag_seconds_count"))
    assert float(count.split()[1]) >= 2
