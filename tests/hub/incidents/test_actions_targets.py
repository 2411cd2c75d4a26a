"""Rules whose actions cannot work are refused before the hub starts: a config problem naming the rule's key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import attrs
import pytest
from twisted.internet.testing import MemoryReactorClock

from hub.app import Hub, journal_path
from hub.config import BroadcastConfig, ConfigError, validate
from hub.incidents.actions import check_rule_targets
from hub.plugins import make_plugin_manager
from hub.testing import failure_result_of
from tests.hub.incidents.test_actions_of_rules import ADAPTER_TYPES

ADAPTERS = """
[adapters.cameras]
type = "onvif"
[adapters.force]
type = "police_link"
[adapters.pubwatch]
type = "shopwatch"
[adapters.shopwatch]
type = "shopwatch"
[adapters.fibre]
type = "fibre"
"""


def config_text(rule: str, adapters: str = ADAPTERS) -> str:
    return f"""
[[incidents.rules]]
name = "high and critical events"
min_severity = "high"

[[incidents.rules]]
name = "pub fight"
topics = ["shopwatch.emergency.raised"]
{rule}
{adapters}
"""


def problems(tmp_path: Path, rule: str, adapters: str = ADAPTERS) -> list[str]:
    path = tmp_path / "hub.toml"
    with pytest.raises(ConfigError) as refused:
        validate(tomllib.loads(config_text(rule, adapters)), path, ADAPTER_TYPES, {})
    return [f"{problem.key_path}: found {problem.found}, expected {problem.expected}"
            for problem in refused.value.problems]


def accepted(tmp_path: Path, rule: str, adapters: str = ADAPTERS) -> None:
    config = validate(tomllib.loads(config_text(rule, adapters)), tmp_path / "hub.toml", ADAPTER_TYPES, {})
    check_rule_targets(config, ADAPTER_TYPES)


def test_rules_naming_adapters_that_can_do_their_actions_are_accepted(tmp_path):
    """Broadcast, police and camera adapters named by name or by source, a text that fits: no problem."""
    accepted(tmp_path, """
move_cameras = { preset = "Pub door", adapter = "onvif.cameras" }
police = "auto"
police_adapter = "force"
broadcast = { adapter = "pubwatch", text = "Police called to Glumangate" }
""")


def test_a_broadcast_to_an_adapter_that_is_not_configured_names_the_rule_and_the_choices(tmp_path):
    """The key path is the rule's, and the problem lists the adapters that can broadcast."""
    assert problems(tmp_path, 'broadcast = { adapter = "nightwatch", text = "Fight" }') == [
        'incidents.rules[1].broadcast.adapter: found "nightwatch", which names no adapter in [adapters], '
        "expected the name of an adapter that can broadcast, one of: pubwatch, shopwatch"]


def test_a_broadcast_to_an_adapter_of_the_wrong_type_is_refused(tmp_path):
    """A camera adapter cannot broadcast."""
    assert problems(tmp_path, 'broadcast = { adapter = "cameras", text = "Fight" }') == [
        'incidents.rules[1].broadcast.adapter: found "cameras", an onvif adapter, which cannot broadcast, '
        "expected the name of an adapter that can broadcast, one of: pubwatch, shopwatch"]


def test_a_broadcast_text_the_radio_would_refuse_is_refused_with_the_commands_reason(tmp_path):
    """Longer than the 32 characters the broadcast command takes."""
    text = "Police called to the Rutland Arms, Glumangate"
    assert problems(tmp_path, f'broadcast = {{ adapter = "pubwatch", text = "{text}" }}') == [
        f'incidents.rules[1].broadcast.text: found "{text}" ({len(text)} characters), '
        "expected a text pubwatch can broadcast (text is longer than 32 characters)"]


