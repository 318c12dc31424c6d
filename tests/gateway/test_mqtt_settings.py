"""The MQTT client's configuration: broker URLs, settings validation and the reconnect backoff schedule."""

from random import Random

import pytest

from fanet.gateway.mqtt import Backoff, BrokerAddress, LastWill, MqttSettings, parse_broker_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.example", BrokerAddress("broker.example", 1883)),
        ("mqtt://127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884)),
        ("mqtts://broker.example", BrokerAddress("broker.example", 8883, tls=True)),
        ("MQTTS://broker.example:443/", BrokerAddress("broker.example", 443, tls=True)),
        ("mqtt://gw@broker.example", BrokerAddress("broker.example", 1883, username="gw")),
        ("mqtt://gw:s%40cret%3A@h:1", BrokerAddress("h", 1, username="gw", password="s@cret:")),
        ("mqtt://gw:@h", BrokerAddress("h", 1883, username="gw", password="")),
        ("mqtt://[::1]:1883", BrokerAddress("::1", 1883)),
    ],
)
def test_broker_urls_parse_into_address(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://broker.example", "scheme must be mqtt:// or mqtts://, not 'http'"),
        ("broker.example:1883", "scheme must be"),
        ("mqtt://", "no host"),
        ("mqtt://:1883", "no host"),
        ("mqtt://host:port", "Port could not be cast"),
        ("mqtt://host:70000", "out of range"),
        ("mqtt://host:0", "port 0"),
        ("mqtt://host/fanet", "path, query or fragment"),
        ("mqtt://host?x=1", "path, query or fragment"),
        ("mqtt://:secret@host", "a password needs a user name"),
    ],
)
def test_bad_broker_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="broker URL") as caught:
        parse_broker_url(url)
    assert complaint in str(caught.value)


def test_url_errors_and_repr_never_show_the_password() -> None:
    with pytest.raises(ValueError) as caught:
        parse_broker_url("mqtt://gw:hunter2@host/path")
    assert "hunter2" not in str(caught.value)
    assert "gw:***@host" in str(caught.value)
    address = parse_broker_url("mqtts://gw:hunter2@host")
    assert "hunter2" not in repr(address)
    assert address.url == "mqtts://gw@host:8883"
    assert parse_broker_url("mqtt://[::1]").url == "mqtt://[::1]:1883"


def test_settings_from_url_take_the_remaining_options() -> None:
    settings = MqttSettings.from_url("mqtt://h", "fanet-gw-1", clean_start=False, session_expiry_s=3600)
    assert settings.broker == BrokerAddress("h", 1883)
    assert (settings.client_id, settings.clean_start, settings.session_expiry_s) == (
        "fanet-gw-1",
        False,
        3600,
    )


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"client_id": ""}, "client_id must not be empty"),
        ({"keepalive_s": 70000}, "keepalive_s"),
        ({"session_expiry_s": -1}, "session_expiry_s"),
        ({"session_expiry_s": 2**32}, "session_expiry_s"),
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"receive_maximum": 0}, "receive_maximum"),
        ({"message_buffer": 0}, "message_buffer"),
        ({"ca_file": "/etc/ca.pem"}, "ca_file is set but the broker URL is not mqtts://"),
    ],
)
def test_invalid_settings_name_the_setting(options: dict[str, object], complaint: str) -> None:
    arguments: dict[str, object] = {"client_id": "c", **options}
    with pytest.raises(ValueError, match=complaint):
        MqttSettings(BrokerAddress("h", 1883), **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("will", "complaint"),
    [
        ({"topic": ""}, "last will topic must not be empty"),
        ({"topic": "fb/b/+/status"}, "wildcard"),
        ({"topic": "fb/#"}, "wildcard"),
        ({"topic": "ok", "qos": 3}, "last will qos"),
    ],
)
def test_invalid_last_will_is_refused(will: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        LastWill(**will)  # type: ignore[arg-type]


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0, multiplier=2.0, jitter=0.0)
    assert [backoff.delay_s(n, 0.999) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_jitter_only_shortens_within_its_fraction() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.5)
    assert backoff.delay_s(3, 0.0) == 4.0
    assert backoff.delay_s(3, 0.5) == 3.0
    assert backoff.delay_s(3, 1.0) == 2.0
    delays = [d for d, _ in zip(backoff.delays_s(Random(1)), range(50), strict=False)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert all(4.0 <= d <= 8.0 for d in delays[5:])  # capped, jitter at most halves
    assert len(set(delays)) > 40  # gateways cut off together spread out


def test_backoff_survives_very_long_outages() -> None:
    assert Backoff(initial_s=1.0, max_s=30.0, jitter=0.0).delay_s(10**6, 0.0) == 30.0


@pytest.mark.parametrize(
    "options",
    [
        {"initial_s": -1},
        {"max_s": 0.1, "initial_s": 1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"reset_after_s": -1},
    ],
)
def test_invalid_backoff_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**options)


def test_backoff_counts_failures_from_one() -> None:
    with pytest.raises(ValueError, match="failures must be ≥ 1"):
        Backoff().delay_s(0, 0.0)
