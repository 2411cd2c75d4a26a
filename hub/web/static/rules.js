// The rules in force and the maintenance windows (GET /api/rules), for every role: a control room sees
// which events open incidents and what the hub then does, and which works hide which events now, without
// reading the configuration. Read again every time the view is opened (and with its Refresh button).

import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { fullTime } from "./format.js";

const ACTIONS = { open: "Opens an incident", join: "Joins an open incident only", ignore: "Left alone" };
const STATES = { active: "Active now", upcoming: "Upcoming", over: "Over" };

function list(values) {
  return values.join(", ");
}

function seconds(value) {
  if (value >= 3600 && value % 3600 === 0) return `${value / 3600} h`;
  if (value >= 60 && value % 60 === 0) return `${value / 60} min`;
  return `${value} s`;
}

/** What a rule matches, one phrase per criterion given ("every event" when none is). */
export function matchPhrases(matches) {
  const found = [];
  const topics = matches.topics || [];
  if (topics.length && !(topics.length === 1 && topics[0] === "#")) found.push(`topic ${list(topics)}`);
  if (matches.min_severity && matches.min_severity !== "info") found.push(`severity ${matches.min_severity} or worse`);
  if ((matches.sources || []).length) found.push(`from ${list(matches.sources)}`);
  if ((matches.locations || []).length) found.push(`at ${list(matches.locations)}`);
  if ((matches.members || []).length) found.push(`radio unit ${list(matches.members)}`);
  if ((matches.cameras || []).length) found.push(`camera ${list(matches.cameras)}`);
  if ((matches.time_of_day || []).length) found.push(`between ${list(matches.time_of_day)}`);
  for (const field of matches.payload || []) found.push(`${field.field} is ${field.values.map(String).join(" or ")}`);
  return found.length ? found : ["every event"];
}

/** What a rule does, one phrase per action (its SOP is shown on its own). */
export function actionPhrases(does) {
  const found = [ACTIONS[does.action] || does.action];
  if (does.action !== "ignore" && (does.join_on || []).length) {
    found.push(`joins by ${does.join_on.join(" or ")} within ${seconds(does.join_window_s)}`);
  }
  const labels = [];
  if (does.category) labels.push(`category ${does.category}`);
  if (does.priority !== null && does.priority !== undefined) labels.push(`priority ${does.priority}`);
  if (labels.length) found.push(labels.join(", "));
  const move = does.move_cameras;
  if (move) {
    found.push(`turns ${move.count} camera${move.count === 1 ? "" : "s"} to "${move.preset}" (within ${move.within_m} m`
      + `${move.adapter ? `, ${move.adapter}` : ""})`);
  }
  if (does.police === "auto") found.push(`sends it to the police${does.police_adapter ? ` (${does.police_adapter})` : ""}`);
  if (does.police === "offer") found.push(`offers "Send to police"${does.police_adapter ? ` (${does.police_adapter})` : ""}`);
  if (does.broadcast) found.push(`broadcasts "${does.broadcast.text}" on ${does.broadcast.adapter}`);
  if (does.escalate_after_s !== null && does.escalate_after_s !== undefined) {
    found.push(does.escalate_after_s > 0 ? `escalates after ${seconds(does.escalate_after_s)} unacknowledged` : "never escalates");
  }
  return found;
}

function phrases(items) {
  return h("ul", { class: "phrases" }, items.map((item) => h("li", {}, item)));
}

function count(value) {
  return value === null || value === undefined ? "–" : String(value);
}

function span(label, stretch) {
  return stretch ? `${label} ${fullTime(stretch.starts_at)} to ${fullTime(stretch.ends_at)}` : null;
}

export class RulesView {
  constructor({ container }) {
    this.container = container;
    this.body = h("tbody");
    this.windows = h("ul", { class: "windows", "aria-label": "Maintenance windows" });
    this.status = h("p", { class: "muted", role: "status" });
    this.built = false;
    this.loading = 0;
  }

