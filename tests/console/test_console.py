"""The operator console in a real browser (headless Chromium) against a real hub process.

Events reach the hub the way a partner sends them, as reports over HTTP; the console must show them,
let an operator act on them, keep partner text inert, and keep the audit log to auditors.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Callable

from playwright.sync_api import expect

from tests.console.conftest import PARTNERS, PASSWORD, SITE, Console, RunningHub

# Generous bounds for waiting on the page: a test fails for a missing row, never for a slow machine.
# How quickly a row appears is measured and recorded (record_property), not asserted.
APPEARS_S = 5


def unique(text: str) -> str:
    return f"{text} {secrets.token_hex(3)}"


def test_signing_in_opens_the_queue_and_names_the_user(console: Callable[[], Console]) -> None:
    """Signing in shows the queue, the user and role, and a live stream."""
    view = console()
    view.sign_in("olive")
    expect(view.page.locator("#whoami")).to_have_text("olive (operator)")
    expect(view.page.locator("#queue")).to_be_visible()
    expect(view.page.locator("#login-view")).to_be_hidden()
    assert view.errors == []


def test_a_wrong_password_is_refused_with_a_message(console: Callable[[], Console]) -> None:
    """A wrong password keeps the login page and says so."""
    view = console()
    view.page.goto("/")
    view.page.fill("#login-username", "olive")
    view.page.fill("#login-password", "not the password at all")
    view.page.click("#login-submit")
    expect(view.page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(view.page.locator("#app-view")).to_be_hidden()


def test_a_partner_report_appears_in_the_queue_live(
    console: Callable[[], Console], hub: RunningHub, record_property: Callable[[str, Any], None]
) -> None:
    """A report published on the bus shows in an open console's queue without a reload."""
    view = console()
    view.sign_in("olive")
    summary = unique("Shoplifter leaving Boots")
    started = time.monotonic()
    hub.report("live", summary=summary, severity="high", location={"name": "High Street"})
    row = view.row(summary)
    expect(row).to_be_visible(timeout=APPEARS_S * 1000)
    record_property("report_to_row_s", round(time.monotonic() - started, 3))
    expect(row).to_contain_text("high")
    expect(row).to_contain_text("new")
    expect(row).to_contain_text("High Street")


def test_a_dropped_stream_reconnects_and_resumes_from_the_last_event_seen(
    console: Callable[[], Console], hub: RunningHub
) -> None:
    """After the stream drops, the console reconnects with ?since=<last seq> and shows what it missed."""
    view = console()
    connections: list[tuple[str, Any]] = []

    def through(socket: Any) -> None:
        # Every stream connection goes through the test on its way to the hub, so the test can cut it.
        connections.append((socket.url, socket.connect_to_server()))

    view.page.route_web_socket(re.compile(r"/api/stream"), through)
    view.sign_in("olive")
    assert len(connections) == 1
    connections[0][1].close()
    missed = hub.report("resume", summary=unique("While the stream was down"))
    expect(view.page.locator("#link-state")).to_have_text("Live")
    expect(view.row("While the stream was down")).to_be_visible(timeout=APPEARS_S * 1000)
    assert len(connections) == 2
    since = int(re.search(r"[?&]since=(\d+)", connections[1][0]).group(1))
    assert 0 < since < missed["seq"]
    expect(view.row("While the stream was down")).to_have_count(1)


