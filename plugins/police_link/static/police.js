// The police link's console panel: each link to a force (up, down or at line fault, with what waits to be
// sent), the requests from the force still open, the footage held awaiting export and, for auditors,
// supervisors and admins, the latest of the disclosure log with the whole log as a CSV file.
//
// It reads /api/plugins/police_link/{link,requests,holds,disclosures} and reads them again on any police.*
// event from the live stream (a little later, so a burst of events is one reading) and every 30 s. All the
// text comes from the force or the hub's records and goes on the page as text, through dom.js.

import { h, replace } from "/static/dom.js";
import { ago, clockTime, fullTime } from "/static/format.js";

const BASE = "/api/plugins/police_link";
const REFRESH_MS = 30000;
const SOON_MS = 300;
const DISCLOSURES_SHOWN = 50;
const LOG_ROLES = ["auditor", "supervisor", "admin"];
// Coloured as the status panel colours a link: up good, down warn, line fault bad.
const LINK_CLASSES = { up: "good", resuming: "warn", disconnected: "warn", fault: "bad" };
const REQUEST_STATES = { awaiting_consent: "awaiting consent", working: "working", active: "active", closed: "closed" };

function time(value) {
  return value ? h("time", { datetime: value, title: fullTime(value) }, clockTime(value)) : "–";
}

function table(label, columns, rows, empty) {
  return h("table", { class: "status-table police-table", "aria-label": label },
    h("thead", {}, h("tr", {}, columns.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, empty))));
}

class PolicePanel {
  constructor(element, get, user) {
    this.get = get;
    this.showLog = !!(user && LOG_ROLES.includes(user.role));
    this.parts = {
      links: h("div", { class: "police-part", dataset: { part: "links" } }),
      requests: h("div", { class: "police-part", dataset: { part: "requests" } }),
      holds: h("div", { class: "police-part", dataset: { part: "holds" } }),
      disclosures: this.showLog ? h("div", { class: "police-part", dataset: { part: "disclosures" } }) : null,
    };
    this.timer = null;
    this.reading = null;
    replace(element, this.parts.links, this.parts.requests, this.parts.holds, this.parts.disclosures);
  }

  /** Read everything again shortly (events come in bursts). */
  soon() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, SOON_MS);
  }

  async refresh() {
    if (this.reading) return this.reading;
    this.reading = Promise.all([
      this.part("links", () => this.get(`${BASE}/link`), (data) => this.links(data.links || [])),
      this.part("requests", () => this.get(`${BASE}/requests`), (data) => this.requests(data.requests || [])),
      this.part("holds", () => this.get(`${BASE}/holds`, { recent: 0 }), (data) => this.holds(data.holds || [])),
      this.showLog
        ? this.part("disclosures", () => this.get(`${BASE}/disclosures`, { limit: DISCLOSURES_SHOWN }),
          (data) => this.disclosures(data.disclosures || []))
        : null,
    ]).finally(() => { this.reading = null; });
    return this.reading;
  }

  async part(name, read, draw) {
    const box = this.parts[name];
    try {
      const data = await read();
      replace(box, ...draw(data));
    } catch (error) {
      replace(box, h("p", { class: "error" }, `Could not read the police link's ${name}: ${error.message}`));
    }
  }

  links(links) {
    const now = Date.now() / 1000;
    return [
      h("h4", {}, "Links to the force"),
      table("Police links", ["Link", "Force", "State", "Waiting to send", "In flight", "Last heard", "Peer"],
        links.map((link) => h("tr", { dataset: { link: link.name } },
          h("th", { scope: "row" }, link.name),
          h("td", {}, link.force || ""),
          h("td", {}, h("span", { class: ["health", LINK_CLASSES[link.state] || "idle"], dataset: { state: link.state || "" } },
            link.state_label || link.state || "unknown")),
          h("td", { class: "num backlog" }, link.backlog === null || link.backlog === undefined ? "–" : String(link.backlog)),
          h("td", { class: "num" }, link.in_flight === null || link.in_flight === undefined ? "–" : String(link.in_flight)),
          h("td", {}, link.last_heard_at ? h("span", { title: fullTime(link.last_heard_at) }, ago(link.last_heard_at, now)) : "never"),
          h("td", { title: link.fingerprint ? `certificate SHA-256 ${link.fingerprint}` : "" }, link.peer || "–"))),
        "No police link is configured."),
    ];
  }

  requests(requests) {
    const open = requests.filter((request) => request.state !== "closed");
    return [
      h("h4", {}, `Open requests from the force (${open.length})`),
      table("Police requests", ["Received", "Request", "What", "Officer", "State", "Why"],
        open.map((request) => h("tr", { dataset: { request: request.request_id, state: request.state } },
          h("td", {}, time(request.received_at)),
          h("th", { scope: "row" }, request.request_id),
          h("td", {}, request.summary || request.request_type),
          h("td", {}, request.requested_by || ""),
          h("td", {}, h("span", { class: ["state", request.state === "awaiting_consent" ? "warn" : ""] },
            REQUEST_STATES[request.state] || request.state)),
          h("td", { class: "problem" }, request.reason || ""))),
        "No request from the force is open."),
    ];
  }

  holds(holds) {
    const open = holds.filter((hold) => hold.state === "open");
    return [
      h("h4", {}, `Footage held awaiting export (${open.length})`),
      table("Footage holds", ["Crime reference", "Cameras", "From", "To", "Keep until", "Request", "Held since"],
        open.map((hold) => h("tr", { dataset: { hold: String(hold.id) } },
          h("th", { scope: "row" }, hold.crime_reference),
          h("td", {}, (hold.cameras || []).join(", ")),
          h("td", {}, time(hold.start)),
          h("td", {}, time(hold.end)),
          h("td", {}, hold.retain_until ? time(hold.retain_until) : "–"),
          h("td", {}, hold.request_id),
          h("td", {}, time(hold.created_at)))),
        "No footage is waiting to be exported."),
    ];
  }

  disclosures(disclosures) {
    return [
      h("div", { class: "status-head" },
        h("h4", {}, `Disclosure log (latest ${DISCLOSURES_SHOWN})`),
        h("a", { href: `${BASE}/disclosures.csv`, download: "disclosures.csv", class: "button ghost" }, "Download CSV")),
      table("Disclosure log", ["When", "What", "Item", "To", "Why", "Request", "Crime reference", "Released by", "Until"],
        disclosures.map((item) => h("tr", { dataset: { disclosure: String(item.id) } },
          h("td", {}, time(item.at)),
          h("td", {}, String(item.what || "").replace(/_/g, " ")),
          h("td", { title: item.sha256 ? `SHA-256 ${item.sha256}` : "" }, item.item),
          h("td", {}, item.recipient),
          h("td", { class: "problem" }, item.why),
          h("td", {}, item.request_id || ""),
          h("td", {}, item.crime_reference || ""),
          h("td", {}, item.released_by),
          h("td", {}, item.expires_at ? time(item.expires_at) : ""))),
        "Nothing has been released to the police."),
    ];
  }
}

export function mount(element, { get, subscribe, user }) {
  const panel = new PolicePanel(element, get, user);
  panel.refresh();
  const stop = subscribe((events) => {
    if (events.some((event) => String(event.topic || "").startsWith("police."))) panel.soon();
  });
  const timer = setInterval(() => {
    // Signing out empties the panel box: stop reading for a console that no longer shows it.
    if (!element.isConnected) {
      clearInterval(timer);
      stop();
      return;
    }
    panel.refresh();
  }, REFRESH_MS);
}
