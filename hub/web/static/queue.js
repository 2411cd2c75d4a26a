// The incident queue: the filter bar, the table of incidents in severity-then-age order, and the counts
// by state in the top bar. Rows are rebuilt from the store whenever it changes (a few hundred rows at
// most); the selection follows the incident, not the row position. A row shows how far its SOP checklist
// has got, and the one-click offers its rules made (the police offer's "Send to police") as buttons.

import { byId, h, replace } from "./dom.js";
import { age, clockTime, locationName, STATES, stateLabel } from "./format.js";
import { isAlarming, sourcesOf } from "./incidents.js";

const DEFAULT_STATES = ["new", "acknowledged", "in_progress", "resolved"];

export class QueueView {
  constructor({ store, onOpen, onNeedState, offers }) {
    this.store = store;
    this.onOpen = onOpen;
    // (incident) => the buttons for the incident's one-click offers (none when nothing here can do them).
    this.offers = offers || (() => []);
    // Asked to load incidents in a state the console does not hold yet (closed ones, on demand).
    this.onNeedState = onNeedState || (() => {});
    this.selectedId = null;
    this.openId = null;
    this.visible = [];
    this.filters = { text: "", source: "", location: "", severity: "", states: new Set(DEFAULT_STATES) };
    this.body = byId("queue-body");
    this.empty = byId("queue-empty");
    this.counts = byId("counts");
    this.pending = false;
    this.buildFilters();
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      // A button in a row (an offer) does its own thing; the row opens on a click anywhere else.
      if (!row || event.target.closest("button")) return;
      this.select(row.dataset.id);
      this.onOpen(row.dataset.id);
    });
    this.body.addEventListener("focusin", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row && row.dataset.id !== this.selectedId) this.select(row.dataset.id, { focus: false });
    });
  }

  buildFilters() {
    const text = byId("filter-text");
    text.addEventListener("input", () => {
      this.filters.text = text.value.trim();
      this.render();
    });
    text.addEventListener("keydown", (event) => {
      // Enter or arrow down in the filter goes to the first match, keyboard only.
      if (event.key === "Enter" || event.key === "ArrowDown") {
        event.preventDefault();
        if (this.visible.length) this.select(this.visible[0].id, { focus: true });
      }
    });
    for (const [id, key] of [["filter-source", "source"], ["filter-location", "location"], ["filter-severity", "severity"]]) {
      const select = byId(id);
      select.addEventListener("change", () => {
        this.filters[key] = select.value;
        this.render();
      });
    }
    const states = byId("filter-states");
    for (const state of STATES) {
      const box = h("input", { type: "checkbox", value: state, checked: this.filters.states.has(state) });
      box.addEventListener("change", () => {
        if (box.checked) {
          this.filters.states.add(state);
          this.onNeedState(state);
        } else {
          this.filters.states.delete(state);
        }
        this.render();
      });
      states.appendChild(h("label", { class: ["state-choice", `state-${state}`] }, box, stateLabel(state)));
    }
    byId("filter-clear").addEventListener("click", () => this.clearFilters());
    byId("filters").addEventListener("submit", (event) => event.preventDefault());
  }

  clearFilters() {
    this.filters.text = "";
    this.filters.source = "";
    this.filters.location = "";
    this.filters.severity = "";
    this.filters.states = new Set(DEFAULT_STATES);
    byId("filter-text").value = "";
    byId("filter-source").value = "";
    byId("filter-location").value = "";
    byId("filter-severity").value = "";
    for (const box of byId("filter-states").querySelectorAll("input")) box.checked = this.filters.states.has(box.value);
    this.render();
  }

  /** Show only one state (clicking a count). */
  onlyState(state) {
    this.filters.states = new Set([state]);
    for (const box of byId("filter-states").querySelectorAll("input")) box.checked = box.value === state;
    this.onNeedState(state);
    this.render();
  }

  focusFilter() {
    const text = byId("filter-text");
    text.focus();
    text.select();
  }

  /** Re-render soon; many events in one burst make one render. */
  update() {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.render();
    }, 0);
  }

  refreshChoices(selectId, values, allLabel) {
    const select = byId(selectId);
    const current = select.value;
    const known = Array.from(select.options).slice(1).map((option) => option.value);
    if (known.length === values.length && known.every((value, i) => value === values[i])) return;
    replace(select, h("option", { value: "" }, allLabel), values.map((value) => h("option", { value }, value)));
    if (current && !values.includes(current)) select.appendChild(h("option", { value: current }, current));
    select.value = current;
  }

  render() {
    const now = Date.now() / 1000;
    this.refreshChoices("filter-source", this.store.sources(), "All sources");
    this.refreshChoices("filter-location", this.store.locations(), "All locations");
    this.visible = this.store.filtered(this.filters);
    const hadFocus = this.body.contains(document.activeElement);
    if (this.selectedId && !this.visible.some((incident) => incident.id === this.selectedId)) {
      this.selectedId = null;
    }
    const rows = this.visible.map((incident) => this.row(incident, now));
    replace(this.body, rows);
    this.empty.hidden = rows.length > 0;
    if (!this.selectedId && hadFocus && this.visible.length) this.selectedId = this.visible[0].id;
    this.markSelection(hadFocus);
    this.renderCounts();
  }

  row(incident, now) {
    const selected = incident.id === this.selectedId;
    const title = [incident.title || "(untitled)"];
    if (incident.duplicate_count > 0) {
      title.push(" ", h("span", { class: "dupes", title: "Repeats folded into this incident" }, `×${incident.duplicate_count + 1}`));
    }
    const steps = Array.isArray(incident.sop) ? incident.sop : [];
    if (steps.length) {
      const done = steps.filter((step) => step.done).length;
      title.push(" ", h("span", {
        class: ["sop-count", done === steps.length && "sop-complete"],
        title: `Procedure: ${done} of ${steps.length} steps done`,
        dataset: { testid: "sop-count" },
      }, `SOP ${done}/${steps.length}`));
    }
    const offers = this.offers(incident);
    if (offers.length) title.push(" ", h("span", { class: "row-offers" }, offers));
    const sources = sourcesOf(incident);
    return h("tr", {
      class: [
        "incident-row",
        `sev-${incident.severity}`,
        `state-${incident.state}`,
        isAlarming(incident) && "alarm",
        incident.id === this.openId && "open",
      ],
      dataset: { id: incident.id },
      tabindex: selected ? 0 : -1,
      "aria-selected": selected ? "true" : "false",
    },
    h("td", {}, h("span", { class: ["sev", `sev-${incident.severity}`] }, incident.severity)),
    h("td", { class: "num" }, `#${incident.number}`),
    h("td", { class: "title" }, title),
    h("td", {}, locationName(incident.location)),
    h("td", { class: "source col-source", title: sources.join(", ") }, sources[0] || "", sources.length > 1 ? ` +${sources.length - 1}` : ""),
    h("td", {}, h("span", { class: ["state", `state-${incident.state}`] }, stateLabel(incident.state))),
    h("td", { class: "col-owner" }, incident.owner || ""),
    h("td", { class: "age", title: `Opened ${clockTime(incident.opened_at, now)}` }, age(incident.opened_at, now)));
  }

  markSelection(focus) {
    for (const row of this.body.rows) {
      const selected = row.dataset.id === this.selectedId;
      row.classList.toggle("selected", selected);
      row.setAttribute("aria-selected", selected ? "true" : "false");
      row.tabIndex = selected ? 0 : -1;
      if (selected && focus) {
        row.focus({ preventScroll: true });
        row.scrollIntoView({ block: "nearest" });
      }
    }
    if (!this.selectedId && this.body.rows.length) this.body.rows[0].tabIndex = 0;
  }

  renderCounts() {
    const counts = this.store.countsByState();
    replace(this.counts, STATES.map((state) => h("button", {
      type: "button",
      class: ["count", `state-${state}`],
      title: state === "closed" ? "Closed incidents the console has seen" : `Show only ${stateLabel(state)}`,
      dataset: { state },
      on: { click: () => this.onlyState(state) },
    }, h("span", { class: "count-label" }, stateLabel(state)), " ", h("b", {}, String(counts[state] || 0)))));
  }

  select(id, { focus = true } = {}) {
    this.selectedId = id;
    this.markSelection(focus);
  }

  setOpen(id) {
    this.openId = id;
    for (const row of this.body.rows) row.classList.toggle("open", row.dataset.id === id);
  }

  /** Move the selection by delta rows (j/k, arrows). */
  move(delta) {
    if (!this.visible.length) return;
    const index = this.visible.findIndex((incident) => incident.id === this.selectedId);
    const next = index === -1 ? (delta > 0 ? 0 : this.visible.length - 1)
      : Math.min(this.visible.length - 1, Math.max(0, index + delta));
    this.select(this.visible[next].id, { focus: true });
  }

  selected() {
    return this.selectedId;
  }
}
