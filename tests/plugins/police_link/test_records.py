"""The police link's records: requests, holds, and the append-only disclosure log with its CSV export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import attrs
import pytest

from hub.testing import BusHarness, success_result_of
from plugins.police_link.records import (
    ACTIVE,
    AWAITING_CONSENT,
    CLOSED,
    DISCLOSURE_COLUMNS,
    HOLD_COMPLETED,
    Disclosure,
    HoldRecord,
    PoliceRecords,
    RequestRecord,
    spreadsheet_safe,
    together,
)
from plugins.police_link.schema import POLICE_SCHEMA

LINK = "police_link.force"


@pytest.fixture
def harness(tmp_path, hub_clock):
    harness = BusHarness(tmp_path, hub_clock, plugin_schemas=(POLICE_SCHEMA,))
    yield harness
    harness.close()


@pytest.fixture
def records(harness):
    return PoliceRecords(harness.database, LINK)


def write(harness, job):
    written = harness.database.write(job)
    harness.settle()
    return success_result_of(written)


def disclosure(**changes):
    base = Disclosure(id=None, at=1_700_000_000.0, link=LINK, recipient="Derbyshire Constabulary",
                      what="live_view", item="12", why="suspect seen near the market", request_id="R-1",
                      crime_reference=None, released_by="hub (automatic)", expires_at=1_700_000_900.0,
                      sha256=None, detail={"uri": "rtsp://media.example/12"})
    return attrs.evolve(base, **changes)


def request_record(request_id="R-1", **changes):
    base = RequestRecord(link=LINK, request_id=request_id, request_type="live_view", version=1,
                         transaction_id=f"t-{request_id}", received_at=100.0, deadline=400.0,
                         state=AWAITING_CONSENT, needs_consent=True,
                         payload={"request_type": "live_view", "camera": "12"})
    return attrs.evolve(base, **changes)


def test_a_disclosure_job_returns_the_new_row_id_and_the_row_reads_back(harness, records):
    """A disclosure job returns its row's id, and the row reads back as written."""
    first = write(harness, records.disclosure_job(disclosure()))
    second = write(harness, records.disclosure_job(disclosure(item="14")))
    assert second == first + 1
    assert records.disclosures() == [disclosure(id=first), disclosure(id=second, item="14")]


def test_the_next_disclosure_id_is_the_one_the_row_takes(harness, records):
    """The id chosen before the transaction is the one the row gets, and two choices never repeat."""
    write(harness, records.disclosure_job(disclosure()))
    chosen = records.next_disclosure_id()
    assert records.next_disclosure_id() == chosen + 1
    assert write(harness, records.disclosure_job(disclosure(id=chosen))) == chosen


def test_an_id_another_link_took_fails_the_whole_transaction(harness, records):
    """An id already taken fails the insert, and the event written with it is not kept either."""
    other = PoliceRecords(harness.database, "police_link.other")
    chosen = records.next_disclosure_id()
    assert other.next_disclosure_id() == chosen
    write(harness, other.disclosure_job(disclosure(id=chosen, link="police_link.other")))
    published = harness.bus.publish(harness.note("released"), also=together(records.disclosure_job(disclosure(id=chosen))))
    harness.settle()
    assert published.called
    failure = []
    published.addErrback(failure.append)
    assert failure and failure[0].check(sqlite3.IntegrityError)
    assert harness.bus.replay() == []
    assert records.next_disclosure_id() == chosen + 1


def test_the_disclosure_log_refuses_update_and_delete(harness, records):
    """Nothing may change or remove a disclosure row: the triggers refuse both."""
    row = write(harness, records.disclosure_job(disclosure()))
    for statement in ("UPDATE police_disclosures SET why = 'nothing' WHERE id = ?",
                      "DELETE FROM police_disclosures WHERE id = ?"):
        attempt = harness.database.write(lambda connection, sql=statement: connection.execute(sql, (row,)))
        harness.settle()
        failures = []
        attempt.addErrback(failures.append)
        assert failures and "append-only" in failures[0].getErrorMessage()
    assert records.disclosures() == [disclosure(id=row)]


def test_disclosures_page_by_id_and_narrow_to_a_link_or_request(harness, records):
    """Disclosures come in id order after a given id, of one link or request when asked."""
    ids = [write(harness, records.disclosure_job(disclosure(item=str(n), request_id=f"R-{n % 2}",
                                                            link=LINK if n < 3 else "police_link.other")))
           for n in range(5)]
    assert [d.id for d in records.disclosures(after_id=ids[1], limit=2)] == ids[2:4]
    assert [d.id for d in records.disclosures(link=LINK)] == ids[:3]
    assert [d.item for d in records.disclosures(request_id="R-1")] == ["1", "3"]


