// One incident in full: what it is, what can be done to it (acknowledge, assign, note, change state, the
// one-click offers its rules made, the adapters' commands), the SOP checklist its rules gave it, and its
// timeline of events, notes, history, cameras and, for a root cause, what it covers (the cameras and nodes
// its failure takes down, whose own alarms join it). Live: the console passes in every stream event of this
// incident, and re-reads the detail when the incident itself changes.

import { ApiError, get, path, post } from "./api.js";
import { commandForm, OFFERS, offerButton, offerCommands, PendingCommands } from "./commands.js";
import { h, replace } from "./dom.js";
import { age, clockTime, fullTime, locationName, OPEN_STATES, stateLabel } from "./format.js";
import { sourcesOf } from "./incidents.js";

// The lifecycle's allowed moves, as hub/incidents/model.py has them; the hub refuses others with 409
// anyway, this only keeps impossible choices out of the menu.
export const TRANSITIONS = {
  new: ["acknowledged", "in_progress"],
  acknowledged: ["in_progress", "resolved"],
  in_progress: ["resolved"],
  resolved: ["in_progress", "closed"],
  closed: [],
};

const ACTING_ROLES = ["operator", "supervisor", "admin"];

export function canAct(role) {
  return ACTING_ROLES.includes(role);
}

/** Send an incident's one-click offer: its command, with no arguments, about the incident. */
export function sendOffer(id, spec) {
  return post(path`/api/incidents/${id}/commands`, { adapter: spec.adapter, verb: spec.verb, arguments: {} });
}

/** Run one incident action on the hub; returns the incident as it now is. */
export async function act(id, action, body = {}) {
  const answer = await post(path`/api/incidents/${id}/` + action, body);
  return answer && answer.incident;
}

export class DetailView {
  constructor({ container, session, onIncident, onClose, toast, cameras }) {
    this.container = container;
    this.session = session; // () => {user: {name, role}}
    this.onIncident = onIncident; // (incident) => void: a fresh snapshot for the store
    this.onClose = onClose;
    this.toast = toast;
    this.cameras = cameras; // () => Promise<[asset]>
    this.id = null;
    this.data = null;
    this.events = new Map(); // seq -> event
    this.loadToken = 0;
    this.refreshTimer = null;
    this.pendingCommands = new PendingCommands();
    // Command forms by adapter, verb and fields, kept while the incident stays open: the incident is
    // redrawn whenever an event joins it (a busy radio does so every few seconds), and an operator's
    // half-typed reply, or the outcome of the one just sent, must not vanish with the redraw.
    this.commandForms = new Map();
    this.actionsKey = "";
    // Evidence images by SHA-256, kept while the incident stays open: the timeline is redrawn as events
    // arrive, and the same <img> moved into the new row is not fetched again (each fetch is audited).
    this.evidenceViews = new Map();
    // SOP steps whose tick is on its way to the hub: their boxes stay disabled until it answers.
    this.sopBusy = new Set();
  }

  get role() {
    const session = this.session();
    return session && session.user ? session.user.role : "";
  }

  get userName() {
    const session = this.session();
    return session && session.user ? session.user.name : "";
  }

  async open(id) {
    if (this.id !== id) {
      this.id = id;
      this.data = null;
      this.events = new Map();
      this.actionsKey = "";
      this.pendingCommands = new PendingCommands();
      this.commandForms = new Map();
      this.evidenceViews = new Map();
      this.sopBusy = new Set();
      replace(this.container, h("p", { class: "empty" }, "Loading…"));
    }
    await this.load();
  }

  close() {
    this.id = null;
    this.data = null;
    clearTimeout(this.refreshTimer);
    replace(this.container, h("p", { class: "empty" }, "Select an incident: ",
      h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " to move, ", h("kbd", {}, "Enter"), " to open."));
  }

