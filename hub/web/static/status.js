// The status panel: every adapter instance and partner link, with its state and when it was last heard.
// Read from GET /api/adapters, then kept current from the stream: adapter.health.* events change an
// adapter's state, and any event from a source counts as a message heard from it.

import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { ago, fullTime, toSeconds } from "./format.js";

const REFRESH_MS = 30000;

function stateClass(state) {
  if (["running", "up", "online", "ok"].includes(state)) return "good";
  if (["failed", "silent", "down", "offline", "degraded"].includes(state)) return "bad";
  if (["starting", "restarting"].includes(state)) return "warn";
  return "idle";
}

export class StatusView {
  constructor({ container, toast }) {
    this.container = container;
    this.toast = toast;
    this.adapters = new Map();
    this.partners = new Map();
    this.bus = null;
    this.loaded = false;
    this.visible = false;
    this.timer = null;
    this.ticker = null;
    this.error = null;
  }

  async load() {
    try {
      const data = await get("/api/adapters");
      this.adapters = new Map((data.adapters || []).map((adapter) => [adapter.name, { ...adapter }]));
      this.partners = new Map((data.partners || []).map((partner) => [partner.name, { ...partner }]));
      this.bus = data.bus || null;
      this.loaded = true;
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    this.render();
  }

  show() {
    this.visible = true;
    this.load();
    clearInterval(this.timer);
    clearInterval(this.ticker);
    this.timer = setInterval(() => this.load(), REFRESH_MS);
    // "12 s ago" has to keep counting between refreshes.
    this.ticker = setInterval(() => this.render(), 5000);
  }

  hide() {
    this.visible = false;
    clearInterval(this.timer);
    clearInterval(this.ticker);
  }

  /** Take what the stream says about adapters and partners. */
  addEvents(events) {
    let changed = false;
    for (const event of events) {
      const topic = String(event.topic || "");
      const payload = event.payload || {};
      const at = event.received_at;
      if (topic.startsWith("adapter.health.") && payload.adapter) {
        const adapter = this.adapters.get(payload.adapter) || { name: payload.adapter, type: payload.adapter_type };
        adapter.state = payload.state || topic.split(".").pop();
        adapter.attempt = payload.attempt;
        adapter.last_error = payload.reason || (adapter.state === "running" ? null : adapter.last_error);
        adapter.changed_at = at;
        this.adapters.set(payload.adapter, adapter);
        changed = true;
      }
      if (event.source && this.adapters.has(event.source) && !topic.startsWith("adapter.health.")) {
        this.adapters.get(event.source).last_heard_at = at;
        changed = true;
      }
      if (topic === "partner.report.received" && payload.partner) {
        const partner = this.partners.get(payload.partner) || { name: payload.partner };
        partner.last_report_at = at;
        this.partners.set(payload.partner, partner);
        changed = true;
      }
      if (this.bus && Number(event.seq) > Number(this.bus.head || 0)) this.bus.head = event.seq;
    }
    if (changed && this.visible) this.render();
  }

  render() {
    if (!this.visible) return;
    const now = Date.now() / 1000;
    const adapters = Array.from(this.adapters.values()).sort((a, b) => a.name.localeCompare(b.name));
    const partners = Array.from(this.partners.values()).sort((a, b) => a.name.localeCompare(b.name));
    const when = (value) => h("span", { title: fullTime(value) }, Number.isNaN(toSeconds(value)) ? "never" : ago(value, now));
    replace(this.container,
      h("div", { class: "status-head" },
        h("h2", {}, "Adapters and partner links"),
        h("button", { type: "button", class: "ghost", on: { click: () => this.load() } }, "Refresh"),
        this.bus ? h("span", { class: "muted" }, `Journal head ${this.bus.head}`) : null),
      this.error ? h("p", { class: "error" }, `Could not read the status: ${this.error}`) : null,
      h("table", { class: "status-table", "aria-label": "Adapters" },
        h("thead", {}, h("tr", {}, ["Adapter", "Type", "State", "Last message", "Restarts", "Last problem"].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", {}, adapters.length
          ? adapters.map((adapter) => h("tr", { dataset: { adapter: adapter.name } },
            h("th", { scope: "row" }, adapter.name),
            h("td", {}, adapter.type || ""),
            h("td", {}, h("span", { class: ["health", stateClass(adapter.state)] }, adapter.state || "unknown")),
            h("td", {}, when(adapter.last_heard_at)),
            h("td", { class: "num" }, adapter.attempt ? String(adapter.attempt) : "0"),
            h("td", { class: "problem" }, adapter.last_error || "")))
          : h("tr", {}, h("td", { colspan: 6, class: "muted" }, this.loaded ? "No adapters are configured." : "Loading…")))),
      h("table", { class: "status-table", "aria-label": "Partners" },
        h("thead", {}, h("tr", {}, ["Partner", "Name", "Last report"].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", {}, partners.length
          ? partners.map((partner) => h("tr", { dataset: { partner: partner.name } },
            h("th", { scope: "row" }, partner.name),
            h("td", {}, partner.display_name || ""),
            h("td", {}, when(partner.last_report_at))))
          : h("tr", {}, h("td", { colspan: 3, class: "muted" }, this.loaded ? "No partners post over HTTP." : "Loading…")))));
  }
}
