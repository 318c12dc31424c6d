"""Bearer tokens checked against the account service, with a cache that never holds a token.

The account service (``auth_url``) is asked with ``GET`` and ``Authorization: Bearer <token>``: 200
with a JSON object carrying an ``id`` means valid, 401 or 403 invalid. Anything else — no connection,
a timeout, a 5xx, a 200 without an id — means we cannot tell, and the request is answered 503, never
401: a client must not drop its login because the account service is down.

Answers are cached under a keyed BLAKE2b hash of the token (the key is random per process, so the
cache holds nothing that could be replayed or looked up elsewhere): valid for ``valid_ttl_s`` (5 min),
invalid for ``invalid_ttl_s`` (30 s), at most ``max_entries`` (the oldest go first). Concurrent
requests with one token share a single call to the service. Logs name a token by the first hex
digits of its hash, never by the token.
"""

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog
import trio

from fanet.server.rest.errors import ApiError

_log = structlog.get_logger("fanet.rest.auth")

MAX_TOKEN_LENGTH = 4096
_CHALLENGE = 'Bearer realm="fanet"'


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in user as the account service named them."""

    id: str


def missing_token() -> ApiError:
    return ApiError(401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": _CHALLENGE})


def invalid_token() -> ApiError:
    return ApiError(
        401,
        "invalid_token",
        "the bearer token is not valid",
        {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
    )


def auth_unavailable(why: str) -> ApiError:
    return ApiError(503, "auth_unavailable", f"cannot check the token now: {why}", {"Retry-After": "5"})


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 when there is none."""
    if not authorization:
        raise missing_token()
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise missing_token()
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
        raise invalid_token()
    return token


class TokenChecker:
    """Checks tokens with the account service (see the module docstring).

    ``clock`` is monotonic seconds (Trio's clock by default; tests pass their own). Call :meth:`aclose`
    when the server stops. Cancelling :meth:`user` cancels the HTTP call; nothing is cached then.
    """

    def __init__(
        self,
        url: str | None,
        *,
        timeout_s: float = 3.0,
        valid_ttl_s: float = 300.0,
        invalid_ttl_s: float = 30.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.url = url
        self.valid_ttl_s = valid_ttl_s
        self.invalid_ttl_s = invalid_ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._cache: OrderedDict[bytes, tuple[float, User | None]] = OrderedDict()
        self._pending: dict[bytes, trio.Event] = {}
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self.calls = 0
        """Calls made to the account service (for tests and metrics)."""

    def fingerprint(self, token: str) -> bytes:
        """The token's cache key (also what rate limits per token are keyed by)."""
        return hashlib.blake2b(token.encode(), key=self._key, digest_size=16).digest()

    async def user(self, token: str) -> User:
        """The token's user; :class:`ApiError` 401 for an invalid token, 503 when we cannot tell."""
        key = self.fingerprint(token)
        while True:
            cached = self._cached(key)
            if cached is not None:
                return _user_or_invalid(cached[1])
            pending = self._pending.get(key)
            if pending is None:
                break
            await pending.wait()  # another request is asking about this token; then read the cache
        done = self._pending[key] = trio.Event()
        try:
            user = await self._ask(token, key)
            ttl = self.valid_ttl_s if user is not None else self.invalid_ttl_s
            self._remember(key, user, ttl)
        finally:
            del self._pending[key]
            done.set()
        return _user_or_invalid(user)

    def _cached(self, key: bytes) -> tuple[float, User | None] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._cache[key]
            return None
        return entry

    def _remember(self, key: bytes, user: User | None, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._cache[key] = (self._clock() + ttl_s, user)
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)

    async def _ask(self, token: str, key: bytes) -> User | None:
        if self.url is None:
            raise auth_unavailable("no account service is configured (auth_url)")
        self.calls += 1
        try:
            response = await self._client.get(self.url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            _log.warning("account service unreachable", url=self.url, error=type(exc).__name__)
            raise auth_unavailable("the account service does not answer") from None
        if response.status_code in (401, 403):
            _log.info("token refused", token=key.hex()[:8], status=response.status_code)
            return None
        if response.status_code != 200:
            _log.warning("account service failed", url=self.url, status=response.status_code)
            raise auth_unavailable(f"the account service answered {response.status_code}")
        try:
            body = response.json()
            user_id = body["id"] if isinstance(body, dict) else None
        except (ValueError, KeyError):
            user_id = None
        if isinstance(user_id, bool) or not isinstance(user_id, int | str) or str(user_id) == "":
            _log.warning("account service answered without a user id", url=self.url)
            raise auth_unavailable("the account service's answer has no user id")
        return User(str(user_id))

    async def aclose(self) -> None:
        await self._client.aclose()


def _user_or_invalid(user: User | None) -> User:
    if user is None:
        raise invalid_token()
    return user
