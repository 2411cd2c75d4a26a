"""``[scenario]``: a demo's script of narrated steps and simulator cues, checked like every other section."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import (
    ConfigError,
    ScenarioConfig,
    ScenarioCue,
    ScenarioStep,
    load_config,
)


def load(tmp_path: Path, text: str):
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return load_config(path, {})


def problems(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return {problem.key_path: problem.expected for problem in caught.value.problems}


def test_no_scenario_section_means_nothing_to_play(tmp_path: Path) -> None:
    """Without [scenario] there are no steps, at normal speed, never repeated."""
    assert load(tmp_path, "").scenario == ScenarioConfig()
    assert ScenarioConfig().steps == () and ScenarioConfig().speed == 1 and ScenarioConfig().repeat_s is None


def test_steps_with_their_cues_and_arguments_are_read(tmp_path: Path) -> None:
    """Each step keeps its time, its line and its cues, whose arguments are kept as written."""
    config = load(tmp_path, """
[scenario]
name = "An evening in town"
speed = 4
repeat_s = 600
[[scenario.steps]]
at_s = 30
say = "Boots reports a shop theft"
cues = [{ simulator = "shopwatch_radio", cue = "status", arguments = { unit = "1001", code = "01" } }]
[[scenario.steps]]
at_s = 90
say = "Camera 24 is tampered with"
cues = [
  { simulator = "cameras", cue = "tamper", arguments = { camera = "3" } },
  { simulator = "fibre", cue = "node_down", arguments = { node = "node-03", for_s = 90 } },
]
""")
    assert config.scenario == ScenarioConfig(
        name="An evening in town", speed=4.0, repeat_s=600.0, steps=(
            ScenarioStep(30.0, "Boots reports a shop theft", (
                ScenarioCue("shopwatch_radio", "status", {"unit": "1001", "code": "01"}),)),
            ScenarioStep(90.0, "Camera 24 is tampered with", (
                ScenarioCue("cameras", "tamper", {"camera": "3"}),
                ScenarioCue("fibre", "node_down", {"node": "node-03", "for_s": 90}))),
        ))


def test_a_repeat_no_longer_than_the_script_is_refused(tmp_path: Path) -> None:
    """repeat_s must leave room for the last step, or the rounds would overlap."""
    found = problems(tmp_path, '[scenario]\nrepeat_s = 60\n[[scenario.steps]]\nat_s = 60\nsay = "x"\n')
    assert found == {"scenario": "repeat_s longer than the last step's at_s (60)"}


def test_every_bad_key_of_a_step_is_reported(tmp_path: Path) -> None:
    """A negative time, an empty line, a simulator name no table could have and a cue without a name: each said."""
    found = problems(tmp_path, """
[scenario]
speed = 0
[[scenario.steps]]
at_s = -1
say = " "
cues = [{ simulator = "Pub Radio", cue = "" }, { simulator = "fibre", cue = "node_down", arguments = 3 }]
""")
    assert found == {
        "scenario.speed": "a number from 0.01 to 1000",
        "scenario.steps[0].at_s": "a number from 0 to 604800",
        "scenario.steps[0].say": "what the narrator says, 1 to 300 characters",
        "scenario.steps[0].cues[0].simulator": 'the name of a [simulators.NAME] table, e.g. "pubwatch_radio"',
        "scenario.steps[0].cues[0].cue": 'a cue name such as "emergency" or "node_down"',
        "scenario.steps[0].cues[1].arguments": "a table",
    }


def test_an_unknown_key_in_a_cue_is_refused(tmp_path: Path) -> None:
    """A misspelt key in a cue is named, with the keys a cue has and the one it was probably meant to be."""
    found = problems(tmp_path, '[[scenario.steps]]\nat_s = 1\nsay = "x"\ncues = [{ simulator = "a", cue = "b", args = {} }]\n')
    assert found == {"scenario.steps[0].cues[0].args": "one of: arguments, cue, simulator (did you mean arguments?)"}
