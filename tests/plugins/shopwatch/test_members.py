"""The member list: who each unit is, what each status code means, and how both read to an operator."""

from __future__ import annotations

from hub.directory import Asset
from hub.events import Location, Severity, Subject
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig
from plugins.shopwatch.events import RadioMember
from plugins.shopwatch.members import BASE_UNIT, Members, StatusMeaning

CONFIG = ShopwatchConfig(
    port="/dev/ttyUSB0",
    members={
        "1001": MemberConfig(name="Boots", address="12 High St", cameras=("42", "43"), latitude=51.5,
                             longitude=-0.12),
        "1002": MemberConfig(name="The Crown", scheme="Pubwatch"),
    },
    status_codes={"0A": StatusCodeConfig(meaning="Shop theft", severity="high"),
                  "1F": StatusCodeConfig(meaning="Violence", severity="critical", emergency=True)},
)
MEMBERS = Members.from_config("shopwatch.town", CONFIG)


def test_a_configured_unit_is_the_member_with_its_address_and_cameras():
    """Unit 1001 is Boots, 12 High St, cameras 42 and 43, on the adapter's scheme."""
    assert MEMBERS.member("1001") == RadioMember(unit="1001", known=True, name="Boots", scheme="Shopwatch",
                                                 address="12 High St", cameras=("42", "43"))


def test_a_member_may_belong_to_another_scheme():
    """A member's own scheme overrides the adapter's."""
    assert MEMBERS.member("1002").scheme == "Pubwatch"


def test_an_unknown_unit_is_marked_unknown_not_refused():
    """A unit not in the list is known=False, nameless, on the adapter's scheme."""
    assert MEMBERS.member("9999") == RadioMember(unit="9999", known=False, name=None, scheme="Shopwatch")


def test_status_codes_carry_their_configured_meaning_severity_and_emergency_flag():
    """0A is Shop theft at high; 1F is an emergency; an unlisted code is medium with no meaning."""
    assert MEMBERS.status("0A") == StatusMeaning(code="0A", meaning="Shop theft", severity=Severity.HIGH,
                                                 emergency=False)
    assert MEMBERS.status("1F").emergency
    unknown = MEMBERS.status("33")
    assert unknown == StatusMeaning(code="33", meaning=None, severity=Severity.MEDIUM, emergency=False)
    assert unknown.label == "Status 33"


def test_a_member_reads_for_an_operator_at_night():
    """The description names the shop, its street and the unit; an unknown unit says so."""
    assert MEMBERS.describe(MEMBERS.member("1001")) == "Boots, 12 High St (unit 1001, Shopwatch)"
    assert MEMBERS.describe(MEMBERS.member("1002")) == "The Crown (unit 1002, Pubwatch)"
    assert MEMBERS.describe(MEMBERS.member("9999")) == "Unknown unit 9999 (Shopwatch)"
    assert MEMBERS.describe(MEMBERS.member(BASE_UNIT)) == "Base radio (Shopwatch)"


def test_subject_and_location_place_the_member():
    """The subject is the radio unit under the instance's name; the location the address and first camera."""
    boots = MEMBERS.member("1001")
    assert MEMBERS.subject(boots) == Subject(kind="radio_unit", id="shopwatch.town.1001", name="Boots")
    assert MEMBERS.location(boots) == Location(name="12 High St", camera="42", latitude=51.5, longitude=-0.12)
    assert MEMBERS.location(MEMBERS.member("1002")) == Location(name="The Crown")
    assert MEMBERS.subject(MEMBERS.member("9999")).name == "Unknown unit 9999"
    assert MEMBERS.location(MEMBERS.member("9999")) is None


def test_a_member_is_a_radio_unit_asset_in_the_directory():
    """The asset carries the unit, scheme, address and cameras, placed on the map."""
    assert MEMBERS.asset(MEMBERS.member("1001"), since=5.0) == Asset(
        kind="radio_unit", id="shopwatch.town.1001", name="Boots", source="shopwatch.town", latitude=51.5,
        longitude=-0.12, state="normal", state_since=5.0,
        attributes={"unit": "1001", "known": True, "scheme": "Shopwatch", "address": "12 High St",
                    "cameras": ["42", "43"]},
    )
    stranger = MEMBERS.asset(MEMBERS.member("9999"), state="emergency")
    assert (stranger.name, stranger.state, stranger.attributes["known"]) == ("Unknown unit 9999", "emergency", False)
    assert [member.unit for member in MEMBERS.all()] == ["1001", "1002"]
