"""The audit log: append-only rows chained by SHA-256, checked by verify_chain, written inside transactions."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from hub.audit import (
    CLI_ACTOR,
    GENESIS_HASH,
    Actor,
    AuditLog,
    audit_job,
    create_audit_log,
    export_csv,
    export_jsonl,
    verify_chain,
)
from hub.journal import JOURNAL_MIGRATIONS
from hub.secrets import Secret
from hub.sqlite_writer import (
    InlineSqliteWriter,
    WriterSettings,
    migrate,
    open_connection,
)
from hub.testing import BusHarness, success_result_of

ALICE = Actor(name="alice", role="operator", address="10.0.0.7")
MIGRATIONS = (create_audit_log,)


def open_db(path: Path) -> sqlite3.Connection:
    connection = open_connection(path, WriterSettings())
    migrate(connection, MIGRATIONS)
    return connection


def append(connection: sqlite3.Connection, *jobs) -> list:
    connection.execute("BEGIN IMMEDIATE")
    entries = [job(connection) for job in jobs]
    connection.execute("COMMIT")
    return entries


def fill(connection: sqlite3.Connection, count: int, start: float = 1_700_000_000.0) -> list:
    return append(connection, *(
        audit_job(ALICE, "incident.note", f"incident-{n}", {"n": n, "text": f"note {n} café"}, start + n)
        for n in range(count)
    ))


def tamper(connection: sqlite3.Connection, sql: str, *params) -> None:
    """What someone with the file can do: drop the triggers, then change the table."""
    connection.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    connection.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    connection.execute(sql, params)


def restore_triggers(connection: sqlite3.Connection) -> None:
    """A careful attacker puts the triggers back, so only the chain can tell."""
    for verb in ("UPDATE", "DELETE"):
        connection.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


@pytest.fixture
def db(tmp_path):
    connection = open_db(tmp_path / "hub.sqlite3")
    yield connection
    connection.close()


# --- the chain ---------------------------------------------------------------------------------------------


def test_first_row_chains_to_the_genesis_hash(db):
    """The first row's prev_hash is 64 zeros and ids start at 1."""
    (entry,) = fill(db, 1)
    assert (entry.id, entry.prev_hash) == (1, GENESIS_HASH)


def test_each_row_chains_to_the_hash_of_the_row_before(db):
    """Every row's prev_hash is the previous row's hash."""
    entries = fill(db, 4)
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]


def test_row_hash_is_sha256_of_prev_hash_and_canonical_json_as_documented(db):
    """The hash is re-computable from the stored row as docs/security.md says, with only the standard library."""
    fill(db, 2)
    for row in db.execute("SELECT * FROM audit_log ORDER BY id"):
        row_id, at, actor, role, address, action, target, detail, prev_hash, digest = row
        fields = {"id": row_id, "at": at, "actor": actor, "role": role, "address": address,
                  "action": action, "target": target, "detail": detail}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest() == digest


def test_time_is_stored_as_iso_8601_utc_with_microseconds(db):
    """``at`` is stored as fixed-width UTC text, so it hashes the same in any language."""
    append(db, audit_job(ALICE, "session.login", "alice", {}, 1_700_000_000.25))
    assert db.execute("SELECT at FROM audit_log").fetchone()[0] == "2023-11-14T22:13:20.250000Z"


def test_entry_returned_by_the_job_matches_the_stored_row(db):
    """The job returns the entry as written, detail decoded."""
    (entry,) = append(db, audit_job(ALICE, "incident.assign", "inc-1", {"owner": "bob"}, 12.5))
    assert (entry.actor, entry.role, entry.address, entry.action, entry.target, entry.detail, entry.at) == (
        "alice", "operator", "10.0.0.7", "incident.assign", "inc-1", {"owner": "bob"}, 12.5
    )


# --- append-only -------------------------------------------------------------------------------------------


