// The operator console: sign-in, then the live incident queue with its detail, the map, the status panel
// and (for auditors) the audit log, all fed by the JSON API and the live event stream.
//
// Security rules this file and its modules keep: every text from the hub is put on the page as text
// (dom.js), never as markup; no inline script or style, no eval (the page runs under a strict CSP); the
// CSRF token from the session goes on every state-changing request (api.js).

import { ApiError, del, get, onSessionEnded, post, setCsrfToken } from "./api.js";
import { byId, h, isTyping, replace } from "./dom.js";
import { AuditView } from "./audit.js";
import { CamerasView } from "./cameras.js";
import { forgetOffers, OFFERS, offerButton, offerCommands } from "./commands.js";
import { act, canAct, DetailView, sendOffer } from "./detail.js";
import { stateLabel } from "./format.js";
import { IncidentStore, isAlarming, isOpen } from "./incidents.js";
import { MapView } from "./map.js";
import { PanelHost } from "./panels.js";
import { QueueView } from "./queue.js";
import { RulesView } from "./rules.js";
import { Alarm } from "./sound.js";
import { StatusView } from "./status.js";
import { EventStream } from "./stream.js";

const LOADED_STATES = ["new", "acknowledged", "in_progress", "resolved"];
const ALARM_REPEAT_MS = 5000;
const WALL_KEY = "hub.console.wall";
// The views in tab order; the number keys 1 to 6 switch to them.
const VIEWS = ["queue", "map", "status", "cameras", "audit", "rules"];

let session = null; // {user: {name, role}, csrf_token, idle_timeout_s}
let store = new IncidentStore();
let stream = null;
let view = "queue";
let lastActivity = Date.now();
let timers = [];
let camerasCache = { at: 0, list: null };
let loadedStates = new Set(LOADED_STATES);
// The commands this user may send (GET /api/commands): the queue's one-click offers are drawn from them.
let offeredCommands = [];

const alarm = new Alarm(() => renderSoundButton());

const queue = new QueueView({
  store: { // the queue always reads the current store, which is replaced at sign-out
    sources: () => store.sources(),
    locations: () => store.locations(),
    filtered: (filters) => store.filtered(filters),
    countsByState: () => store.countsByState(),
  },
  onOpen: (id) => openIncident(id),
  onNeedState: (state) => loadState(state),
  offers: (incident) => queueOffers(incident),
});

/** The one-click offers of an open incident (its rules' `offers`) that an adapter here carries out. */
function queueOffers(incident) {
  if (!session || !canAct(session.user.role) || !isOpen(incident)) return [];
  const buttons = [];
  for (const offer of incident.offers || []) {
    if (!OFFERS[offer]) continue;
    const specs = offerCommands(offer, offeredCommands);
    for (const spec of specs) {
      buttons.push(offerButton(offer, spec, incident, { send: sendOffer, toast, named: specs.length > 1 }));
    }
  }
  return buttons;
}

async function loadCommands() {
  if (!session || !canAct(session.user.role)) return;
  try {
    const data = await get("/api/commands");
    offeredCommands = (data && data.commands) || [];
    queue.update();
  } catch (error) {
    offeredCommands = [];
  }
}

const detail = new DetailView({
  container: byId("detail"),
  session: () => session,
  onIncident: (incident) => {
    if (store.upsert(incident)) incidentsChanged();
  },
  onClose: () => closeIncident(),
  toast,
  cameras: () => cameras(),
});

const statusView = new StatusView({
  container: byId("status-main"),
  toast,
  session: () => session,
  cameras: () => cameras(),
});
const camerasView = new CamerasView({
  container: byId("cameras-view"),
  toast,
  session: () => session,
  onCamerasChanged: () => { camerasCache = { at: 0, list: null }; },
});
const panels = new PanelHost({ container: byId("plugin-panels"), session: () => session });
const auditView = new AuditView({ container: byId("audit-view") });
const rulesView = new RulesView({ container: byId("rules-view") });
const mapView = new MapView({
  container: byId("map-view"),
  store: { all: () => store.all(), get: (id) => store.get(id) },
  onOpenIncident: (id) => openIncident(id),
});

