"""hub rules test: what the rules would do with an event, said for people and as JSON; bad files refused."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.events import EventCodec, EventTypeRegistry
from hub.plugins import make_plugin_manager
from hub.rules_cli import read_event

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
CONTROL_ROOM = EXAMPLES / "control-room.toml"
DOC = ROOT / "docs" / "rules.md"


def run(capsys, *args: str | Path) -> tuple[int, str, str]:
    code = main(["rules", "test", *(str(arg) for arg in args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(folder: Path, data: Any, name: str = "event.json") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def pub_event(**changes: Any) -> dict[str, Any]:
    data = json.loads((EXAMPLES / "pub-emergency.json").read_text())
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# --- what it says -------------------------------------------------------------------------------------


def test_it_names_the_rule_the_incident_and_every_action_for_the_pub_emergency(capsys):
    """The pub emergency at night: its rule, category, SOP, both cameras with why, the police offer, the
    broadcast and the rule's own escalation; and that nothing was done."""
    code, out, err = run(capsys, "--config", CONTROL_ROOM, EXAMPLES / "pub-emergency.json")
    assert code == 0 and err == ""
    assert "OPENS AN INCIDENT by rule 'pub emergency at night'" in out
    assert "category emergency, priority 1" in out
    assert "1. Find the caller on camera and keep them in view" in out
    assert "camera 23 The Crown doorway (named by the event) through onvif.cameras" in out
    assert "camera 17 Market Place north (28.5 m away) through onvif.cameras" in out
    assert 'offered: the operator gets a one-click "Send to police" (police_link.police)' in out
    assert "to every unit of shopwatch.pubwatch: 'Emergency on: doors shut please'" in out
    assert "within 30 s (the rule's escalate_after_s)" in out
    assert out.rstrip().endswith("Nothing was done: this only shows what the rules would do with the event.")


def test_json_gives_the_same_as_the_text(capsys):
    """--json: one object with the windows, the rules tried, and the outcome with each action."""
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, EXAMPLES / "pub-emergency.json", "--json")
    assert code == 0
    report = json.loads(out)
    assert [w["name"] for w in report["maintenance"]] == ["camera 24 lens cleaning", "node-03 splicing"]
    assert [(r["name"], r["matched"]) for r in report["rules"]] == [("pub emergency at night", True)]
    assert report["rules_not_tried"] == 4
    outcome = report["outcome"]
    assert (outcome["action"], outcome["rule"], outcome["suppressed_by"]) == ("open", "pub emergency at night", None)
    assert [(c["camera"], c["why"], c["adapter"]) for c in outcome["move_cameras"]["cameras"]] == [
        ("23", "named", "onvif.cameras"), ("17", "distance", "onvif.cameras")]
    assert outcome["police"] == {"mode": "offer", "adapters": ["police_link.police"], "skipped": None}
    assert outcome["broadcast"]["adapter"] == "shopwatch.pubwatch" and outcome["broadcast"]["skipped"] is None
    assert outcome["escalation"] == {"after_s": 30.0, "from": "rule", "severity": "critical", "repeat_s": 120.0}
    assert report["event"]["zone"] == "GMT" and report["event"]["local_time"] == "2026-11-21T23:14:05+00:00"


def test_a_camera_under_maintenance_is_left_alone_naming_the_window(capsys):
    """The tamper during lens cleaning: left alone, by that window, with its reason; the rule that would
    decide outside the window is still shown."""
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, EXAMPLES / "camera-tamper.json", "--json")
    report = json.loads(out)
    assert code == 0
    assert report["outcome"] == {"action": "ignore", "rule": None, "suppressed_by": "camera 24 lens cleaning",
                                 "incident_id": None, "reason": "Lens cleaning (council works order 4471)"}
    assert report["rules"][-1]["name"] == "camera tampering" and report["rules"][-1]["matched"]


def test_a_fibre_outage_during_the_works_is_left_alone_and_read_with_its_covers(capsys):
    """The node-down payload, read as the fibre plugin's type, covers its cameras: the window lists them all."""
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, EXAMPLES / "fibre-node-down.json")
    assert code == 0
    assert "LEFT ALONE: maintenance window 'node-03 splicing' covers it" in out


def test_an_outage_beyond_the_works_is_shown_opening_its_incident(tmp_path, capsys):
    """node-03 down at 02:31 taking a camera the works do not list: the window says why it does not cover it."""
    data = json.loads((EXAMPLES / "fibre-node-down.json").read_text())
    data["payload"]["cameras"] = ["23", "24", "31", "99"]
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, data))
    assert code == 0
    assert "also takes down camera:99" in out
    assert "OPENS AN INCIDENT by rule 'fibre outages'" in out


