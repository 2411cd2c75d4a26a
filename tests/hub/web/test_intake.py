"""Partner intake: a keyed, validated, rate-limited, idempotent and audited way in for partner reports."""

from __future__ import annotations

import pytest_twisted

from tests.hub.web.conftest import PARTNER_KEY

REPORT = {
    "reference": "SW-1001",
    "summary": "Shoplifter leaving Boots towards Market Place",
    "details": "Male, grey hoodie. <script>alert(1)</script>",
    "category": "theft",
    "severity": "high",
    "occurred_at": "2026-11-21T22:05:01Z",
    "location": {"name": "Boots, High Street", "latitude": 53.2351, "longitude": -1.4216, "camera": "42"},
    "reporter": "Boots store 1142",
}


def partner(web):
    return web.client()


async def post(web, body, key=PARTNER_KEY, **kwargs):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return await web.client().request("POST", "/api/intake/reports", body, headers=headers, **kwargs)


@pytest_twisted.ensureDeferred
async def test_a_report_becomes_a_partner_event_attributed_to_the_partner_and_audited(web):
    """The event has the partner as source and subject, the text untouched, and an audit row."""
    reply = await post(web, REPORT)
    assert reply.status == 202, reply
    [event] = web.bus.bus.replay(since=reply.json["seq"] - 1, limit=1)
    assert event.id == reply.json["event_id"]
    assert event.topic == "partner.report.received"
    assert event.source == "partner.shopwatch_app"
    # The subject is the report (partner and reference), so two reports are two incidents.
    assert event.subject.kind == "partner_report"
    assert event.subject.id == "shopwatch_app:SW-1001" and event.subject.name == "Shopwatch app"
    assert event.payload.details == REPORT["details"]
    assert event.severity.label == "high" and event.location.camera == "42"
    assert event.occurred_at.isoformat().startswith("2026-11-21T22:05:01")
    [entry] = [e for e in web.audit.entries if e.action == "partner.report"]
    assert (entry.actor, entry.role, entry.address) == ("shopwatch_app", "partner", "127.0.0.1")
    assert entry.target == f"event:{event.id}"


@pytest_twisted.ensureDeferred
async def test_a_repeated_reference_returns_the_first_event_and_publishes_nothing(web):
    """Partners retry; the same (partner, reference) is the same report."""
    first = await post(web, REPORT)
    head = web.bus.bus.head
    again = await post(web, {**REPORT, "summary": "retried"})
    assert again.status == 200
    assert (again.json["event_id"], again.json["seq"]) == (first.json["event_id"], first.json["seq"])
    assert web.bus.bus.head == head


@pytest_twisted.ensureDeferred
async def test_two_identical_reports_at_once_make_one_event(web):
    """A repeat that arrives while the first is still being written waits for it."""
    from twisted.internet.defer import Deferred, DeferredList

    replies = await DeferredList([Deferred.fromCoroutine(post(web, REPORT)) for _ in range(2)])
    bodies = [reply.json for _ok, reply in replies]
    assert bodies[0]["event_id"] == bodies[1]["event_id"]
    assert len(web.bus.bus.replay(0, "partner.#")) == 1


@pytest_twisted.ensureDeferred
async def test_reports_without_a_reference_are_each_new(web):
    """With no reference there is nothing to recognise a repeat by."""
    body = {"summary": "Group gathering outside the Market Tavern"}
    first, second = await post(web, body), await post(web, body)
    assert first.status == second.status == 202
    assert first.json["seq"] != second.json["seq"]


@pytest_twisted.ensureDeferred
async def test_a_report_that_does_not_fit_is_refused_naming_each_field(web):
    """Wrong types, over-long text, unknown fields and bad times are 422, and nothing is published."""
    head = web.bus.bus.head
    reply = await post(web, {"summary": "x" * 501, "severity": "urgent", "occurred_at": "yesterday",
                             "location": {"latitude": 91, "longitude": "west"}, "reporter": 5, "extra": 1})
    assert reply.status == 422
    fields = {d["field"] for d in reply.json["error"]["details"]}
    assert fields == {"summary", "severity", "occurred_at", "location.latitude", "location.longitude",
                      "reporter", "extra"}
    missing = await post(web, {"details": "no summary"})
    assert missing.status == 422
    assert web.bus.bus.head == head


@pytest_twisted.ensureDeferred
async def test_an_oversized_report_is_refused_with_413(web):
    """More than [web] max_request_bytes is not read."""
    reply = await post(web, {"summary": "s", "details": "d" * 70_000})
    assert (reply.status, reply.error_code) == (413, "too_large")


@pytest_twisted.ensureDeferred
async def test_an_unknown_or_missing_key_is_401(web):
    """Only a configured partner's key opens intake."""
    wrong = await post(web, REPORT, key="not-a-real-key-000000000000")
    missing = await post(web, REPORT, key=None)
    assert (wrong.status, missing.status) == (401, 401)
    assert wrong.header("www-authenticate").startswith("Bearer")
    assert PARTNER_KEY not in wrong.body.decode() and "not-a-real-key" not in wrong.body.decode()


@pytest_twisted.ensureDeferred
async def test_a_partner_posting_faster_than_its_rate_gets_429_with_retry_after(web):
    """The token bucket allows the configured burst (3) and then asks the partner to wait."""
    replies = [await post(web, {"summary": f"report {index}"}) for index in range(4)]
    assert [reply.status for reply in replies] == [202, 202, 202, 429]
    assert replies[3].error_code == "throttled" and int(replies[3].header("retry-after")) >= 1
