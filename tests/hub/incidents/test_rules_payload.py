"""A rule's ``payload``: the adapter's own fields (a status code, a request's kind) and the values they may have."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import (
    ConfigError,
    Expected,
    IncidentRuleConfig,
    IncidentsConfig,
    load_config,
)
from hub.incidents.rules import (
    IncidentRules,
    InvalidRule,
    payload_fields,
    payload_values,
)
from tests.hub.incidents.rule_events import event


def rules(*configured: IncidentRuleConfig) -> IncidentRules:
    return IncidentRules(IncidentsConfig(rules=configured))


def matches(payload_match: dict[str, Any], an_event) -> bool:
    rule = IncidentRuleConfig(name="r", payload=payload_match)
    return rules(rule).decide(an_event).rule == "r"


def report(**data: Any):
    """A radio report whose payload the hub could not decode: its fields are a mapping."""
    return event("shopwatch.report.received", source="shopwatch.shopwatch", payload=data)


class Kind(enum.Enum):
    RETAIN = "retain_footage"


@attrs.frozen
class Member:
    unit: str
    known: bool
    cameras: tuple[str, ...] = ()


@attrs.frozen
class Report:
    """A decoded payload: its fields are attributes, one of them an object of its own."""

    member: Member
    status_code: str | None = None
    kind: Kind = Kind.RETAIN
    details: dict[str, Any] = attrs.field(factory=dict)

    @property
    def broken(self) -> str:
        raise RuntimeError("a property that fails")


def typed(**fields: Any):
    fields.setdefault("member", Member(unit="1001", known=True, cameras=("42", "43")))
    return attrs.evolve(report(), payload=Report(**fields))


# --- matching -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "code", "expected"),
    [
        ({"status_code": "01"}, "01", True),
        ({"status_code": "01"}, "0A", False),
        ({"status_code": "01"}, "1", False),
        ({"status_code": "0a"}, "0A", False),
        ({"status_code": ["01", "0A"]}, "0A", True),
        ({"status_code": ["01", "0A"]}, "02", False),
    ],
)
def test_a_field_matches_its_value_or_one_of_its_values_exactly_as_text(wanted, code, expected):
    """A string is compared exactly (case too); an array of values is a choice."""
    assert matches(wanted, report(status_code=code)) is expected
    assert matches(wanted, typed(status_code=code)) is expected


@pytest.mark.parametrize(
    ("wanted", "found", "expected"),
    [
        (1, "1", True),
        ("1", 1, True),
        (2, 2.0, True),
        (2.5, "2.5", True),
        ("01", 1, False),
        (1, 1.5, False),
    ],
)
def test_numbers_are_compared_as_text(wanted, found, expected):
    """A number in the rule or the payload is its text, so 1 and "1" are the same value, and "01" is not."""
    assert matches({"count": wanted}, report(count=found)) is expected


@pytest.mark.parametrize(
    ("wanted", "found", "expected"),
    [
        (True, True, True),
        (False, False, True),
        (True, False, False),
        (True, "true", False),
        (True, 1, False),
        (1, True, False),
        ("true", True, False),
        ("True", True, False),
    ],
)
def test_booleans_are_compared_exactly(wanted, found, expected):
    """true only ever matches true: not the text "true", not 1."""
    assert matches({"needs_consent": wanted}, report(needs_consent=found)) is expected


def test_dotted_names_reach_into_nested_fields_of_mappings_and_objects():
    """member.unit is the unit of the member, whether the payload is a mapping or a decoded object."""
    wanted = {"member.unit": "1001", "member.known": True}
    assert matches(wanted, report(member={"unit": "1001", "known": True}))
    assert matches(wanted, typed())
    assert not matches(wanted, typed(member=Member(unit="1002", known=True)))
    assert matches({"details.crime_reference": "DBY/26/1"}, typed(details={"crime_reference": "DBY/26/1"}))


def test_a_nested_table_is_the_same_as_a_dotted_name():
    """payload = { member = { unit = "1001" } } (what TOML makes of payload.member.unit) reads as member.unit."""
    assert payload_fields({"member": {"unit": "1001", "known": True}}) == (
        ("member.unit", ("1001",)), ("member.known", (True,)))
    assert matches({"member": {"unit": "1001"}}, typed())


def test_a_field_holding_a_list_matches_when_any_item_does():
    """member.cameras holds 42 and 43: a rule for 43 matches; a way through a list looks in each item."""
    assert matches({"member.cameras": "43"}, typed())
    assert not matches({"member.cameras": "17"}, typed())
    assert matches({"officers.name": "PC Hale"}, report(officers=[{"name": "PC Vane"}, {"name": "PC Hale"}]))


def test_an_enumeration_is_compared_by_its_value():
    """A decoded payload's enumerated field is its value, as the journal writes it."""
    assert matches({"kind": "retain_footage"}, typed())
    assert not matches({"kind": "RETAIN"}, typed())


