"""The Twisted side of the API: a leaf resource that dispatches every request through the route table.

It sets the security headers on every response, caps request bodies (a body over
``max_request_bytes`` is not even kept in memory), authenticates, checks CSRF and Origin, parses and
validates JSON bodies, runs the async handler and writes its response or error.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, unquote

from twisted.internet.defer import Deferred
from twisted.web import server
from twisted.web.resource import Resource

from hub.events import loads_json
from hub.web import schema
from hub.web.auth import COOKIE, SAFE_METHODS, WebAuth, origin_allowed
from hub.web.http import ApiError, RequestContext, Response, Takeover, invalid
from hub.web.metrics import WebMetrics
from hub.web.routes import RouteTable

CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' data:; connect-src 'self'; "
       "style-src 'self'; script-src 'self'; frame-ancestors 'none'")


def content_security_policy(tile_url: str | None = None) -> str:
    """The console's CSP; a configured map tile server's origin is the one outside source allowed."""
    if not tile_url:
        return CSP
    from urllib.parse import urlsplit

    parts = urlsplit(tile_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    if not origin or any(c in origin for c in " ;'\"\r\n"):
        return CSP
    return CSP.replace("img-src 'self' data: blob:;", f"img-src 'self' data: blob: {origin};")


SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class HubRequest(server.Request):
    """A request that stops keeping its body once it passes ``max_bytes`` and says so."""

    max_bytes = 65536
    too_large = False
    _received = 0

    def gotLength(self, length: int | None) -> None:  # noqa: N802 - Twisted's name
        if length is not None and length > self.max_bytes:
            self.too_large = True
            self.content = io.BytesIO()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self.too_large:
            return
        self._received += len(data)
        if self._received > self.max_bytes:
            # Chunked bodies carry no length up front: stop keeping it as soon as it is too big.
            self.too_large = True
            self.content = io.BytesIO()
            return
        super().handleContentChunk(data)


def make_site(resource: Resource, max_bytes: int, *, timeout: float = 60.0) -> server.Site:
    request_class = type("HubRequest", (HubRequest,), {"max_bytes": max_bytes})
    site = server.Site(resource, requestFactory=request_class, timeout=timeout)
    site.displayTracebacks = False
    return site


class HubResource(Resource):
    """The root resource: every path is answered by ``RouteTable`` dispatch."""

    isLeaf = True

    def __init__(
        self, table: RouteTable, auth: WebAuth, metrics: WebMetrics, log: Any, *, csp: str = CSP
    ) -> None:
        super().__init__()
        self.headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp}
        self.table = table
        self.auth = auth
        self.metrics = metrics
        self.log = log

    def render(self, request: server.Request) -> Any:
        Deferred.fromCoroutine(self._dispatch(request)).addErrback(
            lambda failure: self.log.error("request_failed", error=failure.getErrorMessage(),
                                           exc_info=(failure.type, failure.value, failure.getTracebackObject())))
        return server.NOT_DONE_YET

    async def _dispatch(self, request: server.Request) -> None:
        path = request.path.decode("utf-8", "replace")
        method = request.method.decode("ascii", "replace")
        secure = request.isSecure()
        for name, value in self.headers.items():
            request.setHeader(name, value)
        request.setHeader("Server", "hub")
        if path.startswith("/api/") or path in ("/metrics", "/healthz"):
            request.setHeader("Cache-Control", "no-store")
        label = "unmatched"
        result: Response | Takeover
        try:
            route, params = self.table.match(method, path)
            label = route.path
            if getattr(request, "too_large", False):
                raise ApiError(413, "too_large", "the request body is too large",
                               headers={"Connection": "close"})
            headers = request.requestHeaders
            cookie = request.getCookie(COOKIE.encode())
            principal = self.auth.principal(route, headers, cookie.decode("ascii", "replace") if cookie else None)
            # Partner routes take no cookie, so another origin cannot ride on one: no Origin check there.
            if method not in SAFE_METHODS and not route.partner:
                if not origin_allowed(headers, secure):
                    raise ApiError(403, "csrf", "cross-origin requests are refused")
                if not route.public:
                    self.auth.check_csrf(method, principal, headers)
            body = self._body(request, route.body) if route.body is not None else None
            ctx = RequestContext(
                method=method,
                path=path,
                params={name: unquote(value) for name, value in params.items()},
                query={k.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in vs]
                       for k, vs in parse_qs(request.uri.partition(b"?")[2], keep_blank_values=True).items()},
                headers=headers,
                body=body,
                client=_client_address(request),
                secure=secure,
                principal=principal,
                route=route,
                request=request,
            )
            result = await route.handler(ctx)
        except ApiError as error:
            result = error.response()
        except Exception:  # noqa: BLE001 - a handler bug is a 500 for this request, never a crash
            self.log.exception("handler_failed", route=label, method=method)
            result = ApiError(500, "internal", "something went wrong in the hub; it has been logged").response()
        if isinstance(result, Takeover):
            try:
                rendered = result.render(request)
            except Exception:  # noqa: BLE001 - a plugin resource that raises still gets an answer
                self.log.exception("takeover_failed", route=label, method=method)
                result = ApiError(500, "internal", "something went wrong in the hub; it has been logged").response()
            else:
                self.metrics.request_done(label, 101)
                if rendered is not server.NOT_DONE_YET and not request.finished:
                    request.write(rendered)
                    request.finish()
                return
        self.metrics.request_done(label, result.status)
        self._write(request, result)

    @staticmethod
    def _body(request: server.Request, body_schema: dict[str, Any]) -> Any:
        request.content.seek(0)
        raw = request.content.read()
        if not raw.strip():
            if body_schema.get("required"):
                raise invalid("send a JSON body", [{"field": "(body)", "message": "is required"}], status=400)
            return {}
        content_type = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, "invalid", "send the body as application/json")
        try:
            data = loads_json(raw)
        except ValueError:
            raise invalid("the body is not valid JSON", status=400) from None
        found = schema.problems(body_schema, data)
        if found:
            raise invalid("the body does not fit: " + "; ".join(f"{p['field']} {p['message']}" for p in found[:5]),
                          found[:50])
        return data

    @staticmethod
    def _write(request: server.Request, response: Response) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.setResponseCode(response.status)
        if response.content_type is not None:
            request.setHeader("Content-Type", response.content_type)
        for name, value in response.headers.items():
            request.setHeader(name, value)
        for cookie in response.cookies:
            request.responseHeaders.addRawHeader("Set-Cookie", cookie.header())
        if response.body:
            request.setHeader("Content-Length", str(len(response.body)))
            request.write(response.body)
        request.finish()


def _client_address(request: server.Request) -> str:
    address = request.getClientAddress()
    return getattr(address, "host", None) or str(address)
