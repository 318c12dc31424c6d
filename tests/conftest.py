"""Shared fixtures: test data and real service processes (the logic lives in ``services.py``).

``redis_server`` and ``mosquitto_broker`` are one instance each for the whole session: use unique keys and topics,
and never stop them. A test that restarts, kills or reconfigures a server takes its own from
``redis_factory`` / ``mosquitto_factory``; those are stopped when the test ends.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from services import (
    MosquittoBroker,
    MosquittoFactory,
    RedisFactory,
    RedisServer,
    start_mosquitto,
    start_redis,
)

_SERVICE_FIXTURES = {"redis_server", "mosquitto_broker", "redis_factory", "mosquitto_factory"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever uses a real server is an integration test, so `-m "not integration"` leaves the fast tier.
    for item in items:
        if _SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``tests/data``: the recorded inputs tests read (never the shared design folder)."""
    return Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with start_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def mosquitto_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with start_mosquitto(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[RedisFactory]:
    with RedisFactory(tmp_path) as factory:
        yield factory


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    with MosquittoFactory(tmp_path) as factory:
        yield factory
