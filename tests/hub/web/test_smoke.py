import pytest_twisted


@pytest_twisted.ensureDeferred
async def test_healthz_answers_without_a_session(web):
    """/healthz is public and reports the journal head and adapter states."""
    reply = await web.client().request("GET", "/healthz")
    assert reply.status == 200, reply
    assert reply.json["status"] == "degraded"
    assert reply.json["adapters"] == {"running": 1, "failed": 1}
