"""A simulated node's SNMP agent, sans-IO: datagram in, datagram or silence out, over v2c and v3 (USM)."""

from __future__ import annotations

import pytest

from plugins.dark_fibre_health.codec import snmp, usm
from plugins.dark_fibre_health.codec.snmp import (
    CommunityMessage,
    HeaderData,
    Pdu,
    ScopedPdu,
    UsmSecurityParameters,
    V3Message,
    VarBind,
    parse_oid,
)
from plugins.dark_fibre_health.sim_agent import (
    MAX_RESPONSE_SIZE,
    NodeAgent,
    engine_id_for,
)
from plugins.dark_fibre_health.sim_device import CISCO_SENSOR, SimulatedNode, vendor_mib
from plugins.dark_fibre_health.sim_faults import FaultScript

COMMUNITY = b"ring-community"
SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")
RX = parse_oid(CISCO_SENSOR) + (4, 2020)
AUTH, PRIV = b"auth-pass-phrase", b"priv-pass-phrase"


def simulated(vendor: str = "cisco") -> SimulatedNode:
    return SimulatedNode("node-01", 1, vendor, FaultScript([]), rx_dbm=-5.0)


def keys_for(engine_id: bytes, *, auth: bytes = AUTH, priv: bytes = PRIV, user: bytes = b"hub") -> usm.UsmKeys:
    return usm.UsmKeys.from_passwords(user, engine_id, auth="sha256", auth_password=auth, priv="aes",
                                      priv_password=priv)


@pytest.fixture
def agent() -> NodeAgent:
    node = simulated()
    return NodeAgent(node, lambda: 0.0, community=COMMUNITY, users=[keys_for(engine_id_for(node))])


def v2c(agent: NodeAgent, pdu: Pdu, community: bytes = COMMUNITY, elapsed: float = 5.0) -> Pdu | None:
    answer = agent.answer(snmp.encode_community_message(CommunityMessage("2c", community, pdu)), elapsed)
    if answer is None:
        return None
    message = snmp.decode_message(answer)
    assert isinstance(message, CommunityMessage) and message.community == community
    return message.pdu


# --- v2c ---------------------------------------------------------------------------------------------


def test_a_get_is_answered_with_the_values_and_the_request_id(agent):
    response = v2c(agent, Pdu.get(77, [SYS_NAME, RX]))
    assert response.kind == "response" and response.request_id == 77 and response.error_status == 0
    assert [varbind.value.value for varbind in response.varbinds] == [b"node-01", -50]


def test_a_wrong_community_or_snmpv1_gets_no_answer_at_all(agent):
    assert v2c(agent, Pdu.get(1, [SYS_NAME]), community=b"public") is None
    v1 = snmp.encode_community_message(CommunityMessage("1", COMMUNITY, Pdu.get(1, [SYS_NAME])))
    assert agent.answer(v1, 0.0) is None
    assert agent.answer(b"\x30\x03garbage", 0.0) is None
    assert agent.stats["bad_community"] == 2 and agent.stats["parse_errors"] == 1


def test_a_walk_by_getnext_visits_every_oid_of_the_tree_in_order_and_ends_in_end_of_mib_view(agent):
    oid, seen = (1, 3), []
    while True:
        [varbind] = v2c(agent, Pdu.get_next(1, [oid])).varbinds
        if varbind.value.kind == "end_of_mib_view":
            break
        seen.append(varbind.oid)
        oid = varbind.oid
    assert seen == list(vendor_mib("cisco").oids())


def test_a_bulk_walk_answers_at_most_what_fits_in_one_frame_and_goes_on_from_there(agent):
    response = v2c(agent, Pdu.get_bulk(3, [(1, 3)], max_repetitions=1000))
    assert 10 < len(response.varbinds) < 1000
    datagram = agent.answer(snmp.encode_community_message(
        CommunityMessage("2c", COMMUNITY, Pdu.get_bulk(3, [(1, 3)], max_repetitions=1000))), 5.0)
    assert len(datagram) <= MAX_RESPONSE_SIZE
    oids = list(vendor_mib("cisco").oids())
    assert [varbind.oid for varbind in response.varbinds] == oids[:len(response.varbinds)]


def test_a_get_whose_answer_cannot_fit_is_too_big_and_a_set_is_not_writable(agent):
    too_big = v2c(agent, Pdu.get(4, [parse_oid("1.3.6.1.2.1.1.1.0")] * 80))
    assert (too_big.error_status, too_big.varbinds) == (1, ())
    refused = v2c(agent, Pdu("set", 5, (VarBind(SYS_NAME, snmp.octets("mine")),)))
    assert (refused.error_status, refused.error_index) == (17, 1)


# --- v3 ------------------------------------------------------------------------------------------------