// --- signing in and out -------------------------------------------------------------------------------

function showLogin(message) {
  byId("boot").hidden = true;
  byId("app-view").hidden = true;
  byId("login-view").hidden = false;
  const note = byId("login-message");
  note.hidden = !message;
  replace(note, message || "");
  byId("login-error").hidden = true;
  byId("login-password").value = "";
  const username = byId("login-username");
  (username.value ? byId("login-password") : username).focus();
}

function loginError(text) {
  const error = byId("login-error");
  error.hidden = false;
  replace(error, text);
}

let throttleTimer = null;

function throttled(seconds) {
  const button = byId("login-submit");
  let left = Math.ceil(seconds);
  clearInterval(throttleTimer);
  button.disabled = true;
  const tick = () => {
    if (left <= 0) {
      clearInterval(throttleTimer);
      button.disabled = false;
      loginError("You can try again now.");
      return;
    }
    loginError(`Too many failed sign-ins. Try again in ${left} s.`);
    left -= 1;
  };
  tick();
  throttleTimer = setInterval(tick, 1000);
}

byId("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = byId("login-username").value.trim();
  const password = byId("login-password").value;
  if (!username || !password) {
    loginError("Enter your username and password.");
    return;
  }
  const button = byId("login-submit");
  button.disabled = true;
  byId("login-error").hidden = true;
  try {
    const answer = await post("/api/session", { username, password }, { quietUnauthenticated: true });
    byId("login-password").value = "";
    setCsrfToken(answer.csrf_token);
    let full = answer;
    try {
      full = { ...answer, ...(await get("/api/session", undefined, { quietUnauthenticated: true })) };
    } catch (error) {
      // The sign-in answer is enough to start; only the idle time-out is missing.
    }
    button.disabled = false;
    await startApp(full);
  } catch (error) {
    button.disabled = false;
    if (error instanceof ApiError && error.status === 429) {
      throttled(error.retryAfter || 60);
    } else if (error instanceof ApiError && error.status === 401) {
      loginError("Wrong username or password.");
      byId("login-password").focus();
    } else {
      loginError(error.message || "Signing in failed.");
    }
  }
});

async function startApp(answer) {
  session = answer;
  setCsrfToken(answer.csrf_token);
  store = new IncidentStore();
  loadedStates = new Set(LOADED_STATES);
  byId("boot").hidden = true;
  byId("login-view").hidden = true;
  byId("app-view").hidden = false;
  const user = answer.user || {};
  replace(byId("whoami"), h("b", {}, user.name || "?"), ` (${user.role || "?"})`);
  byId("audit-tab").hidden = user.role !== "auditor";
  document.body.classList.toggle("role-read-only", !canAct(user.role));
  lastActivity = Date.now();
  timers.push(setInterval(checkIdle, 5000));
  timers.push(setInterval(() => queue.update(), 10000));
  timers.push(setInterval(soundAlarm, ALARM_REPEAT_MS));
  route();
  queue.render();
  loadCommands();
  try {
    const head = await loadIncidents();
    incidentsChanged();
    stream = new EventStream({
      onEvents: handleEvents,
      onStatus: renderLinkState,
      onHello: () => statusView.visible && statusView.load(),
      onSessionEnded: () => endSession("Your session has ended. Please sign in again."),
    });
    stream.start(head);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) toast(`Could not load incidents: ${error.message}`, "error");
  }
  const open = currentIncidentFromHash();
  if (open) detail.open(open);
}

/** The incidents to start from, and the journal position they reflect (the stream resumes after it). */
async function loadIncidents() {
  // The head is read before the incidents, so nothing published in between is missed; whatever the
  // stream then replays is applied idempotently (older snapshots never replace newer ones).
  let head = 0;
  try {
    const events = await get("/api/events", { limit: 1 });
    head = Number(events && events.head) || 0;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
  }
  const data = await get("/api/incidents", { state: LOADED_STATES.join(","), limit: 1000 });
  if (Number.isFinite(Number(data.head)) && data.head !== null && data.head !== undefined) head = Number(data.head);
  for (const incident of data.incidents || []) store.upsert(incident);
  return head;
}

