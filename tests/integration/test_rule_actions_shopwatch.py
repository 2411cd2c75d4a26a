"""A rule's broadcast through the whole hub: the real shopwatch adapter on a pseudo-terminal played by the radio
simulator, the incident engine and the rule actions. The pub emergency of the demo: a member presses the
emergency button, the rule turns the member's camera (the real ONVIF adapter and simulator on loopback) to the
door, and texts every unit of the scheme; the simulated radio sends the text to the group."""

from __future__ import annotations

import pytest
import pytest_twisted

from tests.integration.live_hub import LiveHub, free_ports, onvif_tables, until, waiting

BROADCAST = "Police on way to Rutland Arms"
PRESETS = ["Market Square", "Pub door"]
PUB_DOOR = (0.75, 0.2, 0.4)  # where the simulator puts the second of two presets
GLUMANGATE = (53.2371, -1.4248)


def config(tmp_path, base_port: int) -> str:
    radio = tmp_path / "radio-pubwatch"
    return f"""
[[incidents.rules]]
name = "pub emergency"
topics = ["shopwatch.emergency.raised"]
category = "pub emergency"
move_cameras = {{ preset = "Pub door" }}
broadcast = {{ adapter = "pubwatch", text = "{BROADCAST}" }}

[simulators.pub_radio]
type = "shopwatch"
link = "{radio}"
dialect = "ccdi"
scenario = false
units = {{ "1001" = {{}}, "1002" = {{}} }}

[adapters.pubwatch]
type = "shopwatch"
port = "{radio}"
dialect = "ccdi"
scheme = "Pubwatch"

[adapters.pubwatch.members."1001"]
name = "The Rutland Arms"
address = "23 Glumangate"
cameras = ["31"]
latitude = {GLUMANGATE[0]}
longitude = {GLUMANGATE[1]}
""" + onvif_tables({"31": (53.2372, -1.4250)}, PRESETS, base_port)


@pytest_twisted.async_yield_fixture
async def room(tmp_path):
    live = LiveHub(tmp_path, config(tmp_path, free_ports(1)))
    await live.start()
    try:
        await live.first(lambda event: event.topic == "shopwatch.radio.identified", "the base radio identified")
        await live.first(lambda event: event.topic == "onvif.camera.online", "camera 31 online")
        yield live
    finally:
        await live.stop()


@pytest_twisted.ensureDeferred
async def test_a_pub_emergency_broadcasts_to_the_scheme_and_turns_the_pubs_camera(room):
    """The radio sends the rule's text to the group address; camera 31 is at the pub door; both commands were
    asked for by the rule, on the emergency's incident, and both ended well."""
    radio = room.simulator("pub_radio").radio
    radio.emergency("1001")
    sent = await waiting(radio.when(lambda base: any(message.text == BROADCAST for message in base.sent)),
                         "the broadcast at the radio")
    [message] = [message for message in sent.sent if message.text == BROADCAST]
    assert (message.address, message.unit) == ("********", None)  # CCDI's all-units address: a group send

    incident = (await room.first(lambda event: event.topic == "incident.opened", "the incident")).incident_id
    commands = await until(lambda: len(room.of("command.shopwatch.broadcast") + room.of("command.onvif.goto_preset"))
                           == 2 and room.of("command.onvif.goto_preset") + room.of("command.shopwatch.broadcast"),
                           "both commands")
    assert {(command.payload.requested_by, command.incident_id) for command in commands} == {
        ("rule:pub emergency", incident)}
    outcomes = [await room.first(lambda event, c=command: event.causation_id == c.id and ".command." in event.topic,
                                 f"the outcome of {command.topic}") for command in commands]
    assert [outcome.topic for outcome in outcomes] == ["onvif.command.delivered", "shopwatch.command.sent"]
    position, moving = room.simulator("camera_fleet").fleet.camera("31").ptz_status()
    assert position == pytest.approx(PUB_DOOR) and not moving


@pytest_twisted.ensureDeferred
async def test_a_second_press_joins_the_incident_and_broadcasts_nothing_more(room):
    """The rule acts once per incident: a second emergency from the same handset joins it, and the radio
    sends the text once."""
    radio = room.simulator("pub_radio").radio
    radio.emergency("1001")
    await waiting(radio.when(lambda base: any(message.text == BROADCAST for message in base.sent)), "the broadcast")
    await room.first(lambda event: event.topic == "shopwatch.command.sent", "the broadcast's outcome")
    radio.end_emergency()
    await room.first(lambda event: event.topic == "shopwatch.emergency.ended", "the emergency ended")
    radio.emergency("1001")
    await until(lambda: len(room.of("shopwatch.emergency.raised")) == 2, "the second emergency")
    second = room.of("shopwatch.emergency.raised")[1]
    gathered = await room.first(lambda event: event.topic.startswith("incident.")
                                and event.payload.detail.get("seq") == second.seq,
                                "the second press gathered into the incident")
    assert gathered.topic in ("incident.event.joined", "incident.duplicate.folded")
    assert "actions" not in gathered.payload.detail
    assert len(room.of("incident.opened")) == 1
    assert [message.text for message in radio.radio.sent] == [BROADCAST]
    assert len(room.of("command.shopwatch.broadcast")) == 1