@pytest.mark.parametrize(
    "an_event",
    [
        report(),
        report(status_code=None),
        report(status_code={"code": "01"}),
        report(status_code=["02"]),
        report(member="1001"),
        event("shopwatch.report.received", source="shopwatch.shopwatch"),
        typed(),
        typed(status_code=None),
    ],
    ids=["absent", "null", "a table", "other items", "not an object", "empty payload", "typed, absent",
         "typed, none"],
)
def test_a_payload_without_the_field_does_not_match_and_raises_nothing(an_event):
    """A payload lacking the field, holding nothing there, or holding something else, simply does not match."""
    assert not matches({"status_code": "01"}, an_event)
    assert not matches({"member.unit.number": "1001"}, an_event)


def test_failing_properties_methods_and_private_names_are_not_read():
    """A property that raises, a method and a private attribute give nothing to match, and no error."""
    assert payload_values(typed(), ("broken",)) == ()
    assert payload_values(typed(), ("evolve",)) == ()
    assert payload_values(typed(), ("__class__",)) == ()
    assert payload_values(typed(), ("member", "unit")) == ("1001",)
    assert not matches({"broken": "x"}, typed())


def test_every_payload_field_given_must_match_as_must_the_other_criteria():
    """Two fields: both must match; the topic must match too."""
    wanted = {"status_code": "01", "member.unit": "1001"}
    assert matches(wanted, report(status_code="01", member={"unit": "1001"}))
    assert not matches(wanted, report(status_code="01", member={"unit": "1002"}))
    rule = IncidentRuleConfig(name="r", topics=("police.#",), payload={"status_code": "01"})
    assert rules(rule).decide(report(status_code="01")).rule is None


def test_an_empty_payload_table_matches_anything():
    """payload = {} says nothing about the payload, like an empty list."""
    assert matches({}, report())


def test_the_first_rule_decides_so_a_code_can_have_its_own_rule_before_a_broad_one():
    """Status 01 is a shop theft, 0A an aggressive customer, anything else a plain report."""
    compiled = rules(
        IncidentRuleConfig(name="theft", payload={"status_code": "01"}),
        IncidentRuleConfig(name="aggressive", payload={"status_code": "0A"}),
        IncidentRuleConfig(name="reports"),
    )
    assert [compiled.decide(report(status_code=c)).rule for c in ("01", "0A", "02")] == [
        "theft", "aggressive", "reports"]


# --- the configuration's check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("01", "a table of payload fields"),
        (["status_code", "01"], "a table of payload fields"),
        ({"": "01"}, 'no empty part between dots (found "")'),
        ({" ": "01"}, 'no empty part between dots (found " ")'),
        ({"member..unit": "01"}, 'no empty part between dots (found "member..unit")'),
        ({"member.": "01"}, 'no empty part between dots (found "member.")'),
        ({"member": {"": "1"}}, 'no empty part between dots (found "member.")'),
        ({"x" * 201: "1"}, "1 to 200 characters"),
        ({"status_code": []}, "at least one value for payload field status_code"),
        ({"status_code": {}}, "for payload field status_code (found an empty table)"),
        ({"status_code": [["01"]]}, "(found an array inside the array)"),
        ({"status_code": [{"a": 1}]}, "(found a table inside the array)"),
        ({"status_code": float("nan")}, "(found a number that is not finite)"),
        ({"status_code": None}, "(found a NoneType)"),
        ({"status_code": "x" * 1001}, "a string of 1001 characters"),
    ],
)
def test_a_payload_that_cannot_be_matched_is_refused_saying_what_is_wrong(value, said):
    """Not a table, an empty name or part of one, no value, or a value of the wrong kind: refused."""
    with pytest.raises(Expected) as caught:
        IncidentRuleConfig(name="r", payload=value)
    assert said in str(caught.value)


