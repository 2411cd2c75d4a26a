"""GET /api/evidence/<sha256>: stored evidence, to the roles that may see it, as stored, and audited."""

from __future__ import annotations

import hashlib

import pytest_twisted

from hub.evidence import EvidenceStore
from tests.hub.web.conftest import WebHarness

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"snapshot of camera 42" * 100 + b"\xff\xd9"
SHA = hashlib.sha256(JPEG).hexdigest()


async def started(tmp_path, **kwargs) -> WebHarness:
    store = EvidenceStore(tmp_path / "evidence")
    await store.put(JPEG, "image/jpeg")
    return await WebHarness(tmp_path, evidence=store, **kwargs).start()


@pytest_twisted.ensureDeferred
async def test_evidence_is_served_as_stored_to_every_user_role(tmp_path):
    """Operators, supervisors, admins and auditors get the bytes with the stored type, nosniff, never cached."""
    web = await started(tmp_path)
    try:
        for name in ("olive", "sam", "ada", "aud"):
            reply = await (await web.logged_in(name)).request("GET", f"/api/evidence/{SHA}")
            assert reply.status == 200, (name, reply)
            assert reply.body == JPEG
            assert reply.header("content-type") == "image/jpeg"
            assert reply.header("x-content-type-options") == "nosniff"
            assert "no-store" in reply.header("cache-control")
            assert "sandbox" in reply.header("content-security-policy")
            assert reply.header("content-disposition") == f'inline; filename="{SHA}.jpg"'
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_every_fetch_is_in_the_audit_log_with_who_and_for_which_incident(tmp_path):
    """Each fetch is an evidence.view row naming the user, the evidence and the incident it was viewed for."""
    web = await started(tmp_path)
    try:
        olive = await web.logged_in("olive")
        await olive.request("GET", f"/api/evidence/{SHA}?incident=01HXINCIDENT")
        await olive.request("GET", f"/api/evidence/{SHA}")
        views = [entry for entry in web.audit.entries if entry.action == "evidence.view"]
        assert [(entry.actor, entry.role, entry.target, entry.detail["incident"]) for entry in views] == [
            ("olive", "operator", f"evidence:{SHA}", "01HXINCIDENT"),
            ("olive", "operator", f"evidence:{SHA}", None),
        ]
        assert views[0].detail["size"] == len(JPEG) and views[0].detail["content_type"] == "image/jpeg"
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_nobody_logged_out_gets_evidence(tmp_path):
    """Without a session the answer is 401 and nothing is served or audited as viewed."""
    web = await started(tmp_path)
    try:
        reply = await web.client().request("GET", f"/api/evidence/{SHA}")
        assert reply.status == 401 and JPEG not in reply.body
        assert "evidence.view" not in web.audit.actions()
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_unknown_evidence_is_404_and_not_a_hash_is_400(tmp_path):
    """A well-formed hash not stored is 404; uppercase, short, long, or traversal attempts are 400 or 404."""
    web = await started(tmp_path)
    try:
        olive = await web.logged_in("olive")
        missing = await olive.request("GET", "/api/evidence/" + "0" * 64)
        assert (missing.status, missing.error_code) == (404, "not_found")
        for bad in (SHA.upper(), SHA[:-1], SHA + "0", "..%2F..%2Fjournal.sqlite3", "%2e%2e%2fhub.lock",
                    SHA[:2] + "%2F" + SHA, SHA + "%0A", SHA + ".jpg"):
            reply = await olive.request("GET", f"/api/evidence/{bad}")
            assert reply.status == 400, (bad, reply)
            assert JPEG not in reply.body
        for bad in (f"{SHA[:2]}/{SHA}.jpg", f"../{SHA}"):
            reply = await olive.request("GET", f"/api/evidence/{bad}")
            assert reply.status == 404, (bad, reply)
        bad_incident = await olive.request("GET", f"/api/evidence/{SHA}?incident=%3Cscript%3E")
        assert bad_incident.status == 400
        assert "evidence.view" not in web.audit.actions()
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_a_file_altered_on_disk_is_refused_and_audited(tmp_path):
    """Bytes that no longer match their hash are never served; the attempt is logged and audited."""
    web = await started(tmp_path)
    try:
        path = web.evidence.get(SHA).path
        path.write_bytes(JPEG.replace(b"42", b"43"))
        reply = await (await web.logged_in("olive")).request("GET", f"/api/evidence/{SHA}")
        assert (reply.status, reply.error_code) == (500, "evidence_corrupt")
        assert b"camera 43" not in reply.body
        assert web.audit.actions()[-1] == "evidence.corrupt"
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_a_hub_without_an_evidence_store_has_none(web):
    reply = await (await web.logged_in("olive")).request("GET", "/api/evidence/" + "a" * 64)
    assert reply.status == 404


@pytest_twisted.ensureDeferred
async def test_the_route_is_described_in_openapi(web):
    """The OpenAPI document lists the route with the user roles and its answers."""
    document = (await (await web.logged_in("olive")).request("GET", "/api/openapi.json")).json
    operation = document["paths"]["/api/evidence/{sha256}"]["get"]
    assert operation["x-roles"] == ["operator", "supervisor", "admin", "auditor"]
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])


@pytest_twisted.ensureDeferred
async def test_command_descriptions_carry_options_from(tmp_path):
    """A command argument's options_from reaches the console through /api/commands."""
    from hub.api import AdapterType, CommandArgument, CommandSpec
    from tests.hub.web.fakes import FakeAdapters, FakeStatus

    cameras = AdapterType(name="onvif", config_class=object, factory=lambda context: None, commands=(
        CommandSpec("goto_preset", "Go to preset", arguments=(
            CommandArgument("camera", "Camera", kind="camera"),
            CommandArgument("preset", "Preset", options_from="presets"))),))
    web = WebHarness(tmp_path, adapters=FakeAdapters(FakeStatus("onvif.cameras", "onvif")))
    web = await web.start()
    web.service.backend.adapter_types["onvif"] = cameras
    try:
        commands = (await (await web.logged_in("olive")).request("GET", "/api/commands")).json["commands"]
        goto = next(command for command in commands if command["verb"] == "goto_preset")
        assert [(a["name"], a["options_from"]) for a in goto["arguments"]] == [("camera", None),
                                                                              ("preset", "presets")]
    finally:
        await web.stop()
