"""The REST API's settings: one pydantic-settings model, built once from options, environment and file.

``FANET_REST_*`` variables and the ``[rest]`` table of the TOML file (``load_settings(RestSettings, …)``);
the account service's URL is also read from plain ``AUTH_URL``, the name the deployment documents.
Everything the API protects itself with lives here: rate limits, CORS origins, the body size limit,
the auth cache lifetimes, and the TLS files the listener serves HTTP/2 with.
"""

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from fanet.proto import AircraftType
from fanet.settings import FanetSettings

ENV_PREFIX = "FANET_REST_"
TABLE = "rest"


class RestSettings(FanetSettings):
    """Every setting of the REST API; the option is ``--<name with dashes>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, populate_by_name=True
    )
    toml_table = TABLE

    # --- what /info tells clients ------------------------------------------------------------------
    websocket_url: str = ""
    """The WebSocket URL clients should use (``wss://live.example.org/ws/v1/updates``); empty: the
    request's host name with ``websocket_port`` (``ws://`` or ``wss://`` as the request came)."""
    websocket_port: int = Field(default=8081, ge=1, le=65535)
    websocket_path: str = "/ws/v1/updates"

    # --- the account service (POST /position) ------------------------------------------------------
    auth_url: str | None = Field(
        default=None, validation_alias=AliasChoices("auth_url", f"{ENV_PREFIX}AUTH_URL", "AUTH_URL")
    )
    """GET with ``Authorization: Bearer <token>``: 200 with a JSON user carrying an ``id`` → valid, 401 or
    403 → invalid. Not set: every position is refused with 503 (no way to check a token)."""
    auth_timeout_s: float = Field(default=3.0, gt=0)
    auth_valid_ttl_s: float = Field(default=300.0, ge=0)
    auth_invalid_ttl_s: float = Field(default=30.0, ge=0)
    auth_cache_entries: int = Field(default=100_000, ge=1)
    """Tokens remembered at once (by a keyed hash, never the token); the oldest go first."""

    # --- positions ---------------------------------------------------------------------------------
    position_aircraft_type: AircraftType = AircraftType.OTHER
    """The aircraft type of posted positions (``PositionRequest`` carries none)."""
    ingest_timeout_s: float = Field(default=2.0, gt=0)
    """How long a POST waits for room in the pipeline's queue before answering 503."""

    # --- protection ---------------------------------------------------------------------------------
    rate_limit_per_s: float = Field(default=100.0, gt=0)
    """Sustained requests per second, per client IP and per bearer token (token bucket)."""
    rate_limit_burst: float = Field(default=200.0, ge=1)
    rate_limit_clients: int = Field(default=100_000, ge=1)
    """Buckets kept at once per kind (IP, token); the least recently used is forgotten first."""
    trusted_proxies: int = Field(default=0, ge=0, le=10)
    """Reverse proxies in front of the server: the client IP is then the ``X-Forwarded-For`` entry this
    many hops from the right. 0: the peer address (a header anyone can forge is not trusted)."""
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Origins that browsers may call the API from (``https://map.example.org``), or ``*`` for any."""
    cors_max_age_s: int = Field(default=600, ge=0)
    max_body_bytes: int = Field(default=4096, ge=64)
    """Request bodies above this get 413 (a ``PositionRequest`` is under 100 bytes)."""
    hsts_max_age_s: int = Field(default=0, ge=0)
    """``Strict-Transport-Security`` on HTTPS responses; 0 sends none."""

    # --- responses ----------------------------------------------------------------------------------
    gzip_min_bytes: int = Field(default=1024, ge=0)
    gzip_level: int = Field(default=1, ge=1, le=9)
    """Measured on a 200 km snapshot: level 1 compresses the protobuf body as well as level 5 in half the
    time (2.5 ms), and the JSON body 11 % larger in half the time (6 ms against 12)."""

    # --- TLS and HTTP/2 (the hypercorn listener, see fanet.server.rest.listener) -------------------
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    h2_max_concurrent_streams: int = Field(default=100, ge=1)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # An environment variable holds one string: "https://a.example,https://b.example".
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], or *)")
            if origin.endswith("/"):
                raise ValueError(f"{origin!r}: an origin has no path, not even '/'")
        return value

    @field_validator("websocket_url")
    @classmethod
    def _check_websocket_url(cls, value: str) -> str:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError(f"{value!r} is not a ws:// or wss:// URL")
        return value

    @field_validator("auth_url")
    @classmethod
    def _check_auth_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> "RestSettings":
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together: set both or neither")
        return self