def test_the_config_file_names_the_rule_and_key_of_a_bad_payload(tmp_path: Path):
    """In a file, the problem is located at the rule's payload key, with an example of what would do."""
    path = tmp_path / "hub.toml"
    path.write_text('[[incidents.rules]]\nname = "ok"\npayload.member.unit = "1001"\n\n'
                    '[[incidents.rules]]\nname = "theft"\npayload = "01"\n\n'
                    '[[incidents.rules]]\nname = "kind"\npayload = { request_type = [] }\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {}, {})
    by_key = {problem.key_path: problem for problem in caught.value.problems}
    assert set(by_key) == {"incidents.rules[1].payload", "incidents.rules[2].payload"}
    assert 'e.g. payload = { status_code = "01" }' in str(by_key["incidents.rules[1].payload"])
    assert "at least one value for payload field request_type" in str(by_key["incidents.rules[2].payload"])


def test_a_valid_payload_reads_from_a_file(tmp_path: Path):
    """Inline tables, quoted dotted names and TOML's dotted keys all read as the rule's payload."""
    path = tmp_path / "hub.toml"
    path.write_text('[[incidents.rules]]\nname = "inline"\npayload = { status_code = "01", "member.unit" = ["1001"] }\n'
                    '\n[[incidents.rules]]\nname = "dotted"\npayload.member.unit = "1001"\npayload.known = true\n')
    inline, dotted = load_config(path, {}, {}).incidents.rules
    assert payload_fields(inline.payload) == (("status_code", ("01",)), ("member.unit", ("1001",)))
    assert payload_fields(dotted.payload) == (("member.unit", ("1001",)), ("known", (True,)))


def test_a_bad_payload_built_around_the_check_is_refused_when_compiled():
    """A rule whose payload was changed after its check is still refused, naming the rule, when compiled."""
    rule = IncidentRuleConfig(name="theft", payload={"status_code": "01"})
    object.__setattr__(rule, "payload", {"status_code": []})
    with pytest.raises(InvalidRule, match="incident rule 'theft': payload: expected at least one value"):
        rules(rule)


# --- what explain() says ---------------------------------------------------------------------------------


def payload_checks(wanted: dict[str, Any], an_event) -> list[tuple[bool, str]]:
    tried = rules(IncidentRuleConfig(name="r", payload=wanted)).explain(an_event).rules[0]
    return [(check.matched, check.detail) for check in tried.checks if check.criterion == "payload"]


def test_explain_says_which_field_did_not_match_and_what_it_held():
    """Each field is its own line: what it held and what the rule wants."""
    wanted = {"status_code": "01", "member.unit": "1001"}
    assert payload_checks(wanted, report(status_code="0A", member={"unit": "1001"})) == [
        (False, 'status_code is "0A", not "01"'),
        (True, 'member.unit is "1001"'),
    ]


def test_explain_shows_choices_missing_fields_and_lists():
    """One of several values, a payload without the field, and a field holding a list are each said plainly."""
    kinds = {"request_type": ["retain_footage", "live_view"]}
    assert payload_checks(kinds, report(request_type="live_view")) == [
        (True, 'request_type is "live_view", one of "retain_footage", "live_view"')]
    assert payload_checks(kinds, report(request_type="point_camera")) == [
        (False, 'request_type is "point_camera", none of "retain_footage", "live_view"')]
    assert payload_checks({"status_code": "01"}, report()) == [
        (False, 'the payload has no status_code (the rule wants "01")')]
    assert payload_checks(kinds, report()) == [
        (False, 'the payload has no request_type (the rule wants one of "retain_footage", "live_view")')]
    assert payload_checks({"member.cameras": "17"}, typed()) == [
        (False, 'member.cameras is ["42", "43"], not "17"')]
    assert payload_checks({"needs_consent": True}, report(needs_consent=False)) == [
        (False, "needs_consent is false, not true")]


# --- never an error, always the same answer -------------------------------------------------------------

_scalars = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.booleans(),
                     st.floats(allow_nan=False, allow_infinity=False, width=16))
_json = st.recursive(
    st.one_of(st.none(), _scalars),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=8,
)
_names = st.lists(st.sampled_from("abc"), min_size=1, max_size=3).map(".".join)
_wanted = st.dictionaries(_names, st.one_of(_scalars, st.lists(_scalars, min_size=1, max_size=3)), max_size=3)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.sampled_from("abc"), _json, max_size=3), wanted=_wanted)
def test_any_payload_is_decided_without_error_and_explain_agrees(data, wanted):
    """Whatever the payload holds, deciding raises nothing and explain's marks agree with decide."""
    compiled = rules(IncidentRuleConfig(name="r", payload=wanted))
    an_event = report(**data)
    decided = compiled.decide(an_event).rule == "r"
    tried = compiled.explain(an_event).rules[0]
    assert tried.matched is decided
    assert decided is all(check.matched for check in tried.checks)