def test_updating_a_row_is_refused(db):
    """A trigger aborts any UPDATE of the audit log."""
    fill(db, 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'mallory'")


def test_deleting_a_row_is_refused(db):
    """A trigger aborts any DELETE from the audit log."""
    fill(db, 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log")


# --- verify_chain ------------------------------------------------------------------------------------------


def test_an_intact_chain_verifies_with_its_row_count_and_head(db):
    """A whole chain is OK, with the number of rows and the last hash."""
    entries = fill(db, 5)
    report = verify_chain(db)
    assert (report.ok, report.rows, report.problems, report.head) == (True, 5, (), entries[-1].hash)


def test_an_empty_log_verifies(db):
    """No rows is a whole chain of length 0."""
    assert verify_chain(db).ok and verify_chain(db).rows == 0


def test_an_edited_row_is_named(db):
    """Changing a row's contents makes verify name that row as edited."""
    fill(db, 5)
    tamper(db, "UPDATE audit_log SET target = 'incident-x' WHERE id = 3")
    restore_triggers(db)
    assert verify_chain(db).problems == ("row 3: edited (its contents do not give its hash)",)


def test_an_edited_and_rehashed_row_breaks_the_next_link(db):
    """Re-computing an edited row's hash is caught at the next row's prev_hash."""
    entries = fill(db, 5)
    forged = hashlib.sha256(b"forged").hexdigest()
    tamper(db, "UPDATE audit_log SET hash = ? WHERE id = 3", forged)
    problems = verify_chain(db).problems
    assert "row 3: edited (its contents do not give its hash)" in problems
    assert "row 4: broken link (prev_hash is not the hash of row 3)" in problems
    assert entries  # the rest of the chain is untouched


def test_a_deleted_row_is_named(db):
    """Deleting a row in the middle names the missing id."""
    fill(db, 5)
    tamper(db, "DELETE FROM audit_log WHERE id = 2")
    restore_triggers(db)
    assert verify_chain(db).problems == ("row 2 missing: deleted",)


def test_several_deleted_rows_are_named_as_a_range(db):
    """Deleting consecutive rows names the range."""
    fill(db, 6)
    tamper(db, "DELETE FROM audit_log WHERE id BETWEEN 2 AND 4")
    restore_triggers(db)
    assert verify_chain(db).problems == ("rows 2-4 missing: deleted",)


def test_a_removed_tail_is_named(db):
    """Deleting the last rows is caught from the highest id SQLite ever handed out."""
    fill(db, 5)
    tamper(db, "DELETE FROM audit_log WHERE id >= 4")
    restore_triggers(db)
    report = verify_chain(db)
    assert (report.ok, report.rows, report.problems) == (False, 3, ("rows 4-5 missing at the end: tail removed",))


def test_dropped_triggers_are_reported(db):
    """A log whose append-only triggers are gone is not OK, even if no row changed yet."""
    fill(db, 2)
    db.execute("DROP TRIGGER audit_log_no_delete")
    assert verify_chain(db).problems == ("trigger audit_log_no_delete is missing: the table has been opened to edits",)


def test_rows_after_a_removed_tail_chain_on_and_the_gap_stays_reported(db):
    """New rows after a removed tail never reuse its ids, so the removal is still visible."""
    fill(db, 4)
    tamper(db, "DELETE FROM audit_log WHERE id = 4")
    restore_triggers(db)
    (entry,) = fill(db, 1)
    assert entry.id == 5
    assert verify_chain(db).problems == ("row 4 missing: deleted",)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    length=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_any_single_row_edit_or_deletion_is_detected_and_named(tmp_path_factory, length, data):
    """Whatever one row is edited (any column) or deleted, verify names that row."""
    connection = open_db(tmp_path_factory.mktemp("chain") / "hub.sqlite3")
    try:
        fill(connection, length)
        victim = data.draw(st.integers(min_value=1, max_value=length), label="row")
        change = data.draw(
            st.sampled_from(["delete", "at", "actor", "role", "address", "action", "target", "detail",
                             "prev_hash"]),
            label="change",
        )
        if change == "delete":
            tamper(connection, "DELETE FROM audit_log WHERE id = ?", victim)
        else:
            new = data.draw(st.text(min_size=1, max_size=20), label="value")
            old = connection.execute(f"SELECT {change} FROM audit_log WHERE id = ?", (victim,)).fetchone()[0]
            if new == old:
                new = new + "x"
            tamper(connection, f"UPDATE audit_log SET {change} = ? WHERE id = ?", new, victim)
        restore_triggers(connection)
        report = verify_chain(connection)
        assert not report.ok
        assert any(f"row {victim}" in problem or f"rows {victim}-" in problem for problem in report.problems), (
            report.problems
        )
    finally:
        connection.close()


# --- what goes into a row ----------------------------------------------------------------------------------


@pytest.mark.parametrize("detail", [
    {"password": "correct horse battery"},
    {"request": {"token": "abc"}},
    {"partner_key": "k"},
    {"items": [{"Authorization": "Bearer x"}]},
])
def test_detail_that_would_hold_a_secret_is_refused(detail):
    """Keys named like secrets are refused anywhere in detail, before anything is written."""
    with pytest.raises(ValueError, match="secret"):
        audit_job(ALICE, "user.add", "bob", detail, 0.0)


def test_a_secret_object_in_detail_is_refused():
    """A Secret (or any non-JSON object) in detail is refused, not turned into text."""
    with pytest.raises(TypeError, match="Secret"):
        audit_job(ALICE, "partner.report", "shopwatch", {"partner": Secret("k-123")}, 0.0)


def test_an_actor_role_outside_the_known_ones_is_refused():
    """Actors are users with a role, or partner, system, cli."""
    with pytest.raises(ValueError, match="role"):
        Actor(name="eve", role="root")


# --- AuditLog: the writer and reads ------------------------------------------------------------------------


@pytest.fixture
def audit_log(tmp_path):
    clock = Clock()
    clock.advance(1_700_000_000)
    writer = InlineSqliteWriter(tmp_path / "hub.sqlite3", WriterSettings(), clock, MIGRATIONS)
    writer.start()
    log = AuditLog(writer, clock, tmp_path / "hub.sqlite3")
    yield log, clock
    log.close()
    writer.stop()


def test_record_appends_a_row_once_committed(audit_log):
    """record() fires with the stored entry after the writer commits, timed by the clock."""
    log, clock = audit_log
    written = log.record(ALICE, "incident.acknowledge", "inc-1")
    clock.advance(0)
    entry = success_result_of(written)
    assert (entry.id, entry.at, entry.action) == (1, 1_700_000_000.0, "incident.acknowledge")
    assert log.read() == [entry]


def test_jobs_in_one_batch_chain_onto_each_other(audit_log):
    """Rows written in the same transaction still form one chain: each job reads the row before it."""
    log, clock = audit_log
    first, second = log.record(ALICE, "a.one", "x"), log.record(ALICE, "a.two", "y")
    clock.advance(0)
    assert success_result_of(second).prev_hash == success_result_of(first).hash


def test_read_filters_by_actor_action_and_position(audit_log):
    """read() pages after an id and filters by actor and exact or prefix action."""
    log, clock = audit_log
    bob = Actor(name="bob", role="supervisor", address=None)
    for actor, action in [(ALICE, "session.login"), (bob, "session.login"), (ALICE, "incident.note"),
                          (bob, "session.logout")]:
        log.record(actor, action, actor.name)
    clock.advance(0)
    assert [e.id for e in log.read(actor="bob")] == [2, 4]
    assert [e.id for e in log.read(action="session.login")] == [1, 2]
    assert [e.id for e in log.read(action="session.*")] == [1, 2, 4]
    assert [e.id for e in log.read(after_id=2, limit=1)] == [3]
    assert [e.id for e in log.read(before_id=4, limit=2)] == [3, 2]


def test_job_composes_into_a_bus_publish_in_the_same_transaction(tmp_path):
    """An audit job run through publish(also=...) is kept with the event, or dropped with it."""
    harness = BusHarness(tmp_path, migrations=(*JOURNAL_MIGRATIONS, create_audit_log))
    log = AuditLog(None, harness.clock, harness.journal_path)
    try:
        kept = harness.bus.publish(harness.note("ok"), also=lambda connection, seq: log.job(
            ALICE, "incident.note", "inc-1", {"seq": seq})(connection))

        def audit_then_fail(connection, seq):
            log.job(ALICE, "incident.note", "inc-2")(connection)
            raise RuntimeError("the incident change failed")

        dropped = harness.bus.publish(harness.note("no"), also=audit_then_fail)
        harness.settle()
        seq = success_result_of(kept)
        dropped.addErrback(lambda failure: failure.trap(RuntimeError))
        assert [(e.target, e.detail) for e in log.read()] == [("inc-1", {"seq": seq})]
    finally:
        log.close()
        harness.close()


def test_the_log_exports_through_its_own_connection(audit_log):
    """AuditLog.export writes the stored rows as CSV or JSON lines, and refuses other formats."""
    log, clock = audit_log
    log.record(ALICE, "session.login", "alice")
    log.record(ALICE, "session.logout", "alice")
    clock.advance(0)
    out = io.StringIO()
    assert log.export(out, format="jsonl", after_id=1) == 1
    assert json.loads(out.getvalue())["action"] == "session.logout"
    with pytest.raises(ValueError):
        log.export(io.StringIO(), format="xml")


def test_a_failed_login_by_an_unknown_name_has_an_anonymous_actor():
    """anonymous is an actor kind, for attempts that name no user."""
    assert Actor(name="(unknown)", role="anonymous", address="203.0.113.9").role == "anonymous"


# --- export -----------------------------------------------------------------------------------------------


def test_csv_export_writes_every_row_as_stored(db):
    """CSV has a header and one line per row, values exactly as stored."""
    entries = fill(db, 3)
    out = io.StringIO()
    assert export_csv(db, out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["hash"] for row in rows] == [e.hash for e in entries]
    assert json.loads(rows[0]["detail"]) == {"n": 0, "text": "note 0 café"}


def test_csv_export_starts_after_an_id(db):
    """after_id skips the rows already exported."""
    fill(db, 3)
    out = io.StringIO()
    assert export_csv(db, out, after_id=2) == 1


def test_jsonl_export_lines_recompute_to_their_hashes(db):
    """Each JSON line holds what is needed to re-check its hash."""
    fill(db, 3)
    out = io.StringIO()
    assert export_jsonl(db, out) == 3
    previous = GENESIS_HASH
    for line in out.getvalue().splitlines():
        row = json.loads(line)
        fields = {k: row[k] for k in ("id", "at", "actor", "role", "address", "action", "target", "detail")}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["prev_hash"] == previous
        assert hashlib.sha256((previous + text).encode()).hexdigest() == row["hash"]
        previous = row["hash"]


def test_cli_actor_is_marked_as_the_command_line():
    """The hub command acts as actor cli, from address cli."""
    assert (CLI_ACTOR.name, CLI_ACTOR.role, CLI_ACTOR.address) == ("cli", "cli", "cli")


# --- docs/security.md --------------------------------------------------------------------------------------

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def documented_checker():
    """The stand-alone checker printed in docs/security.md, as an auditor would copy it."""
    text = SECURITY_DOC.read_text()
    match = re.search(r"<!-- check-audit -->\n```python\n(.*?)\n```", text, re.DOTALL)
    assert match, "docs/security.md has no checker block"
    namespace: dict = {"__name__": "docs_security"}
    exec(compile(match.group(1), str(SECURITY_DOC), "exec"), namespace)  # noqa: S102 - our own page
    return namespace["check"]


def test_the_documented_checker_accepts_a_chain_the_hub_wrote(tmp_path):
    """The script in docs/security.md re-computes every hash the hub wrote, non-ASCII detail included."""
    path = tmp_path / "hub.sqlite3"
    connection = open_db(path)
    fill(connection, 5)
    append(connection, audit_job(Actor(name="ëlodie", role="partner", address=None), "partner.report", "r-1",
                                 {"summary": "vol à l'étalage 🚨", "n": 1.5, "nested": {"z": [1, None, True]}}, 7.0))
    connection.close()
    assert documented_checker()(str(path)) == []


def test_the_documented_checker_finds_what_verify_finds(tmp_path):
    """The script in docs/security.md names an edited row, a deleted row and a removed tail."""
    path = tmp_path / "hub.sqlite3"
    connection = open_db(path)
    fill(connection, 8)
    tamper(connection, "UPDATE audit_log SET actor = 'x' WHERE id = 2")
    tamper(connection, "DELETE FROM audit_log WHERE id = 5")
    tamper(connection, "DELETE FROM audit_log WHERE id = 8")
    connection.close()
    assert documented_checker()(str(path)) == ["row 2: edited", "rows 5-5 missing", "rows 8-8 missing at the end"]