def test_an_event_no_rule_matches_is_said_to_be_ignored(tmp_path, capsys):
    """A low event about nothing the rules know: ignored, no rule matches, still journaled."""
    event = pub_event(topic="shopwatch.report.received", severity="low", type=None, payload=None)
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, event))
    assert code == 0
    assert "Outcome    IGNORED: no rule matches." in out
    assert "NO   min_severity low is below high" in out


def test_a_rule_on_a_status_code_says_which_code_the_report_had(tmp_path, capsys):
    """The shop-theft rule wants status code 01: a report of 02 fails on payload, saying what it was."""
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, EXAMPLES / "shop-theft.json")
    assert code == 0
    assert '       yes  payload      status_code is "01"' in out.splitlines()
    data = json.loads((EXAMPLES / "shop-theft.json").read_text())
    data["payload"].update(status_code="02", status_meaning="Suspect seen")
    data["severity"] = "high"
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, data), "--json")
    assert code == 0
    report = json.loads(out)
    theft = next(tried for tried in report["rules"] if tried["name"] == "shop theft")
    assert theft["matched"] is False
    assert {"criterion": "payload", "matched": False, "detail": 'status_code is "02", not "01"'} in theft["checks"]
    assert report["outcome"]["rule"] == "anything else urgent"


def test_a_payload_without_the_field_a_rule_wants_is_said_to_lack_it(tmp_path, capsys):
    """A report with no status code (a text message) cannot be a shop theft by code; the output says why."""
    data = json.loads((EXAMPLES / "shop-theft.json").read_text())
    data["payload"] = {"member": data["payload"]["member"], "text": "All quiet"}
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, data))
    assert code == 0
    assert '       NO   payload      the payload has no status_code (the rule wants "01")' in out.splitlines()


def test_a_camera_no_adapter_knows_is_shown_as_skipped(tmp_path, capsys):
    """The event names a camera no adapter is configured with: it would not move, and the output says why."""
    event = pub_event(location={"name": "3 Market Place", "camera": "77"})
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, event))
    assert code == 0
    assert "camera 77 (named by the event); WOULD BE SKIPPED: no configured adapter knows this camera" in out


def test_a_rule_whose_target_is_not_configured_is_refused_as_the_config_is(tmp_path, capsys):
    """A broadcast to a scheme that is not configured is a config problem at the rule's key: exit 2."""
    config = write(tmp_path, """
[[incidents.rules]]
name = "pub"
broadcast = { adapter = "nowhere", text = "x" }
""", "hub.toml")
    code, out, err = run(capsys, "--config", config, EXAMPLES / "pub-emergency.json")
    assert code == 2 and out == ""
    assert "incidents.rules[0].broadcast.adapter" in err


def test_an_adapter_left_out_by_only_when_lends_no_cameras(tmp_path):
    """An instance the hub would skip (only_when = "root" in a hub not run as root) declares nothing."""
    from hub.cli import load
    from hub.rules_cli import declared_directory

    text = CONTROL_ROOM.read_text().replace('[adapters.cameras]\ntype = "onvif"',
                                            '[adapters.cameras]\ntype = "onvif"\nonly_when = "root"')
    assert 'only_when = "root"' in text
    config, host = load(write(tmp_path, text, "hub.toml"), read_secrets=False)
    as_root, _problems = declared_directory(config, host.adapter_types(), root=True)
    not_root, _problems = declared_directory(config, host.adapter_types(), root=False)
    assert as_root.get("camera", "23") is not None
    assert not_root.get("camera", "23") is None and not_root.get("fibre_node", "node-03") is not None


def test_an_event_naming_an_incident_says_it_joins_that_incident(tmp_path, capsys):
    """An event that names an incident joins it while open; the output says so before the rules' answer."""
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, pub_event(incident_id="INC-000042")))
    assert code == 0
    assert "The event names incident INC-000042: while that incident is open the event joins it" in out


def test_a_hub_topic_is_said_to_be_beyond_the_rules(tmp_path, capsys):
    """A command or incident event: no rule or window applies."""
    code, out, _err = run(capsys, "--config", CONTROL_ROOM,
                          write(tmp_path, pub_event(topic="command.onvif.goto_preset", type=None, payload=None)))
    assert code == 0
    assert "none apply: command.onvif.goto_preset is one of the hub's own topics (command.#)" in out


# --- the event file -------------------------------------------------------------------------------------


def test_a_line_of_hub_events_is_read_as_it_is(tmp_path, capsys):
    """What the journal prints (seq first, schema, every envelope field) needs nothing filled in."""
    registry = EventTypeRegistry()
    registry.register_all(make_plugin_manager().event_types())
    event, _notes = read_event((EXAMPLES / "pub-emergency.json").read_text(), file="x", registry=registry,
                               timezone_name="Europe/London")
    line = '{"seq":812,' + EventCodec(registry).to_json(event)[1:]
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, line + "\n"))
    assert code == 0
    assert "Filled in" not in out
    assert "OPENS AN INCIDENT by rule 'pub emergency at night'" in out


