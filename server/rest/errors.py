"""Every REST error as the contract's body, ``{"code": "...", "message": "..."}``, and nothing else.

Handlers raise :class:`ApiError` (or a subclass) with a stable snake_case ``code`` and a message that
names the parameter or object at fault. :func:`install_error_handlers` makes the whole app answer that
way: HTTP errors of the framework (unknown path, wrong method, body too large) keep their status and
headers (``Allow`` on 405), a store that cannot be reached is 503, and any other exception is logged
with its traceback and answered 500 with a fixed message — no stack trace leaves the server.
"""

import json
from collections.abc import Mapping

import structlog
from quart import Quart, Response
from werkzeug.exceptions import HTTPException

from fanet.server.store import StoreUnavailable

_log = structlog.get_logger("fanet.rest")

JSON_TYPE = "application/json"


class ApiError(Exception):
    """An answer other than success: HTTP status, the contract's ``code`` and a message for people."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class ParameterError(ApiError):
    """A query or path parameter, or a body field, is missing, malformed or out of range (400)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(400, "invalid_parameter", f"{parameter}: {message}")
        self.parameter = parameter


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", what)


_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}


def error_response(error: ApiError) -> Response:
    body = json.dumps({"code": error.code, "message": error.message}, ensure_ascii=False)
    response = Response(body, status=error.status, content_type=JSON_TYPE)
    response.headers.update(error.headers)
    response.cache_control.no_store = True
    return response


def _http_error(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    message = {
        404: "no such path (the API is under /api/v1; see /api/v1/openapi.json)",
        405: "method not allowed here",
        413: "request body too large",
    }.get(status, exc.description or exc.name)
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    return ApiError(status, _CODES_BY_STATUS.get(status, f"http_{status}"), message, headers)


def install_error_handlers(app: Quart) -> None:
    """Answer every error of ``app`` with the contract's JSON body (see the module docstring)."""

    async def on_api_error(exc: ApiError) -> Response:
        return error_response(exc)

    async def on_http_error(exc: HTTPException) -> Response:
        return error_response(_http_error(exc))

    async def on_store_unavailable(exc: StoreUnavailable) -> Response:
        _log.warning("store unavailable", error=str(exc))
        return error_response(
            ApiError(503, "store_unavailable", "the store cannot be reached; try again", {"Retry-After": "1"})
        )

    async def on_exception(exc: Exception) -> Response:
        _log.error("request failed", exc_info=exc)
        return error_response(ApiError(500, "internal_error", "internal server error"))

    app.register_error_handler(ApiError, on_api_error)
    app.register_error_handler(HTTPException, on_http_error)
    app.register_error_handler(StoreUnavailable, on_store_unavailable)
    app.register_error_handler(Exception, on_exception)