def test_the_csv_export_has_the_columns_iso_times_and_json_detail(harness, records):
    """The CSV has the log's columns, times in ISO 8601 UTC, detail as JSON, and empty cells for none."""
    write(harness, records.disclosure_job(disclosure()))
    out = io.StringIO(newline="")
    assert records.export_csv(out) == 1
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows[0] == list(DISCLOSURE_COLUMNS)
    row = dict(zip(rows[0], rows[1]))
    assert row["at"] == "2023-11-14T22:13:20Z"
    assert row["expires_at"] == "2023-11-14T22:28:20Z"
    assert row["crime_reference"] == "" and row["sha256"] == ""
    assert json.loads(row["detail"]) == {"uri": "rtsp://media.example/12"}
    assert row["released_by"] == "hub (automatic)"


def test_the_csv_export_defuses_spreadsheet_formulas(harness, records):
    """A cell that would start a spreadsheet formula is written with a leading apostrophe."""
    write(harness, records.disclosure_job(disclosure(why='=HYPERLINK("http://evil.example","x")',
                                                     item="+12", crime_reference="-1", released_by="@ops")))
    out = io.StringIO(newline="")
    records.export_csv(out)
    row = dict(zip(DISCLOSURE_COLUMNS, list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1]))
    assert row["why"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (row["item"], row["crime_reference"], row["released_by"]) == ("'+12", "'-1", "'@ops")
    assert spreadsheet_safe("\tcmd") == "'\tcmd" and spreadsheet_safe("plain") == "plain"


def test_the_csv_export_pages_through_a_long_log(harness, records):
    """Every row is exported, however many pages the log takes, after a given id."""
    def many(connection):
        for n in range(1203):
            records.disclosure_job(disclosure(item=str(n)))(connection)

    write(harness, many)
    out = io.StringIO(newline="")
    assert records.export_csv(out, after_id=3) == 1200
    items = [row[5] for row in csv.reader(io.StringIO(out.getvalue(), newline=""))][1:]
    assert items == [str(n) for n in range(3, 1203)]


def test_a_request_row_moves_through_its_states(harness, records):
    """A request is written as received, then moved to a state with its answer, and reads back so."""
    write(harness, records.request_job(request_record()))
    assert records.request("R-1") == request_record()
    write(harness, records.request_state_job("R-1", ACTIVE, at=200.0, outcome="accepted", detail="shared",
                                             answered_by="op1", expires_at=500.0))
    assert records.request("R-1") == request_record(state=ACTIVE, answered_at=200.0, outcome="accepted",
                                                    detail="shared", answered_by="op1", expires_at=500.0)
    write(harness, records.request_state_job("R-1", CLOSED))
    changed = records.request("R-1")
    assert (changed.state, changed.outcome, changed.expires_at) == (CLOSED, "accepted", 500.0)
    assert records.request("R-2") is None


def test_open_requests_are_this_links_requests_not_closed(harness, records):
    """Open requests are the link's own ones not yet closed, oldest first."""
    other = PoliceRecords(harness.database, "police_link.other")
    write(harness, records.request_job(request_record("R-2", received_at=300.0)))
    write(harness, records.request_job(request_record("R-1", received_at=200.0)))
    write(harness, records.request_job(request_record("R-3", state=CLOSED)))
    write(harness, other.request_job(request_record("R-4", link="police_link.other")))
    assert [r.request_id for r in records.open_requests()] == ["R-1", "R-2"]


def test_a_request_id_cannot_be_written_twice_nor_an_unknown_one_moved(harness, records):
    """A second row with the same request id, or a state change of an unknown one, fails."""
    write(harness, records.request_job(request_record()))
    for job in (records.request_job(request_record(transaction_id="t-other")),
                records.request_state_job("R-9", CLOSED)):
        attempt = harness.database.write(job)
        harness.settle()
        failures = []
        attempt.addErrback(failures.append)
        assert failures
    with pytest.raises(ValueError, match="not one of"):
        records.request_state_job("R-1", "finished")


def test_a_hold_is_made_and_completed_once(harness, records):
    """A hold is written open with the id chosen for it, completed with its manifest, and only once."""
    hold = HoldRecord(id=records.next_hold_id(), link=LINK, request_id="R-1", crime_reference="CR/1/26",
                      cameras=("12", "14"), start="2026-01-01T10:00:00+00:00", end="2026-01-01T11:00:00+00:00",
                      retain_until=None, created_at=100.0)
    assert write(harness, records.hold_job(hold)) == hold.id
    assert records.holds(open_only=True) == [hold]
    manifest = ({"name": "cam12.mp4", "sha256": "ab" * 32},)
    write(harness, records.hold_done_job(hold.id, at=200.0, completed_by="op1", export_reference="EX-9",
                                         manifest=manifest))
    done = attrs.evolve(hold, state=HOLD_COMPLETED, completed_at=200.0, completed_by="op1",
                        export_reference="EX-9", manifest=manifest)
    assert records.holds(request_id="R-1") == [done]
    assert records.holds(open_only=True) == []
    again = harness.database.write(records.hold_done_job(hold.id, at=300.0, completed_by="op2",
                                                         export_reference="EX-10", manifest=()))
    harness.settle()
    failures = []
    again.addErrback(failures.append)
    assert failures and "not open" in failures[0].getErrorMessage()
