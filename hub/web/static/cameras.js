// The cameras view: every camera the adapters know (GET /api/cameras), with its state and how long it has
// been in it, and the commands of the camera's own adapter as actions on it, the camera already filled in.
//
// The list is read again shortly after a camera event arrives on the stream (online, offline, identified:
// new presets), at most once per DEBOUNCE_MS however many cameras change together: a switch reboot takes
// a hundred cameras offline in one second, and the console must not ask the hub a hundred times.

import { get, post } from "./api.js";
import { commandForm, PendingCommands } from "./commands.js";
import { h, replace } from "./dom.js";
import { ago, fullTime, toSeconds } from "./format.js";

const ACTING_ROLES = ["operator", "supervisor", "admin"];
const DEBOUNCE_MS = 500;
const TICK_MS = 5000;

/** Whether a stream event says something about a camera's state or what it offers. */
export function isCameraEvent(event) {
  const parts = String((event && event.topic) || "").split(".");
  return parts.length >= 3 && parts[1] === "camera";
}

/** A camera state's colour class, the same words the status view uses. */
export function cameraStateClass(state) {
  if (state === "online") return "good";
  if (["offline", "auth_failed", "failed"].includes(state)) return "bad";
  if (["degraded", "unknown", "starting"].includes(state)) return "warn";
  return "idle";
}

function stateText(state) {
  return state ? String(state).replace(/_/g, " ") : "unknown";
}

/** The commands of `camera`'s adapter that take a camera, in the order the adapter lists them. */
function commandsFor(camera, commands) {
  return commands.filter((spec) => spec.adapter === camera.source
    && (spec.arguments || []).some((argument) => argument.kind === "camera"));
}

/** A copy of `spec` whose camera argument starts with `cameraId`. */
function forCamera(spec, cameraId) {
  return {
    ...spec,
    arguments: (spec.arguments || []).map((argument) => (argument.kind === "camera" ? { ...argument, value: cameraId } : argument)),
  };
}

export class CamerasView {
  constructor({ container, toast, session = () => null, onCamerasChanged = () => {} }) {
    this.container = container;
    this.toast = toast;
    this.session = session;
    this.onCamerasChanged = onCamerasChanged; // the console's own camera cache is stale
    this.cameras = []; // as GET /api/cameras answers
    this.commands = []; // as GET /api/commands answers
    this.pending = new PendingCommands();
    this.forms = new Map(); // "camera adapter verb" -> form, so a half-filled form survives a refresh
    this.chosen = null; // the camera id whose actions are open
    this.filter = "";
    this.visible = false;
    this.stale = true;
    this.loaded = false;
    this.error = null;
    this.debounce = null;
    this.ticker = null;
    this.parts = null;
  }

  get canAct() {
    const session = this.session();
    return !!(session && session.user && ACTING_ROLES.includes(session.user.role));
  }

  /** The cameras as last read, for command forms drawn here (their presets are as fresh as the list). */
  list() {
    return Promise.resolve(this.cameras);
  }

  async load() {
    this.stale = false;
    try {
      const [data, offered] = await Promise.all([
        get("/api/cameras"),
        this.canAct ? get("/api/commands") : Promise.resolve({ commands: [] }),
      ]);
      this.cameras = data.cameras || [];
      this.commands = offered.commands || [];
      this.loaded = true;
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    this.render();
    // A camera that has just told the hub its presets offers them in a form already open.
    for (const form of this.forms.values()) if (form.refreshOptions) form.refreshOptions();
  }

  show() {
    this.visible = true;
    if (this.stale || !this.loaded) this.load();
    else this.render();
    clearInterval(this.ticker);
    // "since" keeps counting between refreshes.
    this.ticker = setInterval(() => this.renderTable(), TICK_MS);
  }

  hide() {
    this.visible = false;
    clearInterval(this.ticker);
  }

  reset() {
    this.hide();
    clearTimeout(this.debounce);
    this.cameras = [];
    this.commands = [];
    this.forms = new Map();
    this.pending.clear();
    this.chosen = null;
    this.loaded = false;
    this.stale = true;
    this.parts = null;
    replace(this.container);
  }

  /** Stream events: outcomes for forms sent from here, and camera changes (read again, debounced). */
  addEvents(events) {
    let cameraChanged = false;
    for (const event of events) {
      this.pending.note(event);
      if (isCameraEvent(event)) cameraChanged = true;
    }
    if (!cameraChanged) return;
    this.onCamerasChanged();
    this.stale = true;
    if (!this.visible || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      if (this.visible) this.load();
    }, DEBOUNCE_MS);
  }

  render() {
    if (!this.visible) return;
    if (!this.parts || !this.parts.table.isConnected) {
      // The table is redrawn on every refresh; the filter box and the open actions are kept, so typing
      // and a form being filled in survive a camera going offline elsewhere.
      const filter = h("input", { type: "search", placeholder: "Filter cameras", "aria-label": "Filter cameras", spellcheck: "false" });
      filter.value = this.filter;
      filter.addEventListener("input", () => {
        this.filter = filter.value.trim().toLowerCase();
        this.renderTable();
      });
      this.parts = {
        head: h("div", { class: "status-head" },
          h("h2", {}, "Cameras"), filter,
          h("button", { type: "button", class: "ghost", on: { click: () => this.load() } }, "Refresh")),
        message: h("p", { class: "muted", role: "status" }),
        table: h("table", { class: "status-table cameras-table", "aria-label": "Cameras" }),
        actions: h("section", { class: "camera-actions", "aria-label": "Camera actions" }),
      };
      replace(this.container, this.parts.head, this.parts.message, this.parts.table, this.parts.actions);
    }
    this.renderTable();
    this.renderActions();
  }

