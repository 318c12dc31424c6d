"""What guards every request of the API: body first, rate limits, security headers.

Installed on the blueprint (:meth:`Protection.install`): the body is read first and refused past
``max_body_bytes`` (413); then the client IP's and the bearer token's token buckets are charged (429
with ``Retry-After``); every answer gets the security headers, and HSTS over HTTPS when configured.
CORS is quart-cors, set up with the blueprint (:mod:`~fanet.server.rest.app`).
"""

from collections.abc import Callable

from quart import Blueprint, Response, g, request
from werkzeug.datastructures import Headers

from fanet.server.rest.errors import ApiError
from fanet.server.rest.limits import RateLimiter, retry_after_header
from fanet.server.rest.settings import RestSettings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


class Protection:
    """The hooks, bound to the settings, the two rate limiters and the token fingerprint."""

    def __init__(
        self,
        settings: RestSettings,
        ip_limits: RateLimiter,
        token_limits: RateLimiter,
        fingerprint: Callable[[str], bytes],
        monotonic: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.ip_limits = ip_limits
        self.token_limits = token_limits
        self.fingerprint = fingerprint
        self.monotonic = monotonic

    def install(self, blueprint: Blueprint) -> None:
        blueprint.before_request(self.read_whole_body)
        blueprint.before_request(self.limit_rate)
        blueprint.after_request(self.secure)

    async def read_whole_body(self) -> None:
        """Read the body before anything answers: hypercorn 0.18 stalls a keep-alive connection whose
        previous request was answered before its body was read (seen with a client reusing the
        connection after a 401 or a 429). Over ``max_body_bytes``: 413, and the connection closes.
        Handlers find the body in ``g.fanet_body``."""
        g.fanet_body = await read_body(self.settings.max_body_bytes)

    async def limit_rate(self) -> None:
        """429 with ``Retry-After`` when the client IP, or the bearer token, is over its rate."""
        now = self.monotonic()
        ip = client_ip(request.remote_addr, request.headers, self.settings.trusted_proxies)
        wait_s = self.ip_limits.take(ip, now)
        authorization = request.headers.get("Authorization")
        if not wait_s and authorization:
            wait_s = self.token_limits.take(self.fingerprint(authorization), now)
        if wait_s:
            raise ApiError(
                429,
                "rate_limited",
                "too many requests; slow down",
                {"Retry-After": retry_after_header(wait_s)},
            )

    async def secure(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if self.settings.hsts_max_age_s and request.scheme == "https":
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={self.settings.hsts_max_age_s}"
            )
        return response


def client_ip(peer: str | None, headers: Headers, trusted_proxies: int) -> str:
    """The client's IP: the peer, or with ``trusted_proxies`` proxies in front, the ``X-Forwarded-For``
    entry that many hops from the right (entries further left are the client's to forge)."""
    if trusted_proxies:
        forwarded = ",".join(headers.getlist("X-Forwarded-For")).split(",")
        hops = [part.strip() for part in forwarded if part.strip()]
        if len(hops) >= trusted_proxies:
            return hops[-trusted_proxies]
    return peer or "unknown"


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413, "payload_too_large", f"the request body is larger than {limit} bytes", {"Connection": "close"}
    )


async def read_body(limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes (chunked bodies too)."""
    length = request.content_length
    if length is not None and length > limit:
        raise body_too_large(limit)
    data = bytearray()
    async for chunk in request.body:
        data += chunk
        if len(data) > limit:
            raise body_too_large(limit)
    return bytes(data)