def test_what_a_person_leaves_out_is_filled_in_and_said(tmp_path, capsys):
    """No id, received_at, summary, type or payload; a local time without offset; a camera as a number."""
    event = {"topic": "onvif.tamper.started", "source": "onvif.cameras", "severity": "high",
             "occurred_at": "2026-07-04T23:30:00", "subject": {"kind": "camera", "id": 24},
             "location": {"camera": 24}}
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, event), "--json")
    report = json.loads(out)
    assert code == 0
    filled = "\n".join(report["filled_in"])
    for said in ("occurred_at: no offset given; read as Europe/London time (2026-07-04 23:30:00 BST)",
                 "received_at: not given", "id: not given", "summary: not given", "payload: not given",
                 "type: not given", "subject.id: given as a number", "location.camera: given as a number"):
        assert said in filled
    assert report["event"]["occurred_at"] == "2026-07-04T22:30:00Z"
    assert report["outcome"]["rule"] == "camera tampering"


def test_the_event_can_come_from_standard_input(monkeypatch, capsys):
    """'-' reads the event from standard input (hub events ... | hub rules test ... -)."""
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO((EXAMPLES / "shop-theft.json").read_text()))
    code, out, _err = run(capsys, "--config", CONTROL_ROOM, "-")
    assert code == 0 and "OPENS AN INCIDENT by rule 'shop theft'" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "event.json: found an empty file, expected one event as a JSON object"),
        ("{not json", "event.json: found text that is not JSON"),
        ('{"a": 1}\n{"b": 2}\n', "event.json: found 2 lines of JSON, expected one event"),
        ("[1, 2]", "event.json: found a list, expected one event as a JSON object"),
        (pub_event(severty="high"), "event.json: severty: found an unknown key, expected one of: schema, id"),
        (pub_event(severity="urgent"), 'event.json: severity: found "urgent" (a string), expected one of info'),
        (pub_event(topic="Shopwatch Emergency"), "event.json: topic: found \"Shopwatch Emergency\" (a string), "
                                                 "expected dotted lower-case words"),
        (pub_event(source=None), "event.json: source: found nothing, expected text"),
        (pub_event(occurred_at=None), "event.json: occurred_at: found nothing, expected when it happened"),
        (pub_event(occurred_at="last night"), 'event.json: occurred_at: found "last night" (a string), '
                                              "expected a date and time"),
        (pub_event(subject="The Crown"), 'event.json: subject: found "The Crown" (a string), expected what the '
                                         "event is about"),
        (pub_event(subject={"kind": "radio_unit"}), "event.json: subject.id: found nothing, expected text"),
        (pub_event(location={"street": "High St"}), "event.json: location.street: found an unknown key"),
        (pub_event(location={"latitude": 95}), "event.json: location.latitude: found 95 (a number), expected "
                                               "degrees from -90 to 90"),
        (pub_event(payload=[1]), "event.json: payload: found a list, expected an object"),
        (pub_event(seq="12"), 'event.json: seq: found "12" (a string), expected a whole number'),
    ],
)
def test_an_unusable_event_file_is_refused_naming_the_field(tmp_path, capsys, content, message):
    """Exit 2 and one line naming the file, the field, what was found and what was expected."""
    code, out, err = run(capsys, "--config", CONTROL_ROOM, write(tmp_path, content))
    assert code == 2 and out == ""
    assert err.startswith("hub: ") and err.count("\n") == 1
    assert message.replace("event.json", str(tmp_path / "event.json"), 1) in err
    assert "Traceback" not in err


def test_a_missing_event_file_is_refused(tmp_path, capsys):
    """A file that is not there: exit 2, naming it."""
    code, _out, err = run(capsys, "--config", CONTROL_ROOM, tmp_path / "nope.json")
    assert code == 2 and f"{tmp_path / 'nope.json'}: cannot read the event file" in err


def test_a_bad_config_is_refused_with_its_problems(tmp_path, capsys):
    """A config error is listed as check-config lists it, exit 2; a rule that cannot work names the rule."""
    bad = write(tmp_path, "[[incidents.rules]]\nname = 'x'\ntime_of_day = ['late']\n", "bad.toml")
    code, _out, err = run(capsys, "--config", bad, EXAMPLES / "pub-emergency.json")
    assert code == 2 and "incidents.rules[0].time_of_day" in err
    quiet = write(tmp_path, "[[incidents.rules]]\nname = 'quiet'\naction = 'ignore'\nsop = ['x']\n", "quiet.toml")
    code, _out, err = run(capsys, "--config", quiet, EXAMPLES / "pub-emergency.json")
    assert code == 2 and "incident rule 'quiet'" in err