  async load() {
    const id = this.id;
    const token = ++this.loadToken;
    let data;
    try {
      data = await get(path`/api/incidents/${id}`);
    } catch (error) {
      if (token !== this.loadToken || this.id !== id) return;
      if (error instanceof ApiError && error.status === 401) return;
      replace(this.container, h("p", { class: "error" }, `This incident cannot be shown: ${error.message}`));
      return;
    }
    if (token !== this.loadToken || this.id !== id) return;
    this.data = data;
    for (const event of data.events || []) this.events.set(Number(event.seq), event);
    if (data.incident) this.onIncident(data.incident);
    this.render();
  }

  /** Re-read the detail shortly (several changes in a burst make one request). */
  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      if (this.id) this.load();
    }, 150);
  }

  /** A stream event; kept when it belongs to the open incident. */
  addEvent(event) {
    if (!this.id || event.incident_id !== this.id) return;
    this.events.set(Number(event.seq), event);
    this.pendingCommands.note(event);
    if (this.timeline) this.renderTimeline();
    if (String(event.topic || "").startsWith("incident.")) {
      if (this.data && event.payload && event.payload.incident) {
        this.data.incident = event.payload.incident;
        this.renderSummary();
        this.renderActions();
        this.renderSop();
      }
      this.refreshSoon();
    }
  }

  /** A newer snapshot of the open incident arrived (from an action's answer or the stream). */
  updateIncident(incident) {
    if (!this.data || !incident || incident.id !== this.id) return;
    this.data.incident = incident;
    this.renderSummary();
    this.renderActions();
    this.renderSop();
  }

  render() {
    const incident = this.data.incident;
    // The note and owner fields are kept across redraws; one being typed in keeps the keyboard too, or
    // the rest of what the operator types would land on the page as shortcut keys.
    const typing = [this.noteText, this.ownerInput].find((field) => field && field === document.activeElement) || null;
    const caret = typing ? [typing.selectionStart, typing.selectionEnd] : null;
    this.summary = h("header", { class: "detail-head" });
    this.actions = h("section", { class: "detail-actions", "aria-label": "Actions" });
    this.commands = h("section", { class: "detail-commands", "aria-label": "Commands" });
    this.sopProgress = h("span", { class: "sop-progress muted" });
    this.sopList = h("ol", { class: "sop" });
    this.sopSection = h("section", { class: "detail-sop", "aria-labelledby": "sop-title" },
      h("h3", { id: "sop-title" }, "Procedure ", this.sopProgress), this.sopList);
    this.timeline = h("ol", { class: "timeline", "aria-label": "Timeline, newest first" });
    this.notes = h("ol", { class: "notes" });
    this.history = h("ol", { class: "history" });
    this.cameraList = h("ul", { class: "cameras" });
    this.coverList = h("ul", { class: ["cameras", "covers"] });
    this.coverSection = h("section", { class: "detail-covers" }, h("h3", {}, "Covers"), this.coverList);
    const article = h("article", { class: "detail", dataset: { id: incident.id } },
      this.summary,
      this.actions,
      this.sopSection,
      this.commands,
      h("section", {}, h("h3", {}, "Timeline"), this.timeline),
      h("section", {}, h("h3", {}, "Notes"), this.notes),
      h("section", {}, h("h3", {}, "Cameras"), this.cameraList),
      this.coverSection,
      h("section", {}, h("h3", {}, "History"), this.history));
    replace(this.container, article);
    this.actionsKey = "";
    this.renderSummary();
    this.renderActions();
    this.renderSop();
    this.renderCommands();
    this.renderTimeline();
    this.renderNotes();
    this.renderHistory();
    this.renderCameras();
    if (typing && typing.isConnected) {
      typing.focus();
      typing.setSelectionRange(caret[0], caret[1]);
    }
  }

  renderSummary() {
    const incident = this.data.incident;
    const now = Date.now() / 1000;
    const facts = [
      ["Opened", `${clockTime(incident.opened_at, now)} (${age(incident.opened_at, now)} ago)`],
      ["Owner", incident.owner || "nobody"],
      ["Acknowledged", incident.acknowledged_at ? `${clockTime(incident.acknowledged_at, now)} by ${incident.acknowledged_by || "?"}` : "not yet"],
      ["Location", locationName(incident.location) || "unknown"],
      ["Category", incident.category || "–"],
      ["Priority", incident.priority === null || incident.priority === undefined ? "–" : String(incident.priority)],
      ["Sources", sourcesOf(incident).join(", ") || "–"],
      ["Subject", incident.subject ? `${incident.subject.kind} ${incident.subject.name || incident.subject.id}` : "–"],
      ["Events", `${incident.event_count || 0}` + (incident.duplicate_count ? `, ${incident.duplicate_count} repeats folded` : "")],
    ];
    const covers = incident.covers || [];
    if (covers.length) facts.push(["Covers", coverCounts(covers)]);
    if (incident.escalation_count) facts.push(["Escalated", `${incident.escalation_count} times, last ${clockTime(incident.last_escalated_at, now)}`]);
    if (incident.resolved_at) facts.push(["Resolved", clockTime(incident.resolved_at, now)]);
    if (incident.closed_at) facts.push(["Closed", clockTime(incident.closed_at, now)]);
    replace(this.summary,
      h("div", { class: "detail-title-row" },
        h("h2", { class: "detail-title" }, h("span", { class: "num" }, `#${incident.number} `), incident.title || "(untitled)"),
        h("button", { type: "button", class: "ghost close", title: "Close (Esc)", "aria-label": "Close detail", on: { click: () => this.onClose() } }, "×")),
      h("p", { class: "badges" },
        h("span", { class: ["sev", `sev-${incident.severity}`] }, incident.severity), " ",
        h("span", { class: ["state", `state-${incident.state}`], dataset: { testid: "detail-state" } }, stateLabel(incident.state))),
      h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])));
    this.renderCovers();
  }

  /** What a root-cause incident covers, one line each; the section is hidden when it covers nothing. */
  renderCovers() {
    if (!this.coverList) return;
    const covers = this.data.incident.covers || [];
    this.coverSection.hidden = !covers.length;
    replace(this.coverList, covers.map((key) => {
      const { kind, id } = splitKey(key);
      return h("li", { class: "covered", dataset: { kind, id } }, `${kindName(kind, 1)} ${id}`);
    }));
  }

  renderActions() {
    const incident = this.data.incident;
    if (!canAct(this.role)) {
      replace(this.actions, h("p", { class: "read-only" }, "Read only: your role can look but not act."));
      return;
    }
    const moves = TRANSITIONS[incident.state] || [];
    const offers = this.offers(incident);
    const key = `${incident.state}|${incident.owner}|${offers.map(([offer, spec]) => `${offer}:${spec.adapter}`).join(",")}`;
    if (key === this.actionsKey) return;
    this.actionsKey = key;
    // The text typed into a field survives a re-render of the buttons around it.
    const ownerInput = this.ownerInput || h("input", { type: "text", maxlength: 100, placeholder: "name", "aria-label": "Assign to", spellcheck: "false" });
    this.ownerInput = ownerInput;
    const noteText = this.noteText || h("textarea", { rows: 2, maxlength: 4000, placeholder: "Add a note (n)", "aria-label": "Note", class: "note-text" });
    this.noteText = noteText;
    noteText.onkeydown = (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        noteForm.requestSubmit();
      }
    };
    const stateSelect = h("select", { "aria-label": "New state" },
      moves.map((state) => h("option", { value: state }, stateLabel(state))));
    const noteForm = h("form", { class: "note-form", on: { submit: (event) => { event.preventDefault(); this.addNote(); } } },
      noteText, h("button", { type: "submit" }, "Add note"));
    replace(this.actions,
      h("div", { class: "action-row" },
        incident.state === "new"
          ? h("button", { type: "button", class: "primary", dataset: { action: "acknowledge" }, on: { click: () => this.acknowledge() } }, "Acknowledge (a)")
          : null,
        incident.owner !== this.userName && incident.state !== "closed"
          ? h("button", { type: "button", dataset: { action: "assign-me" }, on: { click: () => this.run("assign", { owner: this.userName }, "Assigned to you") } }, "Assign to me")
          : null,
        incident.state !== "closed"
          ? h("form", { class: "inline", on: { submit: (event) => { event.preventDefault(); this.assignTo(); } } },
            ownerInput, h("button", { type: "submit" }, "Assign"))
          : null,
        moves.length
          ? h("form", { class: "inline", on: { submit: (event) => { event.preventDefault(); this.run("state", { state: stateSelect.value }, `State changed to ${stateLabel(stateSelect.value)}`); } } },
            stateSelect, h("button", { type: "submit" }, "Change state"))
          : h("span", { class: "muted" }, "Closed: no further changes.")),
      offers.length
        ? h("div", { class: ["action-row", "offers"], role: "group", "aria-label": "Offered by the rules" },
          offers.map(([offer, spec]) => offerButton(offer, spec, incident, {
            send: sendOffer,
            pending: this.pendingCommands,
            toast: this.toast,
            named: offers.filter(([other]) => other === offer).length > 1,
          })))
        : null,
      incident.state !== "closed" ? noteForm : null);
  }

  /** [offer, command] for each one-click offer the incident's rules made that an adapter here can carry
   * out (the hub lists the commands on the incident in `actions`). */
  offers(incident) {
    if (!OPEN_STATES.includes(incident.state)) return [];
    const pairs = [];
    for (const offer of incident.offers || []) {
      if (!OFFERS[offer]) continue;
      for (const spec of offerCommands(offer, this.data.actions)) pairs.push([offer, spec]);
    }
    return pairs;
  }

  /** The SOP its rules gave the incident, as a checklist: each step with who ticked it off and when. Only
   * an operator (or above) ticks, and only while the incident is open. */
  renderSop() {
    if (!this.sopList) return;
    const incident = this.data.incident;
    const steps = Array.isArray(incident.sop) ? incident.sop : [];
    this.sopSection.hidden = !steps.length;
    const focused = this.sopList.contains(document.activeElement) ? document.activeElement.dataset.step : null;
    if (!steps.length) {
      replace(this.sopList);
      return;
    }
    const editable = canAct(this.role) && OPEN_STATES.includes(incident.state);
    const done = steps.filter((step) => step.done).length;
    replace(this.sopProgress, `${done} of ${steps.length} done`);
    replace(this.sopList, steps.map((step, index) => {
      const number = index + 1;
      const id = `sop-step-${number}`;
      const box = h("input", {
        type: "checkbox", id, checked: !!step.done, disabled: !editable || this.sopBusy.has(number),
        dataset: { step: number },
      });
      box.addEventListener("change", () => this.checkStep(number, box));
      return h("li", { class: ["sop-step", step.done && "done"], dataset: { step: number } },
        box,
        h("label", { for: id }, h("span", { class: "sop-number" }, `${number}.`), " ", step.text || ""),
        step.done
          ? h("span", { class: "sop-by" }, `done by ${step.done_by || "?"} at `,
            h("time", { datetime: step.done_at, title: fullTime(step.done_at) }, clockTime(step.done_at)))
          : null);
    }));
    if (focused) {
      const again = this.sopList.querySelector(`input[data-step="${focused}"]`);
      if (again) again.focus();
    }
  }

  async checkStep(number, box) {
    const done = box.checked;
    this.sopBusy.add(number);
    box.disabled = true;
    const ok = await this.run("sop", { step: number, done }, done ? `Step ${number} done` : `Step ${number} no longer done`);
    this.sopBusy.delete(number);
    if (!ok) box.checked = !done;
    if (this.data) this.renderSop();
  }

  async run(action, body, done) {
    const id = this.id;
    try {
      const incident = await act(id, action, body);
      if (incident) {
        this.onIncident(incident);
        this.updateIncident(incident);
      }
      this.toast(done);
      this.refreshSoon();
      return true;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) this.toast(`Not done: ${error.message}`, "error");
      this.refreshSoon();
      return false;
    }
  }

  acknowledge() {
    return this.run("acknowledge", {}, "Acknowledged");
  }

  async assignTo() {
    const owner = this.ownerInput.value.trim();
    if (await this.run("assign", { owner: owner || null }, owner ? `Assigned to ${owner}` : "Unassigned")) {
      this.ownerInput.value = "";
    }
  }

  async addNote() {
    const text = this.noteText.value.trim();
    if (!text) {
      this.noteText.focus();
      return;
    }
    if (await this.run("notes", { text }, "Note added")) this.noteText.value = "";
  }

  focusNote() {
    if (this.noteText && this.noteText.isConnected) {
      this.noteText.focus();
      return true;
    }
    return false;
  }

  renderCommands() {
    const actions = (this.data.actions || []);
    if (!canAct(this.role) || !actions.length) {
      replace(this.commands);
      this.commands.hidden = true;
      return;
    }
    this.commands.hidden = false;
    const forms = new Map();
    for (const spec of actions) {
      const key = [spec.adapter, spec.verb, ...(spec.arguments || []).map((argument) => argument.name)].join("|");
      forms.set(key, this.commandForms.get(key) || this.commandForm(spec));
    }
    this.commandForms = forms;
    replace(this.commands, h("h3", {}, "Commands"), Array.from(forms.values()));
  }

  commandForm(spec) {
    const id = this.id;
    return commandForm(spec, {
      send: (values) => post(path`/api/incidents/${id}/commands`, { adapter: spec.adapter, verb: spec.verb, arguments: values }),
      pending: this.pendingCommands,
      toast: this.toast,
      cameraIds: (this.data.cameras || []).map((camera) => camera.id),
      cameras: this.cameras,
    });
  }

  renderTimeline() {
    const now = Date.now() / 1000;
    const events = Array.from(this.events.values()).sort((a, b) => Number(b.seq) - Number(a.seq));
    replace(this.timeline, events.map((event) => this.eventItem(event, now)));
    if (!events.length) this.timeline.appendChild(h("li", { class: "muted" }, "No events."));
  }

  eventItem(event, now) {
    const topic = String(event.topic || "");
    const payload = event.payload && typeof event.payload === "object" ? event.payload : {};
    const isChange = topic.startsWith("incident.");
    const shown = Object.entries(payload).filter(([key]) => !(isChange && key === "incident"));
    return h("li", { class: ["event", `sev-${event.severity}`, isChange && "change"], dataset: { seq: event.seq, topic } },
      h("div", { class: "event-head" },
        h("time", { title: fullTime(event.occurred_at) }, clockTime(event.occurred_at || event.received_at, now)), " ",
        h("span", { class: ["sev", `sev-${event.severity}`] }, event.severity), " ",
        h("span", { class: "topic" }, topic), " ",
        h("span", { class: "source" }, event.source || "")),
      h("p", { class: "summary" }, event.summary || ""),
      typeof payload.details === "string" && payload.details ? h("p", { class: "event-details" }, payload.details) : null,
      this.evidenceView(payload.evidence, payload),
      shown.length
        ? h("details", { class: "payload" }, h("summary", {}, "Details"),
          h("dl", {}, shown.map(([key, value]) => [h("dt", {}, key), h("dd", {}, describe(value))])))
        : null);
  }

  /** A snapshot kept as evidence: the image (when it is one) and its SHA-256 as text, to check a copy against. */
  evidenceView(evidence, payload) {
    if (!evidence || typeof evidence !== "object") return null;
    const sha = String(evidence.sha256 || "");
    // The address is made here from the hash alone, never taken from the event: only hub evidence is shown.
    if (!/^[0-9a-f]{64}$/.test(sha)) return null;
    const key = `${sha} ${this.id}`;
    if (this.evidenceViews.has(key)) return this.evidenceViews.get(key);
    const url = `/api/evidence/${sha}?incident=${encodeURIComponent(this.id)}`;
    const type = String(evidence.content_type || "");
    const size = Number(evidence.size);
    const what = payload && payload.camera ? `Snapshot from camera ${payload.camera}` : "Evidence";
    const view = h("figure", { class: "evidence", dataset: { sha256: sha } },
      /^image\/(jpeg|png)$/.test(type)
        ? h("img", { src: url, alt: `${what}${payload && payload.name ? ` (${payload.name})` : ""}`, loading: "lazy", decoding: "async" })
        : h("a", { href: url, download: `${sha}` }, `Download ${what.toLowerCase()} (${type || "file"})`),
      h("figcaption", {},
        "SHA-256 ", h("code", { class: "sha256" }, sha),
        Number.isFinite(size) && size > 0 ? h("span", { class: "muted" }, ` · ${size < 1024 ? `${size} bytes` : `${Math.round(size / 1024)} KB`} ${type}`) : null));
    this.evidenceViews.set(key, view);
    return view;
  }

  renderNotes() {
    const notes = this.data.notes || [];
    replace(this.notes, notes.length
      ? notes.map((note) => h("li", { class: "note" },
        h("div", { class: "event-head" }, h("time", { title: fullTime(note.at) }, clockTime(note.at)), " ", h("b", {}, note.author || "?")),
        h("p", { class: "note-body" }, note.text || "")))
      : h("li", { class: "muted" }, "No notes."));
  }

  renderHistory() {
    const history = this.data.history || [];
    replace(this.history, history.length
      ? history.map((entry) => h("li", {},
        h("time", { title: fullTime(entry.at) }, clockTime(entry.at)), " ",
        h("b", {}, entry.actor || "hub"), " ", entry.action || "",
        entry.detail && Object.keys(entry.detail).length ? h("span", { class: "muted" }, ` ${describe(entry.detail)}`) : null))
      : h("li", { class: "muted" }, "No history."));
  }

  renderCameras() {
    const cameras = this.data.cameras || [];
    replace(this.cameraList, cameras.length
      ? cameras.map((camera) => h("li", { class: ["camera", camera.state && `asset-${camera.state}`] },
        h("b", {}, `Camera ${camera.id}`), camera.name ? ` ${camera.name}` : "",
        camera.state ? h("span", { class: "asset-state" }, ` ${camera.state}`) : null))
      : h("li", { class: "muted" }, "No cameras linked."));
  }
}

