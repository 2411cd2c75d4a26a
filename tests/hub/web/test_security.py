"""Who may use which route, and the browser-facing protections: CSRF, Origin, session fixation,
throttling, logout, idle timeout, security headers and body limits."""

from __future__ import annotations

import pytest_twisted
from twisted.internet.task import Clock

from hub.web.routes import USER_ROLES
from tests.hub.web.conftest import PARTNER_KEY

ROLE_USERS = {"operator": "olive", "supervisor": "sam", "admin": "ada", "auditor": "aud"}
SAMPLE_PARAMS = {"{id}": "inc-1", "{name}": "nobody", "{file}": "app.js", "{plugin}": "demo",
                 "{sha256}": "0" * 64}


def concrete(path: str) -> str:
    for param, value in SAMPLE_PARAMS.items():
        path = path.replace(param, value)
    return path


async def operations(web):
    admin = await web.logged_in("ada")
    document = (await admin.request("GET", "/api/openapi.json")).json
    found = [(method.upper(), concrete(path), operation)
             for path, methods in document["paths"].items() for method, operation in methods.items()]
    # Logging out ends the session the later checks use: it goes last.
    for operation in sorted(found, key=lambda item: item[:2] == ("DELETE", "/api/session")):
        yield operation


@pytest_twisted.ensureDeferred
async def test_every_operation_refuses_anonymous_requests_and_roles_it_does_not_name(web):
    """Each operation in /api/openapi.json answers 401 to nobody and 403 to every role not in its x-roles."""
    clients = {role: await web.logged_in(name) for role, name in ROLE_USERS.items()}
    checked = 0
    async for method, path, operation in operations(web):
        roles = operation["x-roles"]
        if "public" in roles:
            assert operation["security"] == []
            continue
        anonymous = await web.client().request(method, path, {} if method != "GET" else None)
        assert anonymous.status == 401, (method, path, anonymous)
        assert anonymous.error_code == "unauthenticated"
        for role, client in clients.items():
            reply = await client.request(method, path, {} if method != "GET" else None)
            if "partner" in roles:
                assert reply.status == 403, (method, path, role, reply)
            elif role not in roles:
                assert (reply.status, reply.error_code) == (403, "forbidden"), (method, path, role, reply)
            else:
                assert reply.status not in (401, 403), (method, path, role, reply)
        checked += 1
    assert checked >= 25


@pytest_twisted.ensureDeferred
async def test_the_openapi_document_lists_every_route_the_server_dispatches(web):
    """The document is made from the dispatch table: each route appears with its roles and security."""
    document = (await (await web.logged_in("olive")).request("GET", "/api/openapi.json")).json
    assert document["openapi"] == "3.1.0"
    listed = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    served = {(route.method, route.path.replace(":path", "")) for route in web.service.table.routes}
    assert listed == served
    intake = document["paths"]["/api/intake/reports"]["post"]
    assert intake["security"] == [{"partnerKey": []}] and intake["x-roles"] == ["partner"]
    assert intake["requestBody"]["content"]["application/json"]["schema"]["required"] == ["summary"]


@pytest_twisted.ensureDeferred
async def test_the_openapi_document_needs_a_session(web):
    """Nobody learns the API's shape without logging in."""
    assert (await web.client().request("GET", "/api/openapi.json")).status == 401


@pytest_twisted.ensureDeferred
async def test_a_state_changing_request_without_the_csrf_token_is_refused(web):
    """A cookie alone cannot acknowledge an incident: the X-CSRF-Token header must match the session's."""
    from tests.hub.web.fakes import FakeIncident

    web.desk.add(FakeIncident("inc-1", "Fight outside the Market Tavern"))
    olive = await web.logged_in("olive")
    missing = await olive.request("POST", "/api/incidents/inc-1/acknowledge", {}, csrf=False)
    wrong = await olive.request("POST", "/api/incidents/inc-1/acknowledge", {},
                                headers={"X-CSRF-Token": "guessed"})
    assert (missing.status, missing.error_code) == (403, "csrf")
    assert (wrong.status, wrong.error_code) == (403, "csrf")
    assert web.desk.incidents["inc-1"].state == "new"
    right = await olive.request("POST", "/api/incidents/inc-1/acknowledge", {})
    assert right.status == 200 and right.json["incident"]["state"] == "acknowledged"


