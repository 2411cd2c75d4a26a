// The audit log, for auditors only: who did what, when, from where, in pages of 200, with filters by
// actor and action and the CSV / JSON-lines export the hub records as an audited action itself.
// The hub refuses these routes to every other role; the console does not even offer the view.

import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { fullTime } from "./format.js";
import { describe } from "./detail.js";

const PAGE = 200;

export class AuditView {
  constructor({ container }) {
    this.container = container;
    this.entries = [];
    this.done = false;
    this.error = null;
    this.actor = h("input", { type: "search", placeholder: "actor", "aria-label": "Actor", spellcheck: "false" });
    this.action = h("input", { type: "search", placeholder: "action, e.g. incident.acknowledge", "aria-label": "Action", spellcheck: "false" });
    this.body = h("tbody");
    this.more = h("button", { type: "button", class: "ghost", on: { click: () => this.showOlder() } }, "Older entries");
    this.status = h("p", { class: "muted", role: "status" });
    this.built = false;
  }

  build() {
    const filters = h("form", { class: "audit-filters", role: "search" },
      this.actor, this.action, h("button", { type: "submit" }, "Filter"),
      h("a", { href: "/api/audit/export?format=csv", class: "button", download: "audit.csv", id: "audit-export-csv" }, "Export CSV"),
      h("a", { href: "/api/audit/export?format=jsonl", class: "button ghost", download: "audit.jsonl" }, "Export JSON lines"));
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    replace(this.container,
      h("h2", {}, "Audit log"),
      h("p", { class: "muted" }, "Every operator and partner action, chained by hashes; newest first. Nobody can edit it."),
      filters,
      h("div", { class: "audit-scroll" },
        h("table", { class: "audit-table", "aria-label": "Audit entries" },
          h("thead", {}, h("tr", {}, ["#", "When", "Who", "Role", "From", "Action", "Target", "Detail"].map((title) => h("th", { scope: "col" }, title)))),
          this.body)),
      this.status, this.more);
    this.built = true;
  }

  show() {
    if (!this.built) this.build();
    this.load();
  }

  hide() {}

  showOlder() {
    this.shown += PAGE;
    this.render();
  }

  /** Read the log again (with the filters) and show its newest page. */
  async load() {
    const query = { limit: PAGE, actor: this.actor.value.trim(), action: this.action.value.trim() };
    replace(this.status, "Loading…");
    let entries;
    try {
      // The API pages forwards by id; to show newest first, the console reads every page once and
      // keeps them in memory (an audit log of a shift is thousands of rows, not millions).
      entries = await this.readAll(query);
    } catch (error) {
      replace(this.status, `Could not read the audit log: ${error.message}`);
      return;
    }
    this.entries = entries;
    this.shown = PAGE;
    this.render();
  }

  async readAll(query) {
    const all = [];
    let after = 0;
    for (let page = 0; page < 500; page += 1) {
      const data = await get("/api/audit", { ...query, after });
      const entries = (data && data.entries) || [];
      all.push(...entries);
      if (entries.length < PAGE) break;
      after = entries[entries.length - 1].id;
    }
    return all.sort((a, b) => b.id - a.id);
  }

  render() {
    const shown = this.entries.slice(0, this.shown);
    replace(this.body, shown.map((entry) => h("tr", { dataset: { id: entry.id, action: entry.action } },
      h("td", { class: "num" }, String(entry.id)),
      h("td", { class: "nowrap" }, fullTime(entry.at)),
      h("td", {}, entry.actor || ""),
      h("td", {}, entry.role || ""),
      h("td", {}, entry.address || ""),
      h("td", { class: "nowrap" }, entry.action || ""),
      h("td", {}, entry.target || ""),
      h("td", { class: "detail-cell" }, entry.detail && Object.keys(entry.detail).length ? describe(entry.detail) : ""))));
    if (!shown.length) this.body.appendChild(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No entries.")));
    replace(this.status, `${shown.length} of ${this.entries.length} entries`);
    this.more.hidden = shown.length >= this.entries.length;
  }
}