def test_an_incident_is_acknowledged_then_closed_through_resolved(
    console: Callable[[], Console], hub: RunningHub
) -> None:
    """An operator acknowledges an incident and moves it on until it is closed; the hub agrees."""
    view = console()
    view.sign_in("olive")
    summary = unique("Fight outside the Market Tavern")
    hub.report("lifecycle", summary=summary)
    row = view.row(summary)
    expect(row).to_be_visible(timeout=APPEARS_S * 1000)
    incident_id = row.get_attribute("data-id")
    row.click()
    detail = view.page.locator("#detail")
    state = detail.locator("[data-testid=detail-state]")
    expect(detail).to_contain_text(summary)
    detail.get_by_role("button", name="Acknowledge (a)").click()
    expect(state).to_have_text("acknowledged")
    for step in ("in progress", "resolved", "closed"):
        detail.get_by_label("New state").select_option(label=step)
        detail.get_by_role("button", name="Change state").click()
        expect(state).to_have_text(step)
    expect(detail).to_contain_text("Closed: no further changes.")
    # A closed incident leaves the default queue.
    expect(row).to_have_count(0)
    answer = view.page.request.get(f"/api/incidents/{incident_id}").json()
    assert answer["incident"]["state"] == "closed"
    assert answer["incident"]["acknowledged_by"] == "olive"


def test_an_operator_is_not_offered_the_audit_view_and_the_hub_refuses_it(
    console: Callable[[], Console]
) -> None:
    """An operator sees no audit tab, gets a refusal at #audit, and the hub answers 403 to the session."""
    view = console()
    view.sign_in("olive")
    expect(view.page.locator("#audit-tab")).to_be_hidden()
    view.page.goto("/#audit")
    expect(view.page.locator("#audit-view")).to_have_text("The audit log is for auditors only.")
    assert not any("/api/audit" in url for url in view.requests)
    status = view.page.evaluate("fetch('/api/audit', {credentials: 'same-origin'}).then((r) => r.status)")
    assert status == 403


def test_partner_markup_renders_as_inert_text(console: Callable[[], Console], hub: RunningHub) -> None:
    """Script and image-handler payloads in a partner's text show literally, and never run or build elements."""
    view = console()
    view.sign_in("olive")
    marker = secrets.token_hex(3)
    summary = f"<script>window.__pwned = 1</script>Bag snatch {marker} <img src=x onerror=\"window.__pwned = 2\">"
    details = "<img src=x onerror=window.__pwned=3><svg onload=window.__pwned=4></svg><u>underlined</u>"
    hub.report("markup", summary=summary, details=details, reporter="<i>Boots</i>",
               location={"name": "<u>High Street</u>"})
    row = view.row(marker)
    expect(row).to_be_visible(timeout=APPEARS_S * 1000)
    expect(row).to_contain_text("<script>window.__pwned = 1</script>Bag snatch")
    expect(row).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    expect(row).to_contain_text("<u>High Street</u>")
    row.click()
    detail = view.page.locator("#detail")
    expect(detail.locator(".event-details")).to_have_text(details)
    expect(detail.locator(".detail-title")).to_contain_text("<script>window.__pwned = 1</script>")
    made = view.page.evaluate(
        """() => ({
            images: document.querySelectorAll("img").length,
            handlers: document.querySelectorAll("[onerror], [onload]").length,
            inline_scripts: Array.from(document.scripts).filter((script) => !script.src).length,
            partner_markup: document.querySelectorAll(
                "#queue :is(script, img, svg, u, i), #detail :is(script, img, svg, u, i)").length,
            pwned: typeof window.__pwned,
        })"""
    )
    assert made == {"images": 0, "handlers": 0, "inline_scripts": 0, "partner_markup": 0, "pwned": "undefined"}
    assert view.dialogs == []
    assert view.errors == []