@pytest_twisted.ensureDeferred
async def test_a_request_from_another_origin_is_refused_even_with_the_token(web):
    """An Origin that is not this server's own is refused on every state-changing request."""
    olive = await web.logged_in("olive")
    reply = await olive.request("DELETE", "/api/session", headers={"Origin": "https://evil.example"})
    assert (reply.status, reply.error_code) == (403, "csrf")
    assert (await olive.request("GET", "/api/session")).status == 200
    login = await web.client().request("POST", "/api/session", {"username": "olive",
                                                                "password": "correct horse battery"},
                                       headers={"Origin": "https://evil.example"})
    assert login.status == 403


@pytest_twisted.ensureDeferred
async def test_a_session_cookie_planted_before_login_is_not_the_session_after_login(web):
    """Login always issues a new session id; the planted value authenticates nothing."""
    client = web.client()
    client.cookie = "attacker-chosen-value"
    reply = await client.login("olive")
    assert reply.status == 200
    assert client.cookie not in (None, "attacker-chosen-value")
    planted = web.client()
    planted.cookie = "attacker-chosen-value"
    assert (await planted.request("GET", "/api/session")).status == 401


@pytest_twisted.ensureDeferred
async def test_logging_in_again_ends_the_session_the_browser_had(web):
    """A second login from the same browser replaces its session; the old cookie stops working."""
    client = await web.logged_in("olive")
    old = client.cookie
    await client.login("olive")
    assert client.cookie != old
    stale = web.client()
    stale.cookie = old
    assert (await stale.request("GET", "/api/session")).status == 401