// How the console names the kinds of subject a root cause covers; others are named by their kind.
const KIND_NAMES = { camera: ["Camera", "cameras"], fibre_node: ["Node", "nodes"] };

function splitKey(key) {
  const text = String(key);
  const at = text.indexOf(":");
  return at < 0 ? { kind: text, id: "" } : { kind: text.slice(0, at), id: text.slice(at + 1) };
}

function kindName(kind, count) {
  const [one, many] = KIND_NAMES[kind] || [kind.replace(/_/g, " "), `${kind.replace(/_/g, " ")}s`];
  return count === 1 ? one : many;
}

/** "12 cameras, 2 nodes": how many of each kind an incident covers, cameras first, then nodes, then the rest. */
export function coverCounts(covers) {
  const counts = new Map(Object.keys(KIND_NAMES).map((kind) => [kind, 0]));
  for (const key of covers) {
    const { kind } = splitKey(key);
    counts.set(kind, (counts.get(kind) || 0) + 1);
  }
  return Array.from(counts)
    .filter(([kind, count]) => count || kind === "camera" || kind === "fibre_node")
    .map(([kind, count]) => `${count} ${count === 1 ? kindName(kind, 1).toLowerCase() : kindName(kind, count)}`)
    .join(", ");
}

/** A payload value as plain text. */
export function describe(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(describe).join(", ");
  return Object.entries(value).map(([key, inner]) => `${key}: ${describe(inner)}`).join("; ");
}
