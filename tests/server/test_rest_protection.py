"""Protection: rate limits per IP and per token, CORS, security headers, body size, error bodies."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from fanet.server.model import Kind, LiveObject
from fanet.server.rest import RestSettings, create_app
from fanet.server.store import Area, MemoryStore, StoreCounts, StoreUnavailable
from fanet.settings import SettingsError, load_settings

SNAPSHOT = "/api/v1/snapshot?lat=46&lon=13&radius=10"


@asynccontextmanager
async def client_for(settings: RestSettings, store: Any = None, **options: Any) -> AsyncIterator[Any]:
    app = create_app(store or MemoryStore(), settings, monotonic=lambda: 0.0, **options)
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    settings = RestSettings(cors_origins=("https://map.example.org",), hsts_max_age_s=3600)
    async with client_for(settings) as built:
        yield built


# --- rate limits ---------------------------------------------------------------------------------


async def test_a_client_over_its_burst_gets_429_with_retry_after() -> None:
    async with client_for(RestSettings(rate_limit_per_s=0.5, rate_limit_burst=3)) as client:
        statuses = [(await client.get(SNAPSHOT)).status_code for _ in range(3)]
        refused = await client.get(SNAPSHOT)
        assert statuses == [200, 200, 200] and refused.status_code == 429
        assert refused.headers["Retry-After"] == "2"  # a token every 2 s
        assert (await refused.get_json())["code"] == "rate_limited"


async def test_each_client_ip_has_its_own_bucket_behind_a_trusted_proxy() -> None:
    async with client_for(RestSettings(rate_limit_per_s=1, rate_limit_burst=1, trusted_proxies=1)) as client:

        def via(ip: str) -> dict[str, str]:
            return {"X-Forwarded-For": f"203.0.113.9, {ip}"}  # the left entry is the client's to forge

        assert (await client.get(SNAPSHOT, headers=via("198.51.100.1"))).status_code == 200
        assert (await client.get(SNAPSHOT, headers=via("198.51.100.1"))).status_code == 429
        assert (await client.get(SNAPSHOT, headers=via("198.51.100.2"))).status_code == 200


async def test_without_trusted_proxies_a_forwarded_for_header_changes_nothing() -> None:
    async with client_for(RestSettings(rate_limit_per_s=1, rate_limit_burst=1)) as client:
        assert (await client.get(SNAPSHOT, headers={"X-Forwarded-For": "198.51.100.1"})).status_code == 200
        assert (await client.get(SNAPSHOT, headers={"X-Forwarded-For": "198.51.100.2"})).status_code == 429


async def test_a_token_is_limited_whichever_address_it_comes_from() -> None:
    settings = RestSettings(rate_limit_per_s=1, rate_limit_burst=2, trusted_proxies=1)
    async with client_for(settings) as client:
        token = {"Authorization": "Bearer secret"}
        statuses = [
            (await client.get(SNAPSHOT, headers={**token, "X-Forwarded-For": f"198.51.100.{n}"})).status_code
            for n in range(3)
        ]
        assert statuses == [200, 200, 429]
        other = {"Authorization": "Bearer other", "X-Forwarded-For": "198.51.100.9"}
        assert (await client.get(SNAPSHOT, headers=other)).status_code == 200


# --- CORS and headers ------------------------------------------------------------------------------


async def test_a_configured_origin_may_call_the_api(client: Any) -> None:
    response = await client.get(SNAPSHOT, headers={"Origin": "https://map.example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://map.example.org"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]


async def test_another_origin_gets_no_cors_headers(client: Any) -> None:
    response = await client.get(SNAPSHOT, headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_preflight_for_posting_a_position_is_answered(client: Any) -> None:
    response = await client.options(
        "/api/v1/position",
        headers={
            "Origin": "https://map.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://map.example.org"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert response.headers["Access-Control-Max-Age"] == "600"


async def test_responses_carry_security_headers(client: Any) -> None:
    for path in (SNAPSHOT, "/api/v1/snapshot", "/api/v1/track/FFFFFF"):
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    https = await client.get(SNAPSHOT, scheme="https")
    assert https.headers["Strict-Transport-Security"] == "max-age=3600"


# --- bodies and errors -----------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_with_413() -> None:
    async with client_for(RestSettings(max_body_bytes=100)) as client:
        headers = {"Authorization": "Bearer t", "Content-Length": "101"}
        response = await client.post("/api/v1/position", data=b"x" * 101, headers=headers)
        assert response.status_code == 413
        assert (await response.get_json())["code"] == "payload_too_large"


class FailingStore(MemoryStore):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def objects(
        self,
        kind: Kind,
        area: Area | None = None,
        *,
        updated_since: float | None = None,
        min_quality: int | None = None,
    ) -> list[LiveObject]:
        raise self.error

    async def counts(self) -> StoreCounts:
        raise self.error


async def test_a_store_that_cannot_be_reached_is_a_503_with_retry_after() -> None:
    store = FailingStore(StoreUnavailable("redis://x: connection refused"))
    async with client_for(RestSettings(), store) as client:
        for path in (SNAPSHOT, "/api/v1/pilots?bounds=0,0,1,1", "/api/v1/info"):
            response = await client.get(path)
            assert response.status_code == 503 and response.headers["Retry-After"] == "1"
            assert (await response.get_json())["code"] == "store_unavailable"


async def test_a_server_error_is_a_500_without_a_stack_trace() -> None:
    store = FailingStore(RuntimeError("secret internals /srv/fanet/store.py line 42"))
    async with client_for(RestSettings(), store) as client:
        response = await client.get(SNAPSHOT)
        assert response.status_code == 500
        assert await response.get_json() == {"code": "internal_error", "message": "internal server error"}


async def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(client: Any) -> None:
    response = await client.delete("/api/v1/snapshot")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert (await response.get_json())["code"] == "method_not_allowed"


# --- settings --------------------------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_URL", "https://accounts.example.org/api/me")
    monkeypatch.setenv("FANET_REST_CORS_ORIGINS", "https://a.example, https://b.example:8443")
    monkeypatch.setenv("FANET_REST_RATE_LIMIT_PER_S", "50")
    settings = load_settings(RestSettings)
    assert settings.auth_url == "https://accounts.example.org/api/me"
    assert settings.cors_origins == ("https://a.example", "https://b.example:8443")
    assert settings.rate_limit_per_s == 50 and settings.rate_limit_burst == 200


def test_settings_from_a_file_and_options(tmp_path: Path) -> None:
    config = tmp_path / "fanet.toml"
    config.write_text('[rest]\ncors-origins = ["*"]\nmax-body-bytes = 512\n')
    settings = load_settings(RestSettings, config_file=config, max_body_bytes=1024)
    assert settings.cors_origins == ("*",) and settings.max_body_bytes == 1024


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"cors_origins": ("map.example.org",)}, "cors_origins"),
        ({"websocket_url": "http://x"}, "websocket_url"),
        ({"auth_url": "ftp://x"}, "auth_url"),
        ({"rate_limit_per_s": 0}, "rate_limit_per_s"),
        ({"tls_certfile": "/etc/cert.pem"}, "tls_certfile"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(options: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(RestSettings, **options)