@pytest_twisted.ensureDeferred
async def test_the_session_cookie_is_httponly_samesite_strict_and_not_secure_over_plain_http(web):
    """The cookie's attributes keep it away from scripts and other sites."""
    reply = await web.client().login("olive")
    cookie = reply.header("set-cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie


@pytest_twisted.ensureDeferred
async def test_repeated_failed_logins_are_throttled_with_retry_after(web):
    """After the configured failures even the right password waits, and each failure is audited."""
    client = web.client()
    replies = [await client.login("olive", "wrong password!") for _ in range(3)]
    assert [reply.status for reply in replies[:2]] == [401, 401]
    assert replies[2].status == 429
    locked = await client.login("olive")
    assert (locked.status, locked.error_code) == (429, "throttled")
    assert int(locked.header("retry-after")) >= 1
    failed = [e for e in web.audit.entries if e.action == "session.login_failed"]
    assert len(failed) == 4 and failed[0].target == "user:olive" and failed[0].address == "127.0.0.1"
    assert {(e.actor, e.role) for e in failed} == {("(unknown)", "anonymous")}
    assert "password" not in str([e.detail for e in failed])


@pytest_twisted.ensureDeferred
async def test_login_and_logout_are_audited_and_logout_ends_the_session(web):
    """Logout expires the cookie, the old token no longer works, and both ends are in the audit log."""
    client = await web.logged_in("olive")
    token = client.cookie
    reply = await client.request("DELETE", "/api/session")
    assert reply.status == 204
    assert "Max-Age=0" in reply.header("set-cookie")
    stale = web.client()
    stale.cookie = token
    assert (await stale.request("GET", "/api/session")).status == 401
    assert web.audit.actions()[-2:] == ["session.login", "session.logout"]
    assert all(entry.address == "127.0.0.1" for entry in web.audit.entries)


@pytest_twisted.ensureDeferred
async def test_an_idle_session_ends(harness_factory):
    """A session unused for the idle timeout is refused."""
    web = await harness_factory().start()
    try:
        clock = Clock()
        clock.advance(1000)
        web.sessions._clock = clock  # the session manager's own clock, moved by the test
        client = await web.logged_in("olive")
        info = (await client.request("GET", "/api/session")).json
        assert info["idle_timeout_s"] == 30 * 60
        clock.advance(29 * 60)
        assert (await client.request("GET", "/api/session")).status == 200
        clock.advance(30 * 60 + 1)
        assert (await client.request("GET", "/api/session")).status == 401
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_every_response_carries_the_security_headers(web):
    """CSP, nosniff, no referrer and no framing on answers, errors and public routes alike."""
    for path in ("/healthz", "/api/incidents", "/nowhere"):
        reply = await web.client().request("GET", path)
        assert reply.header("content-security-policy").startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in reply.header("content-security-policy")
        assert reply.header("x-content-type-options") == "nosniff"
        assert reply.header("referrer-policy") == "no-referrer"
        assert reply.header("x-frame-options") == "DENY"
    assert reply.status == 404 and reply.error_code == "not_found"
    api = await web.client().request("GET", "/api/incidents")
    assert api.header("cache-control") == "no-store"


@pytest_twisted.ensureDeferred
async def test_a_body_over_the_size_limit_is_refused_with_413(harness_factory):
    """A body bigger than [web] max_request_bytes is refused before it is parsed."""
    web = await harness_factory(web_settings={"max_request_bytes": 2048}).start()
    try:
        reply = await web.client().request("POST", "/api/session", raw=b'{"username": "' + b"a" * 5000 + b'"}')
        assert (reply.status, reply.error_code) == (413, "too_large")
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_bodies_must_be_json_and_fit_the_route_schema(web):
    """Not JSON is 400, another content type 415, a body that does not fit 422 naming each field."""
    client = web.client()
    not_json = await client.request("POST", "/api/session", raw=b"{nope")
    form = await client.request("POST", "/api/session", raw=b"username=a",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    unfit = await client.request("POST", "/api/session", {"username": 7, "extra": True})
    assert (not_json.status, not_json.error_code) == (400, "invalid")
    assert form.status == 415
    assert unfit.status == 422
    fields = {detail["field"] for detail in unfit.json["error"]["details"]}
    assert fields == {"username", "password", "extra"}


@pytest_twisted.ensureDeferred
async def test_a_user_session_cannot_post_partner_reports_and_a_partner_key_opens_nothing_else(web):
    """Partner keys are for intake only; sessions are not for intake."""
    olive = await web.logged_in("olive")
    assert (await olive.request("POST", "/api/intake/reports", {"summary": "x"})).status == 403
    keyed = web.client()
    reply = await keyed.request("GET", "/api/incidents", headers={"Authorization": f"Bearer {PARTNER_KEY}"})
    assert reply.status == 401


@pytest_twisted.ensureDeferred
async def test_roles_in_the_table_are_the_four_user_roles_or_public_partner_metrics(web):
    """No route names a role that does not exist."""
    known = set(USER_ROLES) | {"public", "partner", "metrics"}
    for route in web.service.table.routes:
        assert set(route.roles) <= known, route


def test_a_configured_tile_server_is_the_only_outside_image_source_the_console_may_load():
    """The CSP admits the tile server's origin for images, and nothing for a malformed URL."""
    from hub.web.resource import CSP, content_security_policy

    policy = content_security_policy("https://tiles.council.internal:8443/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.council.internal:8443;" in policy
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert content_security_policy(None) == CSP
    assert content_security_policy("javascript:alert(1)") == CSP
    assert content_security_policy("https://evil.example'; script-src *") == CSP


@pytest_twisted.ensureDeferred
async def test_a_name_that_is_no_user_is_never_written_to_the_audit_log(web):
    """A password typed into the name box must not stay in the append-only log for ever."""
    client = web.client()
    reply = await client.login("Tr0ub4dor&3-my-password", "anything")
    assert reply.status == 401
    failed = [e for e in web.audit.entries if e.action == "session.login_failed"]
    assert failed and "Tr0ub4dor" not in repr(failed)