async function loadState(state) {
  if (loadedStates.has(state) || !session) return;
  loadedStates.add(state);
  try {
    const data = await get("/api/incidents", { state, limit: 500 });
    for (const incident of data.incidents || []) store.upsert(incident);
    incidentsChanged();
  } catch (error) {
    loadedStates.delete(state);
    if (!(error instanceof ApiError && error.status === 401)) toast(`Could not load ${stateLabel(state)} incidents: ${error.message}`, "error");
  }
}

function endSession(message) {
  if (!session) return;
  session = null;
  setCsrfToken(null);
  if (stream) stream.stop();
  stream = null;
  for (const timer of timers) clearInterval(timer);
  timers = [];
  store = new IncidentStore();
  offeredCommands = [];
  forgetOffers();
  detail.close();
  statusView.hide();
  statusView.reset();
  camerasView.reset();
  panels.reset();
  mapView.hide();
  auditView.hide();
  rulesView.reset();
  queue.render();
  updateAlarm();
  showLogin(message);
}

onSessionEnded(() => endSession("Your session has ended. Please sign in again."));

byId("logout").addEventListener("click", async () => {
  // The hub closes the stream (4401) as it ends the session; stop it first so that close is not taken
  // for a session lost by surprise.
  if (stream) stream.stop();
  try {
    await del("/api/session", { quietUnauthenticated: true });
  } catch (error) {
    // Signed out either way: the hub forgets sessions it cannot find.
  }
  endSession("You have signed out.");
});

// Idle expiry, as the hub has it: a console nobody has touched for the session's idle time signs itself
// out (the hub ends the session too; this only makes it visible at once, not at the next request).
for (const type of ["keydown", "pointerdown", "wheel", "touchstart"]) {
  window.addEventListener(type, () => { lastActivity = Date.now(); }, { passive: true, capture: true });
}

async function checkIdle() {
  const limit = session && Number(session.idle_timeout_s);
  if (!limit || Date.now() - lastActivity < limit * 1000) return;
  const minutes = Math.round(limit / 60);
  if (stream) stream.stop();
  try {
    await del("/api/session", { quietUnauthenticated: true });
  } catch (error) {
    // Already gone on the hub's side.
  }
  endSession(`Signed out after ${minutes} minute${minutes === 1 ? "" : "s"} without activity.`);
}

// --- live events ----------------------------------------------------------------------------------------

function handleEvents(events) {
  if (!session) return;
  let changed = false;
  let newCritical = false;
  for (const event of events) {
    const topic = String(event.topic || "");
    const incident = event.payload && event.payload.incident;
    if (topic.startsWith("incident.") && incident && typeof incident === "object") {
      const result = store.upsert(incident);
      if (result) changed = true;
      if (result === "added" && isAlarming(incident)) newCritical = true;
      if (topic === "incident.escalated" && incident.state === "new") {
        toast(`Not acknowledged yet: #${incident.number} ${incident.title || ""}`, "warn");
      }
      detail.updateIncident(store.get(incident.id));
    }
    // A demo's script narrates each scene (hub/scenario.py): shown as it happens, long enough to read.
    if (topic === "hub.scenario.step") toast(String(event.summary || ""), "info", 15000);
    detail.addEvent(event);
  }
  statusView.addEvents(events);
  camerasView.addEvents(events);
  mapView.addEvents(events);
  panels.dispatch(events);
  if (changed) incidentsChanged();
  if (newCritical) alarm.alarm();
}

function incidentsChanged() {
  queue.update();
  mapView.update();
  updateAlarm();
}

function updateAlarm() {
  const alarming = session ? store.alarming() : [];
  const banner = byId("alert-banner");
  banner.hidden = alarming.length === 0;
  document.body.classList.toggle("alarming", alarming.length > 0);
  if (alarming.length) {
    const first = alarming[0];
    replace(byId("alert-text"), h("b", {}, "CRITICAL"),
      ` ${alarming.length} not acknowledged: #${first.number} ${first.title || ""}`,
      alarming.length > 1 ? ` and ${alarming.length - 1} more` : "");
    banner.dataset.id = first.id;
    document.title = `(${alarming.length}) CRITICAL – Partner hub`;
  } else {
    const counts = store.countsByState();
    document.title = counts.new ? `(${counts.new} new) Partner hub` : "Partner hub";
  }
}

