"""Which cameras are nearest an event: named ones first, then the member's, the node's, then by distance."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from hub.directory import Asset, Directory
from hub.events import EventFactory, Location, Severity, Subject
from hub.incidents.nearest import NearCamera, distance_m, nearest_cameras
from hub.testing import Note

#: The Market Place, and points a known distance north of it (a degree of latitude is about 111.2 km).
MARKET = (53.2351, -1.4216)
METRE_OF_LATITUDE = 1 / 111_195.0


def north_of_market(metres: float) -> tuple[float, float]:
    return MARKET[0] + metres * METRE_OF_LATITUDE, MARKET[1]


def camera(number: str, source: str | None = "onvif.cameras", at: tuple[float, float] | None = None) -> Asset:
    latitude, longitude = at if at is not None else (None, None)
    return Asset(kind="camera", id=number, source=source, latitude=latitude, longitude=longitude)


def event(subject: Subject = Subject(kind="radio_unit", id="shopwatch.town.1001"), location: Location | None = None):
    return EventFactory(Clock(), "shopwatch.town")(
        "shopwatch.emergency.raised", Note("help"), severity=Severity.CRITICAL, subject=subject, summary="help",
        location=location,
    )


@pytest.fixture
def directory() -> Directory:
    """Cameras 10 m, 120 m and 250 m north of the Market Place, one 5 km away, and two without a place."""
    directory = Directory()
    for number, metres in (("17", 10), ("42", 120), ("43", 250), ("99", 5000)):
        directory.put(camera(number, at=north_of_market(metres)))
    directory.put(camera("23"))
    directory.put(camera("31", source="onvif.north", at=north_of_market(60)))
    return directory


def numbers(found: list[NearCamera]) -> list[str]:
    return [near.camera for near in found]


def test_the_camera_the_events_location_names_comes_first(directory):
    """A location's camera is chosen, named, with the adapter the directory says drives it."""
    found = nearest_cameras(event(location=Location(camera="23")), directory)
    assert found == [NearCamera(camera="23", adapter="onvif.cameras", why="named")]


def test_an_event_about_a_camera_names_that_camera(directory):
    """A camera subject is chosen as named, after the location's camera, each once."""
    found = nearest_cameras(event(subject=Subject(kind="camera", id="42"), location=Location(camera="23")),
                            directory, count=3)
    assert [(near.camera, near.why) for near in found] == [("23", "named"), ("42", "named")]


def test_a_radio_members_cameras_follow_the_named_one_in_the_directorys_order(directory):
    """A radio unit's directory entry lists its cameras; they come after the named one, the named one not twice."""
    directory.put(Asset(kind="radio_unit", id="shopwatch.town.1001", attributes={"cameras": ["23", "42", "43"]}))
    found = nearest_cameras(event(location=Location(camera="23")), directory, count=3)
    assert [(near.camera, near.why) for near in found] == [("23", "named"), ("42", "member"), ("43", "member")]


def test_a_fibre_nodes_cameras_are_the_ones_behind_it(directory):
    """An event about a node chooses the cameras its directory entry says hang off it."""
    directory.put(Asset(kind="fibre_node", id="node-03", attributes={"cameras": ["31", "43"]}))
    found = nearest_cameras(event(subject=Subject(kind="fibre_node", id="node-03")), directory, count=5)
    assert [(near.camera, near.adapter, near.why) for near in found] == [
        ("31", "onvif.north", "node"), ("43", "onvif.cameras", "node")]


def test_without_a_named_camera_the_closest_within_range_are_chosen_closest_first(directory):
    """By coordinates: cameras within range, closest first, each with its distance; far ones are not."""
    latitude, longitude = MARKET
    found = nearest_cameras(event(location=Location(latitude=latitude, longitude=longitude)), directory,
                            count=10, within_m=300)
    assert numbers(found) == ["17", "31", "42", "43"]
    assert [near.why for near in found] == ["distance"] * 4
    assert [near.metres for near in found] == pytest.approx([10, 60, 120, 250], abs=0.5)


def test_distance_fills_up_the_count_after_the_named_cameras(directory):
    """A named camera and then the closest others, up to the count, without the named one again."""
    latitude, longitude = MARKET
    found = nearest_cameras(event(location=Location(camera="42", latitude=latitude, longitude=longitude)),
                            directory, count=3)
    assert [(near.camera, near.why) for near in found] == [("42", "named"), ("17", "distance"), ("31", "distance")]


def test_the_count_caps_what_is_chosen(directory):
    """count=1 gives the single best camera."""
    latitude, longitude = MARKET
    assert numbers(nearest_cameras(event(location=Location(latitude=latitude, longitude=longitude)),
                                   directory, count=1)) == ["17"]


def test_within_m_is_the_range(directory):
    """A smaller range leaves out cameras beyond it."""
    latitude, longitude = MARKET
    assert numbers(nearest_cameras(event(location=Location(latitude=latitude, longitude=longitude)),
                                   directory, count=10, within_m=100)) == ["17", "31"]


def test_an_adapter_keeps_only_its_own_cameras(directory):
    """adapter= keeps the cameras that instance drives, by any way of choosing."""
    latitude, longitude = MARKET
    near_market = Location(camera="17", latitude=latitude, longitude=longitude)
    assert numbers(nearest_cameras(event(location=near_market), directory, count=10,
                                   adapter="onvif.north")) == ["31"]
    assert numbers(nearest_cameras(event(location=near_market), directory, count=10,
                                   adapter="onvif.cameras")) == ["17", "42", "43"]


def test_a_camera_the_directory_does_not_know_is_still_given_without_an_adapter(directory):
    """A named camera missing from the directory is chosen with adapter None (the action says so)."""
    assert nearest_cameras(event(location=Location(camera="404")), directory) == [
        NearCamera(camera="404", adapter=None, why="named")]


def test_an_adapter_filter_leaves_out_cameras_the_directory_does_not_know(directory):
    """With adapter= an unknown camera cannot be that adapter's, so it is not chosen."""
    assert nearest_cameras(event(location=Location(camera="404")), directory, adapter="onvif.cameras") == []


def test_an_event_with_no_camera_no_member_and_no_place_has_none(directory):
    """Nothing to go on: an empty list."""
    assert nearest_cameras(event(subject=Subject(kind="partner", id="bid")), directory) == []


def test_a_member_the_directory_does_not_know_falls_back_to_distance(directory):
    """A radio unit with no directory entry: the cameras near its coordinates."""
    latitude, longitude = north_of_market(250)
    found = nearest_cameras(event(location=Location(latitude=latitude, longitude=longitude)), directory,
                            within_m=50)
    assert numbers(found) == ["43"]


def test_distance_is_the_great_circle_distance_in_metres():
    """Zero for the same point, about 111.2 km for a degree of latitude, symmetric."""
    assert distance_m(*MARKET, *MARKET) == 0
    assert distance_m(53.0, -1.0, 54.0, -1.0) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(*MARKET, 53.2376, -1.4199) == pytest.approx(distance_m(53.2376, -1.4199, *MARKET))
    # London to Paris, a textbook figure: about 343.5 km.
    assert distance_m(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343_500, rel=5e-3)
