"""The reference force end on its own: its store, its console commands, the demo's simulator, and
``hub police-peer``'s refusals. (It against the hub, over real mutual TLS: test_adapter_with_peer.py.)"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from twisted.internet.defer import succeed
from twisted.internet.testing import MemoryReactorClock

from hub.cli import main
from hub.testing import assert_no_pending_timers, success_result_of
from plugins.police_link import pki
from plugins.police_link.codec.frames import ALERT_ANSWER, CAP_XML, POLICE_REQUEST
from plugins.police_link.link import Acknowledged, Inbound, Outbound
from plugins.police_link.peer import PeerSettings, PolicePeer
from plugins.police_link.peer_cli import HELP, console_command
from plugins.police_link.peer_store import PeerStore
from plugins.police_link.simulator import (
    PEER_DATABASE,
    PolicePeerSimConfig,
    PolicePeerSimulator,
)

START = 1_795_000_000.0  # 2026-11-18


def outbound(seq: int, transaction_id: str | None = None) -> Outbound:
    return Outbound(link_seq=seq, transaction_id=transaction_id or f"force-{seq}", content_type=POLICE_REQUEST,
                    body=json.dumps({"n": seq}), queued_at=START + seq)


def inbound(seq: int, transaction_id: str | None = None) -> Inbound:
    return Inbound(link_seq=seq, transaction_id=transaction_id or f"hub-{seq}", content_type=CAP_XML,
                   payload="<alert/>", sent_at=START + seq, deadline=None, received_at=START + seq)


def alert_job(store: PeerStore, seq: int, incident: str, msg_type: str = "Alert", identifier: str | None = None):
    return store.alert_job(identifier=identifier or f"cctv/{incident}/{seq}", incident_id=incident,
                           msg_type=msg_type, inbound=inbound(seq), headline=f"Incident {incident}",
                           severity="Severe", xml="<alert/>")


@pytest.fixture
def store(tmp_path):
    opened = PeerStore(tmp_path / "force" / "peer.sqlite3")
    yield opened
    opened.close()


# --- PeerStore --------------------------------------------------------------------------------------------


def test_a_new_store_owes_nothing_and_has_received_nothing(store):
    """A new file: nothing pending, the first link_seq is 1, nothing received."""
    memory = store.load()
    assert (memory.pending, memory.next_seq, memory.last_seq_received, memory.seen) == ((), 1, 0, frozenset())


def test_what_was_written_is_loaded_again_in_order_from_the_file(store, tmp_path):
    """Outbox rows not acknowledged are owed again in link_seq order; acknowledged ones are not, but still count
    for the next number; inbox rows give the highest link_seq received and every transaction id seen."""
    store.run(store.outbox_job(outbound(2)), store.outbox_job(outbound(1)), store.outbox_job(outbound(3)))
    store.acknowledge([Acknowledged(message=outbound(2), status="ok", reason=None, at=START)])
    store.run(store.inbox_job(inbound(1), "ok"), store.inbox_job(inbound(4), "error"))
    store.record(inbound(2), "stale")
    store.close()
    again = PeerStore(tmp_path / "force" / "peer.sqlite3")
    try:
        memory = again.load()
        assert [message.link_seq for message in memory.pending] == [1, 3]
        assert memory.pending[0] == outbound(1)
        assert (memory.next_seq, memory.last_seq_received) == (4, 4)
        assert memory.seen == {"hub-1", "hub-2", "hub-4"}
        assert again.find_outbound("force-2") == outbound(2) and again.find_outbound("nope") is None
    finally:
        again.close()


def test_an_inbox_row_is_kept_once_whatever_comes_again(store):
    """The same transaction id recorded twice keeps the first row (repeats are not errors)."""
    store.run(store.inbox_job(inbound(1), "ok"))
    store.run(store.inbox_job(inbound(1), "error"))
    assert store._connection.execute("SELECT status FROM inbox").fetchall() == [("ok",)]


def test_jobs_run_together_or_not_at_all(store):
    """A job that fails rolls back the others of its run."""
    with pytest.raises(sqlite3.IntegrityError):
        store.run(store.outbox_job(outbound(1)), store.outbox_job(outbound(1, "force-1")))
    assert store.load().pending == () and store.load().next_seq == 1


def test_alerts_are_listed_in_the_order_they_arrived_each_once(store):
    """Alerts come back in arrival order; an identifier received twice is refused by the store."""
    for seq, incident in ((1, "INC-2"), (2, "INC-1"), (3, "INC-3")):
        store.run(alert_job(store, seq, incident))
    with pytest.raises(sqlite3.IntegrityError):
        store.run(alert_job(store, 4, "INC-2", identifier="cctv/INC-2/1"))
    alerts = store.alerts()
    assert [a["incident_id"] for a in alerts] == ["INC-2", "INC-1", "INC-3"]
    assert [a["link_seq"] for a in alerts] == [1, 2, 3] and store.alert_count() == 3
    assert [a["incident_id"] for a in store.alerts(after=alerts[0]["seq"], limit=1)] == ["INC-1"]
    assert store.alert("cctv/INC-1/2")["incident_id"] == "INC-1" and store.alert("cctv/none") is None


def test_open_incidents_are_the_newest_message_of_each_not_cancelled(store):
    """The snapshot lists each incident once, by its latest message, and leaves out the cancelled."""
    store.run(alert_job(store, 1, "INC-1"), alert_job(store, 2, "INC-2"))
    store.run(alert_job(store, 3, "INC-1", "Update"), alert_job(store, 4, "INC-2", "Cancel"))
    store.run(store.answer_alert_job("cctv/INC-1/1", "accepted", START))
    assert store.open_incidents() == [{"incident_id": "INC-1", "identifier": "cctv/INC-1/3", "msg_type": "Update",
                                       "state": "open", "answer": None}]
    assert store.alert("cctv/INC-1/1")["answer"] == "accepted"


def test_open_incidents_are_found_by_index_however_many_alerts_there_are(store):
    """The snapshot's query finds each incident's newest message through an index, not a scan of every alert per
    incident (which took seconds of the reactor's time with a few thousand alerts)."""
    plan = store._connection.execute(
        "EXPLAIN QUERY PLAN SELECT MAX(seq) FROM alerts b WHERE b.incident_id = ?", ("INC-1",)).fetchall()
    assert any("INDEX alerts_incident" in row[-1] for row in plan), plan


def test_requests_and_their_answers_are_kept(store):
    """A request is listed with its payload; its answer fills in the outcome."""
    store.run(store.request_job("REQ-2", "live_view", {"camera": "1"}, START + 2))
    store.run(store.request_job("REQ-1", "point_camera", {"camera": "2"}, START + 1))
    store.run(store.request_answer_job("REQ-2", "accepted", "shared", {"outcome": "accepted"}, START + 3))
    requests = store.requests()
    assert [r["request_id"] for r in requests] == ["REQ-1", "REQ-2"]
    assert requests[0]["outcome"] is None and requests[0]["payload"] == {"camera": "2"}
    assert (requests[1]["outcome"], requests[1]["answer"]) == ("accepted", {"outcome": "accepted"})


# --- the console ---------------------------------------------------------------------------------------------


class _Port:
    def getHost(self):
        return type("Address", (), {"port": 8443})()

    def stopListening(self):
        return succeed(None)


@pytest.fixture
def console(tmp_path):
    """A force end on a fake clock, not connected (what it sends waits in its outbox)."""
    clock = MemoryReactorClock()
    clock.advance(START)
    store = PeerStore(tmp_path / "console.sqlite3")
    peer = PolicePeer(clock, store, listen=lambda endpoint_for: succeed(_Port()), log=structlog.get_logger(),
                      settings=PeerSettings(answer="manual"))
    success_result_of(peer.startService())
    yield peer, clock, lambda line: console_command(peer, clock, line)
    success_result_of(peer.stopService())
    store.close()
    assert_no_pending_timers(clock)


def sent_payloads(peer):
    return [json.loads(message.body) for message in peer.store.load().pending]


def test_each_request_command_queues_a_request_of_its_kind(console):
    """live, point, retain and monitor each queue a request with what was typed; its id is shown."""
    peer, clock, say = console
    for line in ("live 42 15 Suspect seen", "point 17 'Market Square'", "retain CR-1 42,43 3 2 Assault",
                 "monitor 'Market Place' 30 Pubs closing"):
        answer = say(line)
        assert answer.startswith("sent REQ-"), answer
        clock.advance(1)
    live, point, retain, monitor = sent_payloads(peer)
    assert (live["request_type"], live["camera"], live["minutes"], live["reason"]) == (
        "live_view", "42", 15, "Suspect seen")
    assert (point["request_type"], point["camera"], point["preset"]) == ("point_camera", "17", "Market Square")
    assert (retain["request_type"], retain["crime_reference"], retain["cameras"]) == (
        "retain_footage", "CR-1", ["42", "43"])
    start = datetime.fromisoformat(retain["start"])
    assert start == datetime.fromtimestamp(START + 2, UTC) - timedelta(hours=3)
    assert datetime.fromisoformat(retain["end"]) - start == timedelta(hours=2)
    assert (monitor["request_type"], monitor["location"]["name"]) == ("monitor_location", "Market Place")
    assert datetime.fromisoformat(monitor["until"]) == datetime.fromtimestamp(START + 3, UTC) + timedelta(minutes=30)
    assert [r["request_type"] for r in peer.store.requests()] == [
        "live_view", "point_camera", "retain_footage", "monitor_location"]


def test_accept_and_reject_answer_an_alert(console):
    """accept and reject queue the force's answer to an alert it holds, and the alert records it."""
    peer, _clock, say = console
    peer.store.run(alert_job(peer.store, 1, "INC-7", identifier="cctv/INC-7/1"),
                   alert_job(peer.store, 2, "INC-8", identifier="cctv/INC-8/1"))
    assert say("accept cctv/INC-7/1 LOG-123") == ""
    assert say("reject cctv/INC-8/1 Not a police matter") == ""
    answers = [json.loads(m.body) for m in peer.store.load().pending if m.content_type == ALERT_ANSWER]
    assert [(a["identifier"], a["incident_id"], a["answer"]) for a in answers] == [
        ("cctv/INC-7/1", "INC-7", "accepted"), ("cctv/INC-8/1", "INC-8", "rejected")]
    assert answers[0]["force_reference"] == "LOG-123" and answers[1]["reason"] == "Not a police matter"
    assert say("alerts").splitlines() == ["cctv/INC-7/1 Alert incident INC-7 answer accepted",
                                          "cctv/INC-8/1 Alert incident INC-8 answer rejected"]


def test_listing_commands_say_what_there_is(console):
    """alerts, requests, status and help each answer in words, also when there is nothing yet."""
    _peer, _clock, say = console
    assert say("alerts") == "no alerts yet" and say("requests") == "no requests yet"
    assert say("help") == HELP and say("") == ""
    assert say("status") == "link disconnected; 0 message(s) to send; 0 alert(s) received"
    request_id = say("live 42")[len("sent "):]
    assert say("requests") == f"{request_id} live_view waiting: "
    assert say("STATUS") == "link disconnected; 1 message(s) to send; 0 alert(s) received"


@pytest.mark.parametrize("line", [
    "live", "point 17", "retain CR-1 42", "monitor Market", "reject cctv/INC-1/1", "accept", "fly 42",
    "live 42 many", "retain CR-1 42 three 1", "monitor 'Market Place' soon", "live 'unclosed",
    "live 42 0", "retain CR-1 , 3 2", "accept cctv/INC-9/1", "reject cctv/INC-9/1 Not ours",
])
def test_bad_input_is_answered_with_a_question_mark_and_queues_nothing(console, line):
    """Missing words, unknown verbs, numbers that are not, unbalanced quotes, values a request cannot take:
    the answer starts with "?" and nothing is queued."""
    peer, _clock, say = console
    answer = say(line)
    assert answer.startswith("? "), answer
    assert peer.store.load().pending == () and peer.store.requests() == []
    if "INC-9" in line:
        assert answer == "? no alert 'cctv/INC-9/1' has been received (alerts lists them)"


def test_the_snapshot_lists_the_requests_the_hub_still_holds_open(console):
    """Unanswered requests, accepted live views not yet expired, footage on hold and places watched are open;
    a camera pointed, a live view past its expiry, anything refused, failed, stale or done is not."""
    peer, clock, _say = console
    now = clock.seconds()

    def request(request_id, request_type, outcome=None, answer=None):
        peer.store.run(peer.store.request_job(request_id, request_type, {}, now))
        if outcome is not None:
            peer.store.run(peer.store.request_answer_job(request_id, outcome, "said", answer or {}, now))

    def stream(seconds):
        return {"stream": {"expires_at": datetime.fromtimestamp(now + seconds, UTC).isoformat()}}

    request("A-waiting", "live_view")
    request("B-watching", "live_view", "accepted", stream(60))
    request("C-expired", "live_view", "accepted", stream(-1))
    request("D-pointed", "point_camera", "accepted")
    request("E-held", "retain_footage", "accepted")
    request("F-watched", "monitor_location", "accepted")
    request("G-done", "monitor_location", "done")
    request("H-refused", "live_view", "refused")
    request("I-stale", "point_camera", "stale")
    _incidents, requests = peer._snapshot()
    assert [(item["request_id"], item["state"]) for item in requests] == [
        ("A-waiting", "sent"), ("B-watching", "accepted"), ("E-held", "accepted"), ("F-watched", "accepted")]


def test_a_request_the_hub_refuses_at_link_level_is_over(console):
    """A request answered error or stale at link level (it gets no business answer) is recorded so, and so is
    no longer open; another message refused changes no request."""
    peer, _clock, say = console
    request_id = say("live 42")[len("sent "):]
    [message] = peer.store.load().pending
    peer.acknowledged([Acknowledged(message=message, status="stale", reason="it arrived after its deadline",
                                    at=START)])
    peer.acknowledged([Acknowledged(message=outbound(9), status="error", reason="?", at=START)])
    [record] = peer.store.requests()
    assert (record["request_id"], record["outcome"], record["detail"]) == (
        request_id, "stale", "it arrived after its deadline")
    assert peer._snapshot()[1] == []


def test_alerts_left_unanswered_when_the_force_end_stopped_are_answered_after_it_starts_again(tmp_path):
    """A force end answering after a delay that stopped before it answered answers when it is back, after the
    delay: the Alert of an open incident once, not one withdrawn (Cancel), nor one answered already."""
    clock = MemoryReactorClock()
    clock.advance(START)
    store = PeerStore(tmp_path / "answers.sqlite3")
    store.run(alert_job(store, 1, "INC-1"), alert_job(store, 2, "INC-2"), alert_job(store, 3, "INC-3"),
              alert_job(store, 4, "INC-2", "Cancel"), store.answer_alert_job("cctv/INC-3/3", "accepted", START))
    peer = PolicePeer(clock, store, listen=lambda endpoint_for: succeed(_Port()), log=structlog.get_logger(),
                      settings=PeerSettings(answer="accept", answer_delay_s=5.0))
    success_result_of(peer.startService())
    assert peer.store.load().pending == ()
    clock.advance(5.0)
    answers = [json.loads(message.body) for message in peer.store.load().pending]
    assert [(a["identifier"], a["incident_id"], a["answer"]) for a in answers] == [
        ("cctv/INC-1/1", "INC-1", "accepted")]
    assert store.alert("cctv/INC-1/1")["answer"] == "accepted"
    success_result_of(peer.stopService())
    store.close()
    assert_no_pending_timers(clock)


def test_a_force_end_made_without_a_logger_lives_through_a_silence(tmp_path):
    """Without a ``log``, a force end that hears nothing for longer than its line fault time reports the fault
    (its session logs it) instead of failing."""
    clock = MemoryReactorClock()
    clock.advance(START)
    store = PeerStore(tmp_path / "quiet.sqlite3")
    peer = PolicePeer(clock, store, listen=lambda endpoint_for: succeed(_Port()),
                      settings=PeerSettings(line_fault_after_s=90.0))
    success_result_of(peer.startService())
    clock.advance(91)
    assert peer.state.value == "fault"
    success_result_of(peer.stopService())
    store.close()
    assert_no_pending_timers(clock)


# --- the demo's simulator ----------------------------------------------------------------------------------------


def test_the_simulator_makes_a_pki_when_missing_and_sends_its_round_of_requests(tmp_path):
    """Started without a PKI, the simulator makes one (CA, the force's and the hub's certificates); every
    ``request_every_s`` it sends the next of live view, monitoring, retention and pointing a camera, about its
    cameras in turn; stopped, it leaves no timer. Started again, it keeps the PKI it made."""
    clock = MemoryReactorClock()
    clock.advance(START)
    config = PolicePeerSimConfig(pki_dir=tmp_path / "pki", records_dir=tmp_path / "data", port=18443,
                                 request_every_s=10.0, cameras=("42", "17"), preset="3", answer="manual")
    simulator = PolicePeerSimulator(clock, config, log=structlog.get_logger())
    success_result_of(simulator.startService())
    files = pki.pki_files(tmp_path / "pki")
    assert all(path.exists() for path in (files.ca_certificate, files.server_certificate, files.server_key,
                                          files.client_certificate, files.client_key))
    ca_print = pki.fingerprint_sha256(files.ca_certificate)
    [(_port, _factory, _context, _backlog, interface)] = [listen[:5] for listen in clock.sslServers]
    assert interface == "127.0.0.1"
    for _ in range(5):
        clock.advance(10.0)
    requests = simulator.peer.store.requests()
    assert [r["request_type"] for r in requests] == [
        "live_view", "monitor_location", "retain_footage", "point_camera", "live_view"]
    assert [r["payload"].get("camera") or r["payload"]["cameras"][0] for r in requests] == ["42", "17", "42", "17", "42"]
    assert requests[3]["payload"]["preset"] == "3"
    assert simulator.peer.session.backlog == 5
    success_result_of(simulator.stopService())
    assert_no_pending_timers(clock)

    again = PolicePeerSimulator(clock, config, log=structlog.get_logger())
    success_result_of(again.startService())
    assert pki.fingerprint_sha256(files.ca_certificate) == ca_print
    assert again.peer.session.backlog == 5 and (tmp_path / "data" / PEER_DATABASE).exists()
    success_result_of(again.stopService())
    assert_no_pending_timers(clock)


# --- hub police-peer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, said", [
    ((), "give --pki DIR, or all of --certificate, --key and --client-ca"),
    (("--certificate", "a.pem", "--key", "a.key"), "give --pki DIR"),
    (("--pki", "{empty}", "--listen", "nowhere"), "--listen must be HOST:PORT"),
    (("--pki", "{empty}", "--listen", "127.0.0.1:70000"), "--listen must be HOST:PORT"),
    (("--pki", "{empty}", "--cap-schema", "{empty}/nothing.xsd"), "cannot read the CAP schema"),
    (("--answer", "maybe"), "invalid choice: 'maybe'"),
])
def test_hub_police_peer_refuses_bad_arguments_with_exit_2(tmp_path, capsys, argv, said):
    """Bad or missing options and an unreadable CAP schema: exit 2, saying why, before anything listens."""
    empty = tmp_path / "empty"
    empty.mkdir()
    try:
        code = main(["police-peer", *(part.replace("{empty}", str(empty)) for part in argv)])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    assert said in capsys.readouterr().err


def test_hub_police_peer_without_its_certificate_files_exits_2_naming_the_file(tmp_path):
    """A PKI folder without the force's files: exit 2, naming the missing file, no traceback."""
    run = "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", run, "police-peer", "--pki", str(tmp_path), "--listen",
                           "127.0.0.1:1", "--data", str(tmp_path / "data")], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"{tmp_path / 'force-server.pem'} does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()