  build() {
    replace(this.container,
      h("div", { class: "status-head" },
        h("h2", {}, "Rules"),
        h("button", { type: "button", class: "ghost", id: "rules-refresh", on: { click: () => this.load() } }, "Refresh")),
      h("p", { class: "muted" }, "Tried in order for every event; the first that matches decides. Maintenance windows are looked at first."),
      this.status,
      h("h3", { id: "maintenance-title" }, "Maintenance"),
      this.windows,
      h("h3", {}, "Rules in order"),
      h("div", { class: "audit-scroll" },
        h("table", { class: "rules-table", "aria-label": "Incident rules, in the order they are tried" },
          h("thead", {}, h("tr", {}, ["#", "Rule", "Matches", "Does", "Incidents opened", "Acted on"]
            .map((title) => h("th", { scope: "col" }, title)))),
          this.body)));
    this.built = true;
  }

  show() {
    if (!this.built) this.build();
    this.load();
  }

  hide() {}

  reset() {
    this.built = false;
    replace(this.container);
  }

  async load() {
    const ticket = ++this.loading;
    replace(this.status, "Loading…");
    let data;
    try {
      data = await get("/api/rules");
    } catch (error) {
      if (ticket === this.loading) replace(this.status, `Could not read the rules: ${error.message}`);
      return;
    }
    if (ticket !== this.loading) return;
    this.render(data || {});
  }

  render(data) {
    const rules = data.rules || [];
    const windows = data.maintenance || [];
    replace(this.body, rules.map((rule) => this.row(rule)));
    if (!rules.length) this.body.appendChild(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No rules: nothing opens an incident.")));
    replace(this.windows, windows.map((window) => this.windowItem(window, data.timezone)));
    if (!windows.length) this.windows.appendChild(h("li", { class: "muted" }, "No maintenance windows."));
    const active = windows.filter((window) => window.active).length;
    replace(this.status, `${rules.length} rule${rules.length === 1 ? "" : "s"}; `
      + `${active} of ${windows.length} maintenance window${windows.length === 1 ? "" : "s"} active; `
      + `read at ${fullTime(data.now)} (times in ${data.timezone || "the room's time zone"}).`);
  }

  row(rule) {
    const does = rule.does || {};
    const sop = does.sop || [];
    const incidents = rule.incidents || {};
    return h("tr", { dataset: { rule: rule.name, action: does.action } },
      h("td", { class: "num" }, String(rule.position)),
      h("th", { scope: "row" }, rule.name),
      h("td", { class: "rule-matches" }, phrases(matchPhrases(rule.matches || {}))),
      h("td", { class: "rule-does" }, phrases(actionPhrases(does)),
        sop.length ? h("details", { class: "rule-sop" },
          h("summary", {}, `SOP: ${sop.length} step${sop.length === 1 ? "" : "s"}`),
          h("ol", {}, sop.map((step) => h("li", {}, step)))) : null),
      h("td", { class: "num", dataset: { count: "opened" } }, count(incidents.opened)),
      h("td", { class: "num", dataset: { count: "acted_on" } }, count(incidents.acted_on)));
  }

  windowItem(window, zone) {
    const covers = window.covers || {};
    const what = [];
    if ((covers.cameras || []).length) what.push(`camera ${list(covers.cameras)}`);
    if ((covers.subjects || []).length) what.push(list(covers.subjects));
    const topics = covers.topics || [];
    if (topics.length && !(topics.length === 1 && topics[0] === "#")) what.push(`topic ${list(topics)}`);
    if ((covers.sources || []).length) what.push(`from ${list(covers.sources)}`);
    const schedule = window.schedule || {};
    const when = [];
    if (schedule.daily) when.push(`daily ${schedule.daily} (${zone || "local"})`);
    if (schedule.starts && schedule.ends && !schedule.daily) when.push(`${fullTime(schedule.starts)} to ${fullTime(schedule.ends)}`);
    else {
      if (schedule.starts) when.push(`from ${fullTime(schedule.starts)}`);
      if (schedule.ends) when.push(`until ${fullTime(schedule.ends)}`);
    }
    const state = window.state || (window.active ? "active" : "upcoming");
    return h("li", { class: ["window", `window-${state}`], dataset: { window: window.name, state } },
      h("span", { class: ["window-state", `window-state-${state}`] }, STATES[state] || state),
      h("b", { class: "window-name" }, window.name),
      h("span", { class: "window-when" }, when.join(", ")),
      h("span", { class: "window-covers" }, `covers ${what.length ? what.join("; ") : "every event"}`),
      window.reason ? h("span", { class: "window-reason" }, window.reason) : null,
      h("span", { class: "window-times muted" },
        [span("now:", window.current), span("next:", window.next)].filter(Boolean).join("; ") || "never again"));
  }
}
