"""Receive power falling on a real SNMP agent: the trend warning comes before the alarm.

net-snmp's snmpd runs inside node-a's namespace (tests/plugins/dark_fibre_health/netns.py) and answers
for that namespace's real interfaces; a ``pass_persist`` script serves JUNIPER-DOM-MIB's receive power
for node-a's uplink, with the thresholds a real Juniper optic reports (low warning -12.14 dBm, low alarm
-15.04 dBm), the value read from a file the test rewrites. The whole hub (``hub.app.Hub``) watches node-a
with the fibre adapter, by ICMP and by SNMPv3 (SHA-256, AES-128) polls once a second.

How days become seconds: the adapter runs on the real reactor, its own clock, with a trend window of
60 s (the smallest the configuration takes) instead of the default week. ``RxTrend`` scales everything
with its window (points per window; the span the readings must cover, a seventh of it: 8.6 s here, a
day in a week), so this is a week compressed 10,080 times: a poll a second is a poll every 2.8 hours,
0.25 dB/s is 2.1 dB a day, and the trend warning about 8 s before the alarm is about a day before it.
The one rule that does not scale is the step: 1 dB or more between the medians of neighbouring groups
of three points is a connector re-seated, not a trend, so the fall is kept under 1 dB per three polls.
Faking the adapter's clock instead would fake its SNMP timeouts with it; with the real one the poll, the
agent, the codec, the optics and the judge all run as they will in a cabinet. The trend's arithmetic on
a week's scale is tested on made-up times beside trend.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import LoopingCall

from tests.plugins.dark_fibre_health.netns import (
    JNX_RX_LOW_ALARM_DBM,
    JNX_RX_LOW_WARNING_DBM,
    NodeSpec,
    SnmpdAgent,
    why_not_usable,
)
from tests.plugins.dark_fibre_health.netns_scene import HubScene

pytestmark = pytest.mark.skipif(
    why_not_usable("nft", "ping", "snmpd", "snmpget") is not None,
    reason=f"snmpd in a network namespace: {why_not_usable('nft', 'ping', 'snmpd', 'snmpget')}",
)

#: dBm at the start and dB lost per second: the device's warning level (-12.14 dBm) after about 6.6 s,
#: its alarm (-15.04 dBm) after about 18 s; the trend can speak from about 9 s.
START_DBM = -10.5
FALL_DB_PER_S = 0.25


def fibre_adapter(agent: SnmpdAgent) -> dict[str, Any]:
    """node-a, pinged and polled by SNMPv3 with the agent's user, its uplink watched."""
    return {
        "type": "fibre", "interval_s": 0.5, "probe_timeout_s": 0.4,
        "judge": {"trend_window_s": 60.0, "trend_warn_s": 60.0, "trend_min_points": 3},
        "nodes": {"node-a": {
            "address": agent.address, "probes": ["icmp", "snmp"],
            "snmp": {
                "version": "3", "interval_s": 1.0, "timeout_s": 0.5, "retries": 1, "interfaces": ["uplink"],
                "usm": {"user": agent.user, "auth_protocol": "sha256", "auth_password": {"env": "FIBRE_AUTH"},
                        "priv_protocol": "aes", "priv_password": {"env": "FIBRE_PRIV"}},
            },
        }},
    }


class FallingPower:
    """Rewrites the agent's receive power every 0.1 s: ``START_DBM`` falling ``FALL_DB_PER_S`` a second."""

    def __init__(self, agent: SnmpdAgent) -> None:
        self.agent = agent
        self.started_at = reactor.seconds()
        self.loop = LoopingCall(self.write)

    def dbm(self) -> float:
        return START_DBM - FALL_DB_PER_S * (reactor.seconds() - self.started_at)

    def write(self) -> None:
        self.agent.set_rx(self.dbm())

    def start(self) -> None:
        self.started_at = reactor.seconds()
        self.loop.start(0.1, now=True)

    def stop(self) -> None:
        if self.loop.running:
            self.loop.stop()


@pytest_twisted.ensureDeferred
async def test_falling_receive_power_is_a_trend_warning_before_it_is_an_alarm(tmp_path, fibre_network, snmpd_agent):
    """Polled over SNMPv3 from net-snmp, the uplink's power falls from -10.5 dBm: the device's warning level
    is passed first; then ``fibre.optics.trend`` forecasts the low alarm (-15.04 dBm, the device's own) while
    the power is still above it; only later does ``fibre.optics.alarm`` come. The trend says it once."""
    network = fibre_network(NodeSpec("node-a"))
    agent = snmpd_agent(network, "node-a", rx_dbm=START_DBM)
    scene = HubScene(tmp_path, adapters={"ring": fibre_adapter(agent)}, incidents={},
                     environ={"FIBRE_AUTH": agent.auth_password, "FIBRE_PRIV": agent.priv_password})
    falling = FallingPower(agent)
    await scene.start()
    try:
        events = scene.events
        await events.first("fibre.node.up", "fibre_node", "node-a")
        falling.start()

        trend = await events.first("fibre.optics.trend", "fibre_node", "node-a", deadline_s=30)
        alarm = await events.first("fibre.optics.alarm", "fibre_node", "node-a", deadline_s=30)
        warning = events.find("fibre.optics.warning", "fibre_node", "node-a")[0]
        topics = [event.topic for event in events.events if event.topic.startswith("fibre.optics.")]
        assert topics.index("fibre.optics.warning") < topics.index("fibre.optics.trend") \
            < topics.index("fibre.optics.alarm")
        assert topics.count("fibre.optics.trend") == 1

        assert trend.payload.port == "uplink"
        assert trend.payload.threshold_dbm == pytest.approx(JNX_RX_LOW_ALARM_DBM)
        assert trend.payload.dbm_now > JNX_RX_LOW_ALARM_DBM
        assert trend.payload.slope_db_per_day < 0
        # The fall per day of the compressed clock: 0.25 dB/s, within what a second of polling jitter allows.
        assert trend.payload.slope_db_per_day / 86400 == pytest.approx(-FALL_DB_PER_S, rel=0.3)
        assert 0 < trend.payload.crossing_in_s <= 60
        assert trend.payload.points >= 3

        assert warning.payload.direction == "rx" and warning.payload.port == "uplink"
        assert warning.payload.thresholds.low_warning == pytest.approx(JNX_RX_LOW_WARNING_DBM)
        assert warning.payload.thresholds.source == "device"
        assert alarm.payload.dbm < JNX_RX_LOW_ALARM_DBM
        assert alarm.payload.thresholds.low_alarm == pytest.approx(JNX_RX_LOW_ALARM_DBM)
        assert alarm.payload.previous == "warning"
        # Optics at alarm leave the node degraded, never down: it still answers.
        assert scene.adapter("fibre.ring").state_of("node-a") == "degraded"
    finally:
        falling.stop()
        await scene.stop()
