// The status panel: every adapter instance and partner link, with its state and when it was last heard.
// Read from GET /api/adapters, then kept current from the stream: adapter.health.* events change an
// adapter's state, and any event from a source counts as a message heard from it.
//
// An adapter that keeps a link to a partner (the police link) has a Link column too: its `link` in
// GET /api/adapters, then its own `<kind>.link.<state>` events about subject kind partner_link naming the
// adapter (police.link.connected, .restored: up; .lost: down; .fault: line fault). A line fault lasts until
// the partner is heard again: a connection lost meanwhile does not hide it.
//
// Below them, for the roles that may act, the commands of every running adapter (GET /api/commands), to
// send without an incident (POST /api/commands): a broadcast to the radio scheme, say. Each form shows the
// adapter's outcome when its `<type>.command.<outcome>` event arrives on the stream.

import { get, post } from "./api.js";
import { commandForm, PendingCommands } from "./commands.js";
import { h, replace } from "./dom.js";
import { ago, fullTime, toSeconds } from "./format.js";

const ACTING_ROLES = ["operator", "supervisor", "admin"];

const REFRESH_MS = 30000;

function stateClass(state) {
  if (["running", "up", "online", "ok"].includes(state)) return "good";
  if (["failed", "silent", "down", "offline", "degraded"].includes(state)) return "bad";
  if (["starting", "restarting"].includes(state)) return "warn";
  return "idle";
}

// What a partner link's events say of it; other `<kind>.link.*` topics (a gap, a refused frame) say nothing.
const LINK_EVENTS = { connected: "up", restored: "up", up: "up", lost: "down", down: "down", disconnected: "down", fault: "fault" };
const LINK_LABELS = { up: "up", down: "down", fault: "line fault" };
const LINK_CLASSES = { up: "good", down: "warn", fault: "bad" };

/** The link state an event reports for the adapter it names, or null: [adapter name, state]. */
export function linkStateOf(event) {
  const subject = event.subject || {};
  const parts = String(event.topic || "").split(".");
  if (subject.kind !== "partner_link" || !subject.id || parts.length !== 3 || parts[1] !== "link") return null;
  const state = LINK_EVENTS[parts[2]];
  return state ? [String(subject.id), state] : null;
}

export class StatusView {
  constructor({ container, toast, session = () => null, cameras = null }) {
    this.container = container;
    this.toast = toast;
    this.session = session; // () => {user: {name, role}}
    this.cameras = cameras; // () => Promise<[asset]>
    this.commands = []; // as GET /api/commands answers
    this.commandForms = new Map(); // "adapter verb" -> form element, kept so typed text survives
    this.commandsKey = null;
    this.pending = new PendingCommands();
    this.tables = null;
    this.commandsBox = null;
    this.adapters = new Map();
    this.links = new Map(); // adapter name -> "up" | "down" | "fault", kept across reloads of the list
    this.partners = new Map();
    this.bus = null;
    this.loaded = false;
    this.visible = false;
    this.timer = null;
    this.ticker = null;
    this.error = null;
  }

  get canAct() {
    const session = this.session();
    return !!(session && session.user && ACTING_ROLES.includes(session.user.role));
  }