def test_a_police_adapter_that_cannot_send_to_police_is_refused(tmp_path):
    """police_adapter naming the radio scheme, and one naming nothing."""
    assert problems(tmp_path, 'police = "offer"\npolice_adapter = "pubwatch"') == [
        'incidents.rules[1].police_adapter: found "pubwatch", a shopwatch adapter, which cannot send to police, '
        "expected the name of an adapter that can send to police, one of: force"]
    assert problems(tmp_path, 'police = "auto"\npolice_adapter = "regional"')[0].startswith(
        'incidents.rules[1].police_adapter: found "regional", which names no adapter in [adapters]')


def test_a_camera_adapter_that_cannot_turn_cameras_is_refused(tmp_path):
    """move_cameras.adapter naming the fibre adapter."""
    assert problems(tmp_path, 'move_cameras = { preset = "Pub door", adapter = "fibre" }') == [
        'incidents.rules[1].move_cameras.adapter: found "fibre", a fibre adapter, which cannot turn cameras to a '
        "preset, expected the name of an adapter that can turn cameras to a preset, one of: cameras"]


def test_with_no_adapter_able_the_problem_says_what_to_add(tmp_path):
    """No radio adapter at all: the expected part says to configure one."""
    assert problems(tmp_path, 'broadcast = { adapter = "pubwatch", text = "Fight" }',
                    adapters='[adapters.cameras]\ntype = "onvif"') == [
        'incidents.rules[1].broadcast.adapter: found "pubwatch", which names no adapter in [adapters], '
        "expected the name of an adapter that can broadcast (none is configured: add an [adapters.NAME] "
        "table of a type that can)"]


def test_every_rule_is_checked_and_ignore_rules_are_not(tmp_path):
    """Two broken rules give two problems; a rule that only ignores never acts, so it is not checked."""
    text = config_text('broadcast = { adapter = "nightwatch", text = "Fight" }') + """
[[incidents.rules]]
name = "second"
police_adapter = "regional"

[[incidents.rules]]
name = "quiet"
action = "ignore"
broadcast = { adapter = "nowhere", text = "Fight" }
"""
    with pytest.raises(ConfigError) as refused:
        validate(tomllib.loads(text), tmp_path / "hub.toml", ADAPTER_TYPES, {})
    assert [problem.key_path for problem in refused.value.problems] == [
        "incidents.rules[1].broadcast.adapter", "incidents.rules[2].police_adapter"]


def test_the_hub_start_check_names_the_file_and_the_rule(tmp_path):
    """check_rule_targets (the hub calls it at start) raises a ConfigError with the file and key path."""
    config = validate(tomllib.loads(config_text("")), tmp_path / "hub.toml", ADAPTER_TYPES, {})
    rules = list(config.incidents.rules)
    rules[1] = attrs.evolve(rules[1], broadcast=BroadcastConfig(adapter="nightwatch", text="Fight"))
    broken = attrs.evolve(config, incidents=attrs.evolve(config.incidents, rules=tuple(rules)))
    with pytest.raises(ConfigError) as refused:
        check_rule_targets(broken, ADAPTER_TYPES)
    assert str(refused.value).startswith(
        f'{tmp_path / "hub.toml"}: incidents.rules[1].broadcast.adapter: found "nightwatch", which names no adapter')


def test_a_hub_with_such_a_rule_refuses_to_start_before_opening_anything(tmp_path):
    """Hub.startService fails with the ConfigError (a config built in code skips validation); no journal is
    made and no lock taken."""
    config = validate(tomllib.loads(config_text("")), tmp_path / "hub.toml", ADAPTER_TYPES, {})
    rules = list(config.incidents.rules)
    rules[1] = attrs.evolve(rules[1], police_adapter="pubwatch")
    broken = attrs.evolve(config, incidents=attrs.evolve(config.incidents, rules=tuple(rules)))
    hub = Hub(broken, make_plugin_manager(load_entry_points=False), MemoryReactorClock(),
              adapter_types=ADAPTER_TYPES, simulator_types={})
    refused = failure_result_of(hub.startService()).value
    assert isinstance(refused, ConfigError)
    assert [problem.key_path for problem in refused.problems] == ["incidents.rules[1].police_adapter"]
    assert not journal_path(broken).parent.exists()
