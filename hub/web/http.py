"""What a route handler is given and what it gives back: request context, responses and API errors.

Handlers are ``async def handler(ctx: RequestContext) -> Response``. Errors are raised as ``ApiError``
and rendered in the one JSON shape every client reads:
``{"error": {"code": "...", "message": "...", "details": [...]}}``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from attrs import define, field, frozen

from hub.events import dumps_json

JSON_TYPE = "application/json; charset=utf-8"


class ApiError(Exception):
    """A request refused with an HTTP status, a stable machine code and a message for people.

    The message and details are shown to the client: they must never hold a secret.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})

    def response(self) -> "Response":
        body = {"error": {"code": self.code, "message": self.message, "details": self.details}}
        return json_response(body, self.status, headers=self.headers)


def unauthenticated(message: str = "log in first") -> ApiError:
    return ApiError(401, "unauthenticated", message)


def forbidden(message: str = "your role may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str = "no such thing") -> ApiError:
    return ApiError(404, "not_found", message)


def invalid(message: str, details: list[Any] | None = None, status: int = 422) -> ApiError:
    return ApiError(status, "invalid", message, details=details)


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def throttled(retry_after: float, message: str = "too many attempts; wait and try again") -> ApiError:
    seconds = max(1, math.ceil(retry_after))
    return ApiError(429, "throttled", message, headers={"Retry-After": str(seconds)},
                    details=[{"retry_after_s": seconds}])


@frozen
class Cookie:
    """A Set-Cookie header to send; the value is a secret when it is the session token."""

    name: str
    value: str
    secure: bool
    expire: bool = False

    def header(self) -> str:
        parts = [f"{self.name}={self.value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if self.secure:
            parts.append("Secure")
        if self.expire:
            parts.append("Max-Age=0")
        return "; ".join(parts)


@frozen
class Response:
    """A complete HTTP response: status, body bytes, content type and any extra headers and cookies."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: Mapping[str, str] = field(factory=dict)
    cookies: tuple[Cookie, ...] = ()


@frozen
class Takeover:
    """A response the dispatcher does not write itself: it hands the Twisted request to ``render``.

    Used for the WebSocket upgrade and for plugin resources, after authentication and CSRF checks.
    ``render(request)`` returns bytes or ``NOT_DONE_YET`` as a Twisted resource's ``render`` does.
    """

    render: Any


def json_response(
    data: Any, status: int = 200, *, headers: Mapping[str, str] | None = None, cookies: tuple[Cookie, ...] = ()
) -> Response:
    return Response(status, dumps_json(data).encode(), JSON_TYPE, dict(headers or {}), cookies)


def no_content(cookies: tuple[Cookie, ...] = ()) -> Response:
    return Response(204, b"", None, {}, cookies)


@frozen
class Principal:
    """Who is making a request: a logged-in user, a partner (bearer key) or a metrics scraper.

    ``token`` is the session cookie's secret value (kept to revoke it at logout); it is never logged.
    """

    kind: str  # "user" | "partner" | "metrics"
    name: str
    role: str
    session: Any = None
    token: str | None = field(default=None, repr=False)


@define
class RequestContext:
    """One request as a handler sees it: method, path parameters, query, parsed JSON body and who asks."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Any  # twisted.web.http_headers.Headers
    body: Any
    client: str
    secure: bool
    principal: Principal | None = None
    route: Any = None
    request: Any = None  # the Twisted request, for the rare handler that needs it

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int | None = None, *, low: int = 0, high: int = 2**62) -> int | None:
        text = self.arg(name)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise invalid(f"{name} must be a whole number", [{"field": name, "message": "not a whole number"}],
                          status=400) from None
        if not low <= value <= high:
            raise invalid(f"{name} must be from {low} to {high}", [{"field": name, "message": "out of range"}],
                          status=400)
        return value

    def header(self, name: str) -> str | None:
        value = self.headers.getRawHeaders(name)
        return value[-1] if value else None