function soundAlarm() {
  if (session && store.alarming().length) alarm.alarm();
}

byId("alert-show").addEventListener("click", () => {
  const id = byId("alert-banner").dataset.id;
  if (id) openIncident(id, { focusQueue: true });
});

function renderLinkState(state) {
  const label = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" }[state] || state;
  const node = byId("link-state");
  node.className = `link-state link-${state}`;
  replace(node, label);
}

function renderSoundButton() {
  const button = byId("sound-toggle");
  const state = alarm.state;
  button.setAttribute("aria-pressed", state === "off" ? "false" : "true");
  button.className = `ghost sound-${state}`;
  replace(button, { off: "Enable sound", on: "Sound on", blocked: "Sound: click to resume" }[state]);
}

byId("sound-toggle").addEventListener("click", async () => {
  if (alarm.state === "blocked") await alarm.resumeOnGesture();
  else await alarm.toggle();
  renderSoundButton();
});

// --- views and routing ----------------------------------------------------------------------------------

function currentIncidentFromHash() {
  const match = /^#queue\/(.+)$/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function route() {
  const hash = window.location.hash.replace(/^#/, "");
  const name = hash.split("/")[0] || "queue";
  showView(VIEWS.includes(name) ? name : "queue");
  const id = currentIncidentFromHash();
  if (!session) return;
  if (id && detail.id !== id) detail.open(id);
  if (!id && name === "queue" && detail.id) detail.close();
  queue.setOpen(id);
  if (id) queue.select(id, { focus: false });
  byId("queue-view").classList.toggle("no-detail", !id);
}

function showView(name) {
  view = name;
  for (const section of document.querySelectorAll("section.view")) section.hidden = section.dataset.view !== name;
  for (const tab of document.querySelectorAll("a.tab")) {
    if (tab.dataset.view === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (!session) return;
  if (name === "status") {
    statusView.show();
    panels.load();
  } else {
    statusView.hide();
  }
  if (name === "map") mapView.show(); else mapView.hide();
  if (name === "cameras") camerasView.show(); else camerasView.hide();
  if (name === "rules") rulesView.show();
  if (name === "audit") {
    if (session.user && session.user.role === "auditor") {
      auditView.show();
    } else {
      replace(byId("audit-view"), h("p", { class: "refused" }, "The audit log is for auditors only."));
      auditView.built = false;
    }
  }
}

window.addEventListener("hashchange", route);

function openIncident(id, { focusQueue = false } = {}) {
  const hash = `#queue/${encodeURIComponent(id)}`;
  if (window.location.hash !== hash) window.location.hash = hash;
  else route();
  if (detail.id !== id) detail.open(id);
  queue.setOpen(id);
  queue.select(id, { focus: focusQueue });
  byId("queue-view").classList.toggle("no-detail", false);
}

function closeIncident() {
  if (window.location.hash !== "#queue") window.location.hash = "#queue";
  detail.close();
  queue.setOpen(null);
  byId("queue-view").classList.toggle("no-detail", true);
}

async function cameras() {
  if (camerasCache.list && Date.now() - camerasCache.at < 60000) return camerasCache.list;
  const data = await get("/api/cameras");
  camerasCache = { at: Date.now(), list: data.cameras || [] };
  return camerasCache.list;
}

// --- keyboard ---------------------------------------------------------------------------------------------

function targetId() {
  return queue.selected() || detail.id;
}

async function acknowledgeSelected() {
  const id = targetId();
  if (!id) {
    toast("Select an incident first (j/k).", "warn");
    return;
  }
  if (!canAct(session.user.role)) {
    toast("Your role cannot acknowledge incidents.", "warn");
    return;
  }
  const incident = store.get(id);
  if (incident && incident.state !== "new") {
    toast(`#${incident.number} is already ${stateLabel(incident.state)}.`);
    return;
  }
  try {
    const updated = await act(id, "acknowledge");
    if (updated && store.upsert(updated)) incidentsChanged();
    detail.updateIncident(updated);
    toast(`Acknowledged #${updated ? updated.number : ""}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) toast(`Not acknowledged: ${error.message}`, "error");
  }
}

async function noteSelected() {
  const id = targetId();
  if (!id) {
    toast("Select an incident first (j/k).", "warn");
    return;
  }
  if (detail.id !== id || !detail.data) {
    openIncident(id);
    await detail.open(id);
  } else if (view !== "queue") {
    openIncident(id);
  }
  if (!detail.focusNote()) toast("Notes cannot be added to this incident.", "warn");
}

function toggleWall(on) {
  const wall = on === undefined ? !document.body.classList.contains("wall") : on;
  document.body.classList.toggle("wall", wall);
  byId("wall-toggle").setAttribute("aria-pressed", wall ? "true" : "false");
  try {
    window.localStorage.setItem(WALL_KEY, wall ? "on" : "off");
  } catch (error) {
    // Not remembered; still switched.
  }
  if (view === "map") mapView.render();
}

byId("wall-toggle").addEventListener("click", () => toggleWall());

const help = byId("help-dialog");
byId("help-button").addEventListener("click", () => help.showModal());

document.addEventListener("keydown", (event) => {
  if (!session || event.defaultPrevented || help.open) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target)) {
    if (event.key === "Escape") {
      event.target.blur();
      queue.select(targetId() || queue.selected(), { focus: view === "queue" });
    }
    return;
  }
  const onControl = event.target instanceof Element && event.target.closest("button, a, summary, .pt");
  const key = event.key;
  if (key === "?") {
    event.preventDefault();
    help.showModal();
  } else if (key === "/") {
    event.preventDefault();
    if (view !== "queue") window.location.hash = "#queue";
    queue.focusFilter();
  } else if ((key === "j" || key === "ArrowDown") && view === "queue") {
    event.preventDefault();
    queue.move(1);
  } else if ((key === "k" || key === "ArrowUp") && view === "queue") {
    event.preventDefault();
    queue.move(-1);
  } else if (key === "Enter" && view === "queue" && !onControl) {
    const id = queue.selected();
    if (id) {
      event.preventDefault();
      openIncident(id, { focusQueue: true });
    }
  } else if (key === "a") {
    event.preventDefault();
    acknowledgeSelected();
  } else if (key === "n") {
    event.preventDefault();
    noteSelected();
  } else if (key === "Escape") {
    if (detail.id) {
      closeIncident();
      queue.select(queue.selected(), { focus: true });
    }
  } else if (/^[1-9]$/.test(key) && Number(key) <= VIEWS.length) {
    const name = VIEWS[Number(key) - 1];
    if (name !== "audit" || session.user.role === "auditor") {
      event.preventDefault();
      window.location.hash = `#${name}`;
    }
  } else if (key === "w") {
    toggleWall();
  }
});

// --- toasts -------------------------------------------------------------------------------------------------

function toast(text, kind = "info", ms = kind === "error" ? 9000 : 5000) {
  const item = h("div", { class: ["toast", `toast-${kind}`], role: kind === "error" ? "alert" : "status" }, text);
  byId("toasts").appendChild(item);
  setTimeout(() => item.remove(), ms);
}

// --- start ----------------------------------------------------------------------------------------------------

async function boot() {
  const params = new URLSearchParams(window.location.search);
  let wall = false;
  try {
    wall = window.localStorage.getItem(WALL_KEY) === "on";
  } catch (error) {
    wall = false;
  }
  if (params.has("wall")) wall = params.get("wall") !== "0";
  toggleWall(wall);
  renderSoundButton();
  renderLinkState("offline");
  try {
    const current = await get("/api/session", undefined, { quietUnauthenticated: true });
    await startApp(current);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showLogin("");
    else showLogin(`The hub cannot be reached (${error.message}). Reload to try again.`);
  }
}

boot();