def v3_request(agent: NodeAgent, pdu: Pdu, keys: usm.UsmKeys | None, *, engine_time: int | None = None,
               flags: int = snmp.FLAG_AUTH | snmp.FLAG_PRIV) -> bytes:
    time = agent.engine_time(5.0) if engine_time is None else engine_time
    header = HeaderData(42, snmp.MAX_MESSAGE_SIZE, flags | snmp.FLAG_REPORTABLE)
    security = UsmSecurityParameters(agent.engine_id, 1, time, b"hub")
    return usm.protect(header, security, ScopedPdu(agent.engine_id, b"", pdu), keys, salt=b"\x00" * 7 + b"\x01")


def reported(datagram: bytes) -> snmp.OID:
    """The usmStats counter a report names."""
    message = snmp.decode_message(datagram)
    assert isinstance(message, V3Message)
    pdu = message.scoped_pdu.pdu if message.scoped_pdu else None
    assert pdu is not None and pdu.kind == "report"
    return pdu.varbinds[0].oid


def test_discovery_gives_the_nodes_engine_id_boots_and_time(agent):
    answer = agent.answer(usm.discovery_request(1, 2), 5.0)
    message = snmp.decode_message(answer)
    assert reported(answer) == snmp.UNKNOWN_ENGINE_IDS
    assert message.security.engine_id == engine_id_for(agent.node) == b"\x80\x00\x00\x09\x04node-01"
    assert message.security.engine_time == agent.engine_time(5.0)


def test_an_authpriv_get_is_answered_encrypted_and_signed_with_the_users_keys(agent):
    keys = keys_for(agent.engine_id)
    answer = agent.answer(v3_request(agent, Pdu.get(9, [RX]), keys), 5.0)
    message = snmp.decode_message(answer)
    assert isinstance(message, V3Message) and message.header.priv and message.scoped_pdu is None
    scoped = usm.unprotect(message, answer, keys)
    assert scoped.pdu.request_id == 9 and scoped.pdu.varbinds[0].value.value == -50


def test_a_wrong_password_is_a_wrong_digest_report_and_an_unknown_user_an_unknown_user_report(agent):
    wrong = keys_for(agent.engine_id, auth=b"not-the-password")
    assert reported(agent.answer(v3_request(agent, Pdu.get(9, [RX]), wrong), 5.0)) == snmp.WRONG_DIGESTS
    stranger = keys_for(agent.engine_id, user=b"eve")
    header = HeaderData(1, snmp.MAX_MESSAGE_SIZE, snmp.FLAG_AUTH | snmp.FLAG_PRIV | snmp.FLAG_REPORTABLE)
    security = UsmSecurityParameters(agent.engine_id, 1, agent.engine_time(5.0), b"eve")
    request = usm.protect(header, security, ScopedPdu(agent.engine_id, b"", Pdu.get(1, [RX])), stranger,
                          salt=bytes(8))
    assert reported(agent.answer(request, 5.0)) == snmp.UNKNOWN_USER_NAMES


def test_a_clock_out_of_the_time_window_is_reported_with_the_nodes_time(agent):
    keys = keys_for(agent.engine_id)
    answer = agent.answer(v3_request(agent, Pdu.get(9, [RX]), keys, engine_time=5), 5.0)
    assert reported(answer) == snmp.NOT_IN_TIME_WINDOWS
    assert snmp.decode_message(answer).security.engine_time == agent.engine_time(5.0)


def test_a_user_configured_for_privacy_is_not_answered_in_the_clear(agent):
    keys = keys_for(agent.engine_id)
    answer = agent.answer(v3_request(agent, Pdu.get(9, [RX]), keys, flags=snmp.FLAG_AUTH), 5.0)
    scoped = usm.unprotect(snmp.decode_message(answer), answer, keys)
    assert scoped.pdu.error_status == 16  # authorizationError
    assert all(varbind.value.kind == "null" for varbind in scoped.pdu.varbinds)


def test_an_agent_without_v3_users_ignores_v3_and_one_without_a_community_ignores_v2c():
    node = simulated()
    only_v2c = NodeAgent(node, lambda: 0.0, community=COMMUNITY)
    assert only_v2c.answer(usm.discovery_request(1, 2), 0.0) is None
    only_v3 = NodeAgent(node, lambda: 0.0, users=[keys_for(engine_id_for(node))])
    assert v2c(only_v3, Pdu.get(1, [SYS_NAME])) is None


def test_engine_ids_are_unique_per_node_and_never_longer_than_32_octets():
    long_names = [SimulatedNode("x" * 60 + str(n), n, "juniper", FaultScript([])) for n in range(3)]
    engine_ids = {engine_id_for(node) for node in long_names}
    assert len(engine_ids) == 3 and all(5 <= len(engine_id) <= 32 for engine_id in engine_ids)