def test_secrets_are_not_needed_to_try_the_rules(capsys, monkeypatch):
    """The example's camera password variable is not set: the rules are tried all the same."""
    monkeypatch.delenv("ONVIF_PASSWORD", raising=False)
    code, _out, _err = run(capsys, "--config", CONTROL_ROOM, EXAMPLES / "shop-theft.json")
    assert code == 0


def test_the_command_line_runs_as_a_program():
    """`hub rules test` from a shell: exit 0 and the outcome on stdout."""
    done = subprocess.run([str(Path(sys.executable).parent / "hub"), "rules", "test", "--config", str(CONTROL_ROOM),
                           str(EXAMPLES / "shop-theft.json")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OPENS AN INCIDENT by rule 'shop theft'" in done.stdout


# --- the docs ---------------------------------------------------------------------------------------------


_SAMPLE = re.compile(r"<!-- (output|excerpt): (\S+) -->\n```\n\$ hub rules test --config (\S+) (\S+)\n(.*?)```",
                     re.DOTALL)


def test_the_docs_show_what_the_command_prints(capsys):
    """Every sample in docs/rules.md is the command's output (whole, or lines of it in order)."""
    samples = _SAMPLE.findall(DOC.read_text(encoding="utf-8"))
    assert len(samples) >= 4
    for kind, marked, config, event_file, shown in samples:
        assert marked == event_file
        code, out, _err = run(capsys, "--config", ROOT / config, ROOT / event_file)
        assert code == 0
        if kind == "output":
            assert shown == out, event_file
        else:
            lines = out.splitlines()
            position = 0
            for wanted in shown.splitlines():
                if wanted == "...":
                    continue
                assert wanted in lines[position:], (event_file, wanted)
                position = lines.index(wanted, position) + 1


def test_the_demo_configuration_decides_the_pub_emergency_example(capsys):
    """config/demo.toml reads the example event and decides it as its own rules say (whatever they are)."""
    from hub.cli import load
    from hub.incidents.rules import IncidentRules

    demo = ROOT / "config" / "demo.toml"
    code, out, err = run(capsys, "--config", demo, EXAMPLES / "pub-emergency.json", "--json")
    assert code == 0, err
    report = json.loads(out)
    config, host = load(demo, read_secrets=False)
    registry = EventTypeRegistry()
    registry.register_all(host.event_types())
    event, _notes = read_event((EXAMPLES / "pub-emergency.json").read_text(), file="x", registry=registry,
                               timezone_name=config.hub.timezone)
    decision = IncidentRules(config.incidents, timezone=config.hub.timezone).decide(event)
    assert report["outcome"]["rule"] == decision.rule
    assert report["outcome"]["action"] == decision.action.value


def _police_request(kind: str) -> dict[str, Any]:
    return {
        "topic": "police.request.received", "source": "police_link.police", "severity": "medium",
        "occurred_at": "2026-11-21T20:14:05Z", "subject": {"kind": "police_request", "id": "REQ-1"},
        "summary": "Police request to keep footage of camera(s) 42",
        "payload": {"request_id": "REQ-1", "request_type": kind, "version": 1, "reason": "Assault",
                    "requested_by": {"name": "PC Hale", "force": "Demo Constabulary"}, "needs_consent": False,
                    "cameras": ["42"]},
    }


@pytest.mark.parametrize(
    ("status", "rule"),
    [("01", "shop theft"), ("0A", "aggressive customer"), ("02", "radio reports")],
)
def test_the_demo_decides_shopwatch_reports_by_their_status_code(tmp_path, capsys, status, rule):
    """In config/demo.toml status 01 is a shop theft and 0A an aggressive customer, both high; 02 a report."""
    data = json.loads((EXAMPLES / "shop-theft.json").read_text())
    data["payload"]["status_code"] = status
    code, out, err = run(capsys, "--config", ROOT / "config" / "demo.toml", write(tmp_path, data), "--json")
    assert code == 0, err
    assert json.loads(out)["outcome"]["rule"] == rule


@pytest.mark.parametrize(
    ("kind", "rule"),
    [("retain_footage", "footage retention"), ("live_view", "police requests")],
)
def test_the_demo_decides_police_requests_by_their_kind(tmp_path, capsys, kind, rule):
    """A request to retain footage opens its incident with the retention checklist; other kinds do not."""
    code, out, err = run(capsys, "--config", ROOT / "config" / "demo.toml", write(tmp_path, _police_request(kind)),
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["outcome"]["rule"] == rule
    assert report["outcome"]["category"] == "police request"
    assert bool(report["outcome"]["sop"]) is (kind == "retain_footage")
    assert "payload: does not fit the type police.request.received; read as it is" not in report["filled_in"]