  shown() {
    const filter = this.filter;
    if (!filter) return this.cameras;
    return this.cameras.filter((camera) => [camera.id, camera.name, camera.state, camera.source,
      camera.attributes && camera.attributes.fibre_node].some((value) => value && String(value).toLowerCase().includes(filter)));
  }

  renderTable() {
    if (!this.parts) return;
    const now = Date.now() / 1000;
    const cameras = this.shown();
    const counts = {};
    for (const camera of this.cameras) counts[stateText(camera.state)] = (counts[stateText(camera.state)] || 0) + 1;
    replace(this.parts.message,
      this.error ? h("span", { class: "error" }, `Could not read the cameras: ${this.error}`) : null,
      this.loaded ? Object.entries(counts).sort().map(([state, count]) => `${count} ${state}`).join(", ") : "Loading…");
    const headings = ["No.", "Name", "State", "Since", "Source", "Fibre node"];
    if (this.canAct) headings.push("Actions");
    replace(this.parts.table,
      h("thead", {}, h("tr", {}, headings.map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, cameras.length
        ? cameras.map((camera) => this.row(camera, now))
        : h("tr", {}, h("td", { colspan: headings.length, class: "muted" },
          !this.loaded ? "Loading…" : this.cameras.length ? "No camera matches." : "No adapter has made a camera known."))));
  }

  row(camera, now) {
    const attributes = camera.attributes || {};
    const since = toSeconds(camera.state_since);
    const actions = this.canAct ? commandsFor(camera, this.commands) : [];
    return h("tr", { dataset: { camera: camera.id, state: camera.state || "unknown" }, class: camera.id === this.chosen ? "chosen" : null },
      h("th", { scope: "row", class: "num" }, camera.id),
      h("td", {}, camera.name || ""),
      h("td", {}, h("span", { class: ["health", cameraStateClass(camera.state)] }, stateText(camera.state))),
      h("td", {}, Number.isNaN(since) ? "–" : h("span", { title: fullTime(since) }, ago(since, now))),
      h("td", {}, camera.source || ""),
      h("td", {}, attributes.fibre_node ? String(attributes.fibre_node) : ""),
      this.canAct
        ? h("td", { class: "camera-buttons" }, actions.length
          ? actions.map((spec) => h("button", { type: "button", class: "ghost", dataset: { verb: spec.verb },
            on: { click: () => this.choose(camera.id, spec.verb) } }, spec.title || spec.verb))
          : h("span", { class: "muted" }, "–"))
        : null);
  }

  /** Open the actions of one camera, with `verb`'s form unfolded and its first empty field focused. */
  choose(cameraId, verb) {
    this.chosen = cameraId;
    this.renderTable();
    this.renderActions();
    for (const form of this.parts.actions.querySelectorAll("details.command")) {
      form.open = form.dataset.verb === verb;
    }
    const open = this.parts.actions.querySelector(`details.command[data-verb="${CSS.escape(verb)}"]`);
    if (open) {
      open.scrollIntoView({ block: "nearest" });
      const field = Array.from(open.querySelectorAll("select, input, textarea")).find((node) => !node.hidden && !node.value);
      (field || open.querySelector("button[type=submit]")).focus();
    }
  }

  renderActions() {
    if (!this.parts) return;
    const camera = this.cameras.find((item) => item.id === this.chosen);
    if (!camera || !this.canAct) {
      replace(this.parts.actions);
      this.parts.actions.hidden = true;
      return;
    }
    this.parts.actions.hidden = false;
    const forms = commandsFor(camera, this.commands).map((spec) => {
      const key = `${camera.id} ${spec.adapter} ${spec.verb}`;
      if (!this.forms.has(key)) {
        this.forms.set(key, commandForm(forCamera(spec, camera.id), {
          send: (values) => post("/api/commands", { adapter: spec.adapter, verb: spec.verb, arguments: values }),
          pending: this.pending,
          toast: this.toast,
          cameraIds: [camera.id],
          cameras: () => this.list(),
          idPrefix: "camera-cmd",
        }));
      }
      return this.forms.get(key);
    });
    const current = this.parts.actions.querySelector("h3");
    if (current && current.dataset.camera === camera.id && forms.every((form) => form.isConnected)) return;
    replace(this.parts.actions,
      h("h3", { dataset: { camera: camera.id } }, `Camera ${camera.id}`, camera.name ? ` ${camera.name}` : ""),
      h("p", { class: "muted" }, "Sent without an incident; the outcome shows under the button when the camera answers."),
      forms,
      h("button", { type: "button", class: "ghost", on: { click: () => { this.chosen = null; this.render(); } } }, "Close"));
  }
}