def test_a_critical_incident_raises_the_alarm_until_acknowledged(
    console: Callable[[], Console], hub: RunningHub
) -> None:
    """A critical incident flashes its row and the banner until someone acknowledges it."""
    view = console()
    view.sign_in("olive")
    summary = unique("Emergency button pressed by Market Tavern")
    hub.report("critical", summary=summary, severity="critical")
    banner = view.page.locator("#alert-banner")
    expect(banner).to_be_visible(timeout=APPEARS_S * 1000)
    expect(banner).to_contain_text(summary)
    row = view.row(summary)
    expect(row).to_have_class(re.compile(r"\balarm\b"))
    expect(view.page).to_have_title(re.compile("CRITICAL"))
    # Sound needs a gesture: the button switches it on and the choice is remembered.
    view.page.click("#sound-toggle")
    expect(view.page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
    assert view.page.evaluate("localStorage.getItem('hub.console.sound')") == "on"
    view.page.click("#alert-show")
    view.page.locator("#detail").get_by_role("button", name="Acknowledge (a)").click()
    expect(banner).to_be_hidden()
    expect(row).not_to_have_class(re.compile(r"\balarm\b"))


def test_the_queue_is_driven_from_the_keyboard(console: Callable[[], Console], hub: RunningHub) -> None:
    """/ filters, Enter opens, a acknowledges, n writes a note, j/k move, ? shows help, Esc leaves."""
    view = console()
    page = view.page
    view.sign_in("olive")
    summary = unique("Keyboard case at Low Pavement")
    hub.report("keys", summary=summary)
    row = view.row(summary)
    expect(row).to_be_visible(timeout=APPEARS_S * 1000)

    page.keyboard.press("/")
    expect(page.locator("#filter-text")).to_be_focused()
    page.keyboard.type(summary.split()[-1])
    expect(page.locator("#queue-body tr")).to_have_count(1)
    page.keyboard.press("Enter")  # from the filter to the first match
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#detail .detail-title")).to_contain_text(summary)
    page.keyboard.press("a")
    expect(page.locator("#detail [data-testid=detail-state]")).to_have_text("acknowledged")
    page.keyboard.press("n")
    expect(page.locator("#detail .note-text")).to_be_focused()
    page.keyboard.type("Checked on camera 42, nobody there")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#detail .notes")).to_contain_text("Checked on camera 42, nobody there")
    page.keyboard.press("Escape")  # leaves the note field, back to the queue

    page.fill("#filter-text", "")
    page.locator("#filter-text").dispatch_event("input")
    page.keyboard.press("Escape")
    rows = page.locator("#queue-body tr")
    expect(rows).not_to_have_count(1)
    page.locator("#queue-body tr").first.focus()
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")

    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()
    page.keyboard.press("w")
    expect(page.locator("body")).to_have_class(re.compile(r"\bwall\b"))


def test_an_auditor_reads_and_exports_the_audit_log(console: Callable[[], Console], hub: RunningHub) -> None:
    """An auditor finds operators' actions in the audit view and can export them as CSV, read-only elsewhere."""
    summary = unique("Audited incident")
    hub.report("audit", summary=summary)
    view = console()
    view.sign_in("audrey")
    tab = view.page.locator("#audit-tab")
    expect(tab).to_be_visible()
    tab.click()
    table = view.page.locator("#audit-view table")
    expect(table).to_contain_text("session.login")
    expect(table).to_contain_text("partner.report")
    link = view.page.locator("#audit-export-csv")
    expect(link).to_have_attribute("href", "/api/audit/export?format=csv")
    exported = view.page.request.get("/api/audit/export?format=csv")
    assert exported.status == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "session.login" in exported.text()
    view.page.locator("#audit-view").get_by_placeholder("actor").fill("audrey")
    view.page.locator("#audit-view").get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr").first).to_contain_text("audrey")
    # Auditors read incidents but cannot act on them.
    view.page.goto("/#queue")
    row = view.row(summary)
    row.click()
    expect(view.page.locator("#detail")).to_contain_text("Read only")
    expect(view.page.locator("#detail").get_by_role("button", name="Acknowledge (a)")).to_have_count(0)


def test_the_status_panel_shows_partner_links_and_when_they_last_reported(
    console: Callable[[], Console], hub: RunningHub
) -> None:
    """The status panel lists every partner link, and a report updates its last message time live."""
    view = console()
    view.sign_in("sam")
    view.page.keyboard.press("3")
    partner = view.page.locator("#status-view tr[data-partner=status]")
    expect(partner).to_contain_text("Status partner")
    hub.report("status", summary=unique("Status check"), severity="low")
    expect(partner).to_contain_text(re.compile(r"\d+ s ago"), timeout=APPEARS_S * 1000)
    expect(view.page.locator("#status-view tr[data-partner]")).to_have_count(len(PARTNERS))


def test_the_map_draws_sites_and_incidents_without_the_internet(
    console: Callable[[], Console], hub: RunningHub
) -> None:
    """The map draws configured sites and located incidents from the hub alone, and opens an incident."""
    view = console()
    view.sign_in("olive")
    summary = unique("Disorder by the tavern")
    hub.report("map", summary=summary, location={"name": "Market Place", "latitude": SITE["lat"] + 0.0004,
                                                 "longitude": SITE["lon"] - 0.0004})
    expect(view.row(summary)).to_be_visible(timeout=APPEARS_S * 1000)
    view.page.keyboard.press("2")
    svg = view.page.locator("#map-view svg")
    expect(svg.locator(f".pt.site[data-id='{SITE['name']}']")).to_be_visible()
    expect(svg.locator(".scale-bar text")).to_have_text(re.compile(r"^\d+(\.\d+)? k?m$"))
    marker = svg.locator(".pt.inc", has_text=summary)
    expect(marker).to_be_visible()
    marker.click()
    view.page.locator(".map-info").get_by_role("button", name="Open incident").click()
    expect(view.page.locator("#detail .detail-title")).to_contain_text(summary)
    off_site = [url for url in view.requests if not url.startswith((hub.url, hub.url.replace("http", "ws"), "data:"))]
    assert off_site == []


def test_signing_out_and_a_lost_session_return_to_the_login_page(console: Callable[[], Console]) -> None:
    """Sign out ends the session; a session the hub no longer knows sends the console back to login."""
    view = console()
    view.sign_in("olive")
    view.page.click("#logout")
    expect(view.page.locator("#login-view")).to_be_visible()
    expect(view.page.locator("#login-message")).to_have_text("You have signed out.")
    assert view.page.evaluate("fetch('/api/session').then((r) => r.status)") == 401

    view.sign_in("olive")
    view.page.context.clear_cookies()
    view.page.keyboard.press("3")  # the status panel asks the hub, which no longer knows the browser
    expect(view.page.locator("#login-view")).to_be_visible()
    expect(view.page.locator("#login-message")).to_have_text("Your session has ended. Please sign in again.")


def test_an_idle_console_signs_itself_out_and_says_why(console: Callable[[], Console]) -> None:
    """With no key press or click for the session's idle time, the console signs out and says why."""
    view = console()
    view.page.clock.install()
    view.sign_in("olive")
    view.page.clock.fast_forward("31:00")  # [web] session_idle_minutes is 30 by default
    expect(view.page.locator("#login-view")).to_be_visible()
    expect(view.page.locator("#login-message")).to_have_text("Signed out after 30 minutes without activity.")
    assert view.page.evaluate("fetch('/api/session').then((r) => r.status)") == 401


def test_repeated_wrong_passwords_are_throttled_and_the_page_says_how_long(
    console: Callable[[], Console]
) -> None:
    """After too many failures the login page says to wait, counts down, and then lets the user in."""
    view = console()
    view.page.goto("/")
    error = view.page.locator("#login-error")
    statuses = []
    while 429 not in statuses and len(statuses) < 6:
        view.page.fill("#login-username", "sam")
        view.page.fill("#login-password", "wrong wrong wrong")
        with view.page.expect_response("**/api/session") as answer:
            view.page.click("#login-submit")
        statuses.append(answer.value.status)
    assert statuses[0] == 401 and statuses[-1] == 429
    expect(error).to_contain_text(re.compile(r"Too many failed sign-ins\. Try again in \d+ s\."))
    expect(view.page.locator("#login-submit")).to_be_disabled()
    expect(error).to_have_text("You can try again now.", timeout=10_000)
    view.page.fill("#login-password", PASSWORD)
    view.page.click("#login-submit")
    expect(view.page.locator("#app-view")).to_be_visible()
