"""A rule's move_cameras through the whole hub, on real sockets: the incident engine, the rule actions, the
real ONVIF adapter and the ONVIF simulator on loopback. A help-point button pressed on a camera opens an
incident, and the rule turns that camera and its nearest neighbour to their "Help point" preset."""

from __future__ import annotations

import pytest
import pytest_twisted

from hub.events import Event
from tests.integration.live_hub import LiveHub, free_ports, onvif_tables, until

HELP_POINT = "tns1:Device/Trigger/DigitalInput"
#: Two presets on every simulated camera: the simulator spreads them over the head's range, so "Help point",
#: the second, sits at pan 0.75, tilt 0.2, zoom 0.4; a camera starts at home (0, 0, 0).
PRESETS = ["Market Square", "Help point"]
HELP_POINT_POSITION = (0.75, 0.2, 0.4)
#: Cameras 31 and 32 forty metres apart on Glumangate; 33 a kilometre away.
CAMERAS = {"31": (53.2372, -1.4250), "32": (53.23756, -1.4250), "33": (53.2462, -1.4250)}

RULES = """
[[incidents.rules]]
name = "help point pressed"
topics = ["onvif.input.started"]
category = "help point"
move_cameras = { preset = "Help point", count = 2, within_m = 200 }
"""


@pytest_twisted.async_yield_fixture
async def room(tmp_path):
    live = LiveHub(tmp_path, RULES + onvif_tables(CAMERAS, PRESETS, free_ports(len(CAMERAS))))
    await live.start()
    try:
        for number in CAMERAS:
            await live.first(lambda event, n=number: event.topic == "onvif.camera.online" and event.subject.id == n,
                             f"camera {number} online")
        yield live
    finally:
        await live.stop()


def camera(room: LiveHub, number: str):
    return room.simulator("camera_fleet").fleet.camera(number)


def outcome_of(room: LiveHub, command: Event) -> Event | None:
    return next((event for event in room.events if event.topic.startswith("onvif.command.")
                 and event.causation_id == command.id), None)


@pytest_twisted.ensureDeferred
async def test_a_help_point_turns_its_camera_and_the_nearest_one_to_the_preset(room):
    """The button on camera 31: an incident opens, goto_preset goes to 31 (named) and 32 (40 m away), both
    heads end at the preset, and camera 33 (a kilometre off) does not move."""
    camera(room, "31").raise_event(HELP_POINT, state=True)
    opened = await room.first(lambda event: event.topic == "incident.opened", "the help point's incident")
    assert opened.payload.detail["actions"] == "help point pressed"
    moves = await until(lambda: len(room.of("command.onvif.goto_preset")) == 2 and room.of("command.onvif.goto_preset"),
                        "two camera moves")
    assert [(move.payload.arguments["camera"], move.payload.arguments["preset"]) for move in moves] == [
        ("31", "Help point"), ("32", "Help point")]
    outcomes = [await until(lambda move=move: outcome_of(room, move), f"the outcome of {move.summary}")
                for move in moves]
    assert [outcome.topic for outcome in outcomes] == ["onvif.command.delivered"] * 2, [o.summary for o in outcomes]
    for number in ("31", "32"):
        position, moving = camera(room, number).ptz_status()
        assert position == pytest.approx(HELP_POINT_POSITION) and not moving, number
    assert camera(room, "33").ptz_status()[0] == pytest.approx((0.0, 0.0, 0.0))


@pytest_twisted.ensureDeferred
async def test_the_journal_says_why_the_camera_moved(room):
    """From the camera's preset-reached event back to the button: outcome -> command (rule:NAME) ->
    incident.opened -> the help-point event, all on one incident."""
    camera(room, "31").raise_event(HELP_POINT, state=True)
    move = await room.first(lambda event: event.topic == "command.onvif.goto_preset"
                            and event.payload.arguments["camera"] == "31", "camera 31's move")
    outcome = await until(lambda: outcome_of(room, move), "the move's outcome")
    by_id = {event.id: event for event in room.events}
    opened = by_id[move.causation_id]
    pressed = by_id[opened.causation_id]
    assert move.payload.requested_by == "rule:help point pressed"
    assert (opened.topic, pressed.topic, pressed.subject.id) == ("incident.opened", "onvif.input.started", "31")
    assert outcome.incident_id == move.incident_id == opened.incident_id
    reached = await room.first(lambda event: event.topic == "onvif.preset.reached" and event.subject.id == "31",
                               "camera 31 saying it reached the preset")
    assert reached.occurred_at >= pressed.occurred_at