  async load() {
    try {
      const [data, offered] = await Promise.all([
        get("/api/adapters"),
        this.canAct ? get("/api/commands") : Promise.resolve({ commands: [] }),
      ]);
      this.adapters = new Map((data.adapters || []).map((adapter) => [adapter.name, { ...adapter }]));
      for (const adapter of data.adapters || []) {
        if (LINK_LABELS[adapter.link]) this.links.set(adapter.name, adapter.link);
      }
      this.partners = new Map((data.partners || []).map((partner) => [partner.name, { ...partner }]));
      this.bus = data.bus || null;
      this.commands = offered.commands || [];
      this.loaded = true;
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    this.render();
  }

  /** Forget the commands and their forms (signing out). */
  reset() {
    this.commands = [];
    this.commandForms = new Map();
    this.commandsKey = null;
    this.pending.clear();
    this.adapters = new Map();
    this.links = new Map();
    this.partners = new Map();
    this.loaded = false;
    this.tables = null;
    this.commandsBox = null;
    replace(this.container);
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
      this.pending.note(event);
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
      const link = linkStateOf(event);
      if (link) {
        const [name, state] = link;
        if (!(state === "down" && this.links.get(name) === "fault")) this.links.set(name, state);
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
    if (!this.tables || !this.tables.isConnected) {
      // Two parts: the tables are redrawn every few seconds; the command forms only when the list of
      // commands changes, so a message being typed is never wiped.
      this.tables = h("div", { class: "status-tables" });
      this.commandsBox = h("section", { class: "status-commands", "aria-label": "Commands" });
      this.commandsKey = null;
      replace(this.container, this.tables, this.commandsBox);
    }
    this.renderTables();
    this.renderCommands();
  }

  renderTables() {
    const now = Date.now() / 1000;
    const adapters = Array.from(this.adapters.values()).sort((a, b) => a.name.localeCompare(b.name));
    const partners = Array.from(this.partners.values()).sort((a, b) => a.name.localeCompare(b.name));
    const when = (value) => h("span", { title: fullTime(value) }, Number.isNaN(toSeconds(value)) ? "never" : ago(value, now));
    replace(this.tables,
      h("div", { class: "status-head" },
        h("h2", {}, "Adapters and partner links"),
        h("button", { type: "button", class: "ghost", on: { click: () => this.load() } }, "Refresh"),
        this.bus ? h("span", { class: "muted" }, `Journal head ${this.bus.head}`) : null),
      this.error ? h("p", { class: "error" }, `Could not read the status: ${this.error}`) : null,
      h("table", { class: "status-table", "aria-label": "Adapters" },
        h("thead", {}, h("tr", {}, ["Adapter", "Type", "State", "Link", "Last message", "Restarts", "Last problem"].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", {}, adapters.length
          ? adapters.map((adapter) => h("tr", { dataset: { adapter: adapter.name } },
            h("th", { scope: "row" }, adapter.name),
            h("td", {}, adapter.type || ""),
            h("td", {}, h("span", { class: ["health", stateClass(adapter.state)] }, adapter.state || "unknown")),
            h("td", { class: "link" }, this.linkCell(adapter.name)),
            h("td", {}, when(adapter.last_heard_at)),
            h("td", { class: "num" }, adapter.attempt ? String(adapter.attempt) : "0"),
            h("td", { class: "problem" }, adapter.last_error || "")))
          : h("tr", {}, h("td", { colspan: 7, class: "muted" }, this.loaded ? "No adapters are configured." : "Loading…")))),
      h("table", { class: "status-table", "aria-label": "Partners" },
        h("thead", {}, h("tr", {}, ["Partner", "Name", "Last report"].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", {}, partners.length
          ? partners.map((partner) => h("tr", { dataset: { partner: partner.name } },
            h("th", { scope: "row" }, partner.name),
            h("td", {}, partner.display_name || ""),
            h("td", {}, when(partner.last_report_at))))
          : h("tr", {}, h("td", { colspan: 3, class: "muted" }, this.loaded ? "No partners post over HTTP." : "Loading…")))));
  }

  /** The state of the adapter's partner link, coloured; nothing for an adapter without one. */
  linkCell(name) {
    const state = this.links.get(name);
    if (!state) return null;
    return h("span", { class: ["health", "link-state", LINK_CLASSES[state]], dataset: { link: state } }, LINK_LABELS[state]);
  }

  /** The commands of every running adapter; those of adapters that are down are named, not offered. */
  renderCommands() {
    if (!this.canAct || !this.commands.length) {
      if (this.commandsKey !== "") replace(this.commandsBox);
      this.commandsBox.hidden = true;
      this.commandsKey = "";
      return;
    }
    const running = (spec) => {
      const adapter = this.adapters.get(spec.adapter);
      return adapter ? adapter.state === "running" : spec.running !== false;
    };
    const offered = this.commands.filter(running);
    const down = [...new Set(this.commands.filter((spec) => !running(spec)).map((spec) => spec.adapter))].sort();
    const key = JSON.stringify([offered.map((spec) => `${spec.adapter} ${spec.verb}`), down]);
    if (key === this.commandsKey) return;
    this.commandsKey = key;
    this.commandsBox.hidden = false;
    const forms = offered.map((spec) => {
      const formKey = `${spec.adapter} ${spec.verb}`;
      if (!this.commandForms.has(formKey)) {
        this.commandForms.set(formKey, commandForm(spec, {
          send: (values) => post("/api/commands", { adapter: spec.adapter, verb: spec.verb, arguments: values }),
          pending: this.pending,
          toast: this.toast,
          cameras: this.cameras,
          idPrefix: "status-cmd",
        }));
      }
      return this.commandForms.get(formKey);
    });
    replace(this.commandsBox,
      h("h2", {}, "Commands"),
      h("p", { class: "muted" }, "Sent without an incident; the outcome shows under the button when the adapter answers."),
      forms.length ? forms : h("p", { class: "muted" }, "No running adapter offers a command now."),
      down.length ? h("p", { class: "muted" }, `Not running now, so their commands are not offered: ${down.join(", ")}.`) : null);
  }
}
