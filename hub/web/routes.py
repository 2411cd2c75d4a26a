"""The route table: one list of routes drives both dispatch and the OpenAPI document.

A route cannot be served without being described, and cannot be described without being served:
``RouteTable.match`` and ``RouteTable.openapi`` read the same ``Route`` objects. Each route names who
may use it: user roles, ``PUBLIC`` (anyone) or ``PARTNER`` (a partner's bearer key).
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Iterable

from attrs import field, frozen

from hub.web.http import ApiError, RequestContext, Response, not_found

PUBLIC = "public"
PARTNER = "partner"
#: ``/metrics``: supervisor and admin sessions, or the configured metrics bearer token.
METRICS = "metrics"

USER_ROLES = ("operator", "supervisor", "admin", "auditor")
ACTORS = ("operator", "supervisor", "admin")
READERS = USER_ROLES
AUDITORS = ("auditor",)
ADMINS = ("admin",)

Handler = Callable[[RequestContext], Awaitable[Response]]

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)(:path)?\}")


def _compile(template: str) -> re.Pattern[str]:
    pattern, last = "", 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[last:match.start()])
        # {name:path} takes the rest of the path (static files, plugin sub-paths); {name} one segment.
        pattern += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        last = match.end()
    return re.compile("^" + pattern + re.escape(template[last:]) + "$")


@frozen
class Route:
    """One operation: method and path template, its handler, who may use it, and its description.

    ``body`` is the JSON schema a request body must fit (None: the route takes no body).
    ``query`` lists query parameters as ``(name, schema, description)``. ``responses`` maps a status
    code to its description. ``csrf`` is False only for routes no cookie session can reach.
    """

    method: str
    path: str
    handler: Handler = field(repr=False, eq=False)
    roles: tuple[str, ...]
    summary: str
    body: dict[str, Any] | None = None
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    responses: dict[str, str] = field(factory=lambda: {"200": "OK"})
    tag: str = "api"
    description: str = ""
    produces: str = "application/json"
    regex: re.Pattern[str] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "regex", _compile(self.path))

    @property
    def public(self) -> bool:
        return PUBLIC in self.roles

    @property
    def partner(self) -> bool:
        return PARTNER in self.roles

    @property
    def operation_id(self) -> str:
        words = re.sub(r"[{}:]", "", self.path).strip("/").replace("/", "_").replace("-", "_").replace(".", "_")
        return f"{self.method.lower()}_{words or 'root'}"


class RouteTable:
    """Routes in order; the first whose template matches the path answers."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            key = (route.method, route.path)
            if key in seen:
                raise ValueError(f"route {route.method} {route.path} is declared twice")
            seen.add(key)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` and ``path`` with its path parameters; 404 or 405 when none."""
        if method == "HEAD":
            method = "GET"
        allowed = []
        for route in self.routes:
            found = route.regex.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed.append(route.method)
        if allowed:
            raise ApiError(405, "method_not_allowed", f"{method} is not allowed here",
                           headers={"Allow": ", ".join(sorted(set(allowed)))})
        raise not_found(f"no route for {path}")

    def openapi(self, *, title: str, version: str) -> dict[str, Any]:
        """The OpenAPI 3.1 document for every route in the table."""
        paths: dict[str, Any] = {}
        for route in self.routes:
            paths.setdefault(_openapi_path(route.path), {})[route.method.lower()] = _operation(route)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": title,
                "version": version,
                "description": "The partner hub's JSON API. Errors are "
                '{"error": {"code", "message", "details"}}. State-changing requests made with a '
                "session cookie need the X-CSRF-Token header.",
            },
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "hub_session"},
                    "partnerKey": {"type": "http", "scheme": "bearer",
                                   "description": "a partner's key, for the intake route only"},
                    "metricsToken": {"type": "http", "scheme": "bearer",
                                     "description": "the [web] metrics_token, for /metrics only"},
                },
                "schemas": {"Error": _ERROR_SCHEMA},
            },
        }


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array"},
            },
        }
    },
}


def _openapi_path(template: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", template)


def _operation(route: Route) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name, _suffix in _PARAM.findall(route.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
        for name, schema, text in route.query
    ]
    if route.public:
        security: list[dict[str, list[str]]] = []
    elif route.partner:
        security = [{"partnerKey": []}]
    elif METRICS in route.roles:
        security = [{"session": []}, {"metricsToken": []}]
    else:
        security = [{"session": []}]
    responses: dict[str, Any] = {}
    for status, text in route.responses.items():
        entry: dict[str, Any] = {"description": text}
        if status not in ("204",) and not status.startswith("3"):
            entry["content"] = {route.produces: {}}
        responses[status] = entry
    for status, text in _ERRORS_FOR(route):
        responses.setdefault(status, {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "security": security,
        "x-roles": list(_visible_roles(route)),
        "parameters": parameters,
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    return operation


def _visible_roles(route: Route) -> tuple[str, ...]:
    if METRICS in route.roles:
        return ("supervisor", "admin", "metrics_token")
    return route.roles


def _ERRORS_FOR(route: Route) -> list[tuple[str, str]]:  # noqa: N802 - a table, read like a constant
    errors = []
    if not route.public:
        errors.append(("401", "not authenticated"))
        errors.append(("403", "not allowed for this role, or CSRF check failed"))
    if route.body is not None:
        errors += [("400", "body is not JSON"), ("413", "body too large"), ("422", "body does not fit the schema")]
    return errors
