// The map: cameras, fibre nodes, sites and open incidents drawn from their coordinates in SVG, on a plain
// background with a graticule and a scale bar, so it works with no internet at all. A council map image
// (map.image_url, stretched over map.bounds) or a tile server on the room's own network (map.tile_url)
// is drawn underneath when configured. Web Mercator throughout, so tiles and points agree.
//
// Fibre nodes and the spans between them are coloured by their state (up, degraded, down, unreachable,
// flapping), each state also told apart without colour: a down node is crossed and its span thick, an
// unreachable one hollow and its span dashed, a flapping one zigzagged and its span marked "~". The states
// follow the fibre.node.* events on the live stream at once, not only at the next refresh.

import { get } from "./api.js";
import { h, replace, s } from "./dom.js";
import { ago, clockTime, locationName, metres, stateLabel, toSeconds } from "./format.js";
import { describe } from "./detail.js";
import { isAlarming, isOpen } from "./incidents.js";

const EARTH_M = 40075016.686;
const MIN_SCALE = 256;
const MAX_SCALE = 256 * 2 ** 22;
const REFRESH_MS = 30000;
const NICE = [1, 2, 5];
const FIBRE_STATES = ["up", "degraded", "down", "unreachable", "flapping"];
// What a fibre state's mark says, for a reader who cannot tell the colours apart.
const FIBRE_MARKS = { down: "×", flapping: "~" };
// The node attributes nodeFacts() names; the detail lists the others as they are.
const NODE_FACTS = ["reason", "loss_pct", "rtt_ms", "rx_dbm_worst", "cameras"];

function project(lat, lon) {
  const sin = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)];
}

function unproject(x, y) {
  const n = Math.PI - 2 * Math.PI * y;
  return [(180 / Math.PI) * Math.atan(Math.sinh(n)), x * 360 - 180];
}

function hasPoint(item) {
  return item && Number.isFinite(item.latitude) && Number.isFinite(item.longitude);
}

/** The smallest 1-2-5 step not below value. */
function niceStep(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of NICE) if (factor * power >= value) return factor * power;
  return 10 * power;
}

function assetClass(state) {
  if (["online", "up", "ok", "running"].includes(state)) return "good";
  if (["offline", "down", "failed", "lost"].includes(state)) return "bad";
  if (["degraded", "warning", "tampered"].includes(state)) return "warn";
  return "idle";
}

/** A fibre node's or span's state as its class: the colour, and the marks that do not rely on colour. */
export function fibreClass(state) {
  if (state === "up") return "good";
  if (state === "degraded") return "warn";
  if (state === "down") return "bad";
  if (state === "unreachable" || state === "flapping") return state;
  return "idle"; // unknown, disabled, not yet judged
}

function number(value, digits, unit) {
  return Number.isFinite(value) ? `${value.toFixed(digits)} ${unit}` : null;
}

function length(value) {
  if (!Number.isFinite(value)) return null;
  return value >= 1000 ? `${(value / 1000).toFixed(1)} km` : `${Math.round(value)} m`;
}

/** A fibre node's health as label/value pairs, the figures it has (for its tooltip and its details). */
function nodeFacts(item) {
  const a = item.attributes || {};
  const cameras = Array.isArray(a.cameras) ? a.cameras : [];
  return [
    ["Reason", a.reason || null],
    ["Loss", number(a.loss_pct, 0, "%")],
    ["RTT", number(a.rtt_ms, 1, "ms")],
    ["Worst Rx", number(a.rx_dbm_worst, 1, "dBm")],
    ["Cameras behind", cameras.length ? `${cameras.length}: ${cameras.join(", ")}` : null],
  ].filter(([, value]) => value !== null);
}

function sinceText(item) {
  return Number.isFinite(toSeconds(item.state_since)) ? ` since ${clockTime(item.state_since)}` : "";
}

function tileHref(template, z, x, y) {
  const url = template.replace("{z}", z).replace("{x}", x).replace("{y}", y);
  return /^(https?:\/\/|\/(?!\/))/.test(url) ? url : null;
}

export class MapView {
  constructor({ container, store, onOpenIncident }) {
    this.container = container;
    this.store = store;
    this.onOpenIncident = onOpenIncident;
    this.data = null;
    this.view = null; // {cx, cy, scale}
    this.selected = null; // {kind, id}
    this.visible = false;
    this.built = false;
    this.pending = false;
    this.live = new Map(); // node -> its newest fibre.node.* event, kept over a refresh that is older
  }

  build() {
    this.svg = s("svg", { class: "map-svg", role: "img", "aria-label": "Map of cameras, fibre nodes and incidents", tabindex: 0 });
    this.info = h("aside", { class: "map-info", "aria-live": "polite" });
    this.message = h("p", { class: "map-message", role: "status", hidden: true });
    const zoom = (factor) => () => this.zoomAt(factor);
    this.controls = h("div", { class: "map-controls" },
      h("button", { type: "button", title: "Zoom in (+)", "aria-label": "Zoom in", on: { click: zoom(2) } }, "+"),
      h("button", { type: "button", title: "Zoom out (-)", "aria-label": "Zoom out", on: { click: zoom(0.5) } }, "−"),
      h("button", { type: "button", title: "Show everything (0)", on: { click: () => { this.fit(); this.render(); } } }, "Fit"));
    this.legend = h("div", { class: "map-legend", role: "group", "aria-label": "Legend" },
      h("span", {}, h("i", { class: "key cam good" }), "camera"),
      h("span", {}, h("i", { class: "key cam bad" }), "camera offline"),
      h("span", {}, h("i", { class: "key site" }), "site"),
      h("span", {}, h("i", { class: "key inc" }), "incident"),
      h("span", { class: "legend-fibre" }, "fibre node and span:",
        FIBRE_STATES.map((state) => h("span", { class: "legend-state", dataset: { state } },
          h("i", { class: ["key", "node", fibreClass(state)], "aria-hidden": "true" }, FIBRE_MARKS[state] || ""),
          h("i", { class: ["key", "line", fibreClass(state)], "aria-hidden": "true" }),
          state))));
    const stage = h("div", { class: "map-stage" }, this.svg, this.controls, this.legend, this.message);
    replace(this.container, stage, this.info);
    this.stage = stage;
    this.bindInteraction();
    new ResizeObserver(() => this.visible && this.render()).observe(stage);
    this.built = true;
    this.renderInfo();
  }

  bindInteraction() {
    let drag = null;
    this.svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.target.closest(".pt, .span")) return;
      drag = { x: event.clientX, y: event.clientY, cx: this.view.cx, cy: this.view.cy };
      this.svg.setPointerCapture(event.pointerId);
      this.svg.classList.add("dragging");
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (!drag || !this.view) return;
      this.view.cx = drag.cx - (event.clientX - drag.x) / this.view.scale;
      this.view.cy = drag.cy - (event.clientY - drag.y) / this.view.scale;
      this.render();
    });
    const end = () => {
      drag = null;
      this.svg.classList.remove("dragging");
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    this.svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = this.svg.getBoundingClientRect();
      this.zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    this.svg.addEventListener("click", (event) => {
      const point = event.target.closest(".pt, .span");
      if (point) this.choose(point.dataset.kind, point.dataset.id);
    });
    this.svg.addEventListener("keydown", (event) => {
      const point = event.target.closest && event.target.closest(".pt, .span");
      if (point && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        this.choose(point.dataset.kind, point.dataset.id);
        return;
      }
      const step = 80 / (this.view ? this.view.scale : 1);
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[event.key] && this.view) {
        event.preventDefault();
        event.stopPropagation();
        this.view.cx += moves[event.key][0];
        this.view.cy += moves[event.key][1];
        this.render();
      } else if (event.key === "+" || event.key === "=") {
        this.zoomAt(2);
      } else if (event.key === "-") {
        this.zoomAt(0.5);
      } else if (event.key === "0") {
        event.stopPropagation();
        this.fit();
        this.render();
      }
    });
  }

  size() {
    const box = this.stage.getBoundingClientRect();
    return [Math.max(200, box.width), Math.max(200, box.height)];
  }

  zoomAt(factor, px, py) {
    if (!this.view) return;
    const [width, height] = this.size();
    const x = px === undefined ? width / 2 : px;
    const y = py === undefined ? height / 2 : py;
    const worldX = this.view.cx + (x - width / 2) / this.view.scale;
    const worldY = this.view.cy + (y - height / 2) / this.view.scale;
    const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.view.scale * factor));
    this.view = { cx: worldX - (x - width / 2) / scale, cy: worldY - (y - height / 2) / scale, scale };
    this.render();
  }

  async show() {
    this.visible = true;
    if (!this.built) this.build();
    await this.load();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.load(), REFRESH_MS);
  }

  hide() {
    this.visible = false;
    clearInterval(this.timer);
  }

  async load() {
    // Busy while being read: assistive technology (and a test) knows when the drawing is the new one.
    if (this.svg) this.svg.setAttribute("aria-busy", "true");
    try {
      this.data = await get("/api/map");
      this.error = null;
      // A state change that came on the stream while the map was being read is newer than what it says.
      for (const name of [...this.live.keys()]) this.applyLive(name, true);
    } catch (error) {
      this.error = error.message;
    }
    if (!this.view) this.fit();
    this.render();
    if (this.svg) this.svg.setAttribute("aria-busy", "false");
  }

  /** Incidents changed: redraw soon. */
  update() {
    if (!this.visible || this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.render();
    }, 50);
  }

  /** Events from the live stream: a fibre.node.<state> event sets the node's state and its span's at once. */
  addEvents(events) {
    let changed = false;
    for (const event of events) {
      const topic = String((event && event.topic) || "");
      if (!topic.startsWith("fibre.node.")) continue;
      const payload = event.payload || {};
      const name = (payload.node && payload.node.name) || (event.subject && event.subject.id);
      const state = payload.state || topic.split(".")[2];
      if (!name || !state) continue;
      this.live.set(name, {
        state, since: toSeconds(event.occurred_at), span: payload.span || null, reason: payload.reason ?? null,
        loss_pct: payload.loss_pct ?? null, rtt_ms: payload.rtt_ms ?? null,
      });
      if (this.applyLive(name, false)) changed = true;
    }
    if (changed) this.update();
  }

  /** Puts the newest stream state of node `name` on the map's data; `fromRefresh`: only over an older one. */
  applyLive(name, fromRefresh) {
    const change = this.live.get(name);
    const data = this.data;
    if (!change || !data) return false;
    const nodes = data.fibre_nodes || [];
    const index = nodes.findIndex((node) => node.id === name);
    const node = index === -1 ? null : nodes[index];
    if (fromRefresh && !(node && toSeconds(node.state_since) < change.since)) {
      this.live.delete(name); // the hub's own view has caught up
      return false;
    }
    const since = Number.isFinite(change.since) ? change.since : null;
    let spanName = change.span;
    if (node) {
      const attributes = { ...(node.attributes || {}), reason: change.reason, loss_pct: change.loss_pct, rtt_ms: change.rtt_ms };
      nodes[index] = { ...node, state: change.state, state_since: since, attributes };
      spanName = spanName || attributes.span;
    }
    const spans = data.fibre_spans || [];
    const at = spans.findIndex((span) => span.id === spanName);
    if (at !== -1) spans[at] = { ...spans[at], state: change.state, state_since: since };
    return Boolean(node) || at !== -1;
  }

  /** The fibre spans that can be drawn: both ends placed. */
  spans() {
    return ((this.data && this.data.fibre_spans) || []).filter((span) => Array.isArray(span.ends) && span.ends.length === 2
      && span.ends.every((end) => Array.isArray(end) && Number.isFinite(end[0]) && Number.isFinite(end[1])));
  }

  points() {
    const data = this.data || {};
    const points = [];
    for (const site of data.sites || []) {
      const lat = site.lat ?? site.latitude;
      const lon = site.lon ?? site.longitude;
      if (Number.isFinite(lat) && Number.isFinite(lon)) points.push({ kind: "site", id: site.name, lat, lon, item: site });
    }
    for (const node of data.fibre_nodes || []) if (hasPoint(node)) points.push({ kind: "node", id: node.id, lat: node.latitude, lon: node.longitude, item: node });
    for (const camera of data.cameras || []) if (hasPoint(camera)) points.push({ kind: "cam", id: camera.id, lat: camera.latitude, lon: camera.longitude, item: camera });
    const incidents = new Map();
    for (const incident of data.incidents || []) incidents.set(incident.id, incident);
    for (const incident of this.store.all()) incidents.set(incident.id, incident);
    for (const incident of incidents.values()) {
      const held = this.store.get(incident.id) || incident;
      if (held.state === "closed") continue;
      const location = held.location || {};
      if (hasPoint(location)) points.push({ kind: "inc", id: held.id, lat: location.latitude, lon: location.longitude, item: held });
    }
    return points;
  }

  fit() {
    const data = this.data || {};
    const map = data.map || {};
    let south; let west; let north; let east;
    if (Array.isArray(map.bounds) && map.bounds.length === 4) {
      [south, west, north, east] = map.bounds;
    } else {
      const points = this.points();
      if (!points.length) {
        this.view = null;
        return;
      }
      south = Math.min(...points.map((p) => p.lat));
      north = Math.max(...points.map((p) => p.lat));
      west = Math.min(...points.map((p) => p.lon));
      east = Math.max(...points.map((p) => p.lon));
    }
    const [x0, y0] = project(north, west);
    const [x1, y1] = project(south, east);
    const [width, height] = this.stage ? this.size() : [800, 600];
    // At least a few hundred metres across, so a single camera is not drawn at street-atom scale.
    const spanX = Math.max(x1 - x0, 1e-5);
    const spanY = Math.max(y1 - y0, 1e-5);
    const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, 0.85 * Math.min(width / spanX, height / spanY)));
    this.view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale };
  }

  toScreen(lat, lon, width, height) {
    const [x, y] = project(lat, lon);
    return [(x - this.view.cx) * this.view.scale + width / 2, (y - this.view.cy) * this.view.scale + height / 2];
  }

  render() {
    if (!this.visible || !this.built) return;
    const [width, height] = this.size();
    const active = document.activeElement;
    const focused = active && this.svg.contains(active) && active.dataset ? { kind: active.dataset.kind, id: active.dataset.id } : null;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    const children = [s("rect", { class: "map-bg", x: 0, y: 0, width, height })];
    this.message.hidden = true;
    if (this.error) {
      this.message.hidden = false;
      replace(this.message, `The map cannot be read: ${this.error}`);
    }
    if (!this.view) {
      if (!this.error) {
        this.message.hidden = false;
        replace(this.message, "Nothing to draw yet: no camera, fibre node, site or incident has coordinates.");
      }
      replace(this.svg, children);
      this.renderInfo();
      return;
    }
    const map = (this.data && this.data.map) || {};
    if (map.tile_url) children.push(this.tiles(map.tile_url, width, height));
    if (map.image_url && Array.isArray(map.bounds) && map.bounds.length === 4) {
      const [south, west, north, east] = map.bounds;
      const [x0, y0] = this.toScreen(north, west, width, height);
      const [x1, y1] = this.toScreen(south, east, width, height);
      children.push(s("image", { class: "map-image", href: map.image_url, x: x0, y: y0, width: x1 - x0, height: y1 - y0, preserveAspectRatio: "none" }));
    }
    children.push(this.graticule(width, height));
    const points = this.points();
    const order = { site: 0, node: 1, cam: 2, inc: 3 };
    points.sort((a, b) => order[a.kind] - order[b.kind]);
    const labelCameras = points.filter((p) => p.kind === "cam").length <= 80;
    const lines = s("g", { class: "spans" });
    for (const span of this.spans()) {
      const [[x1, y1], [x2, y2]] = span.ends.map(([lat, lon]) => this.toScreen(lat, lon, width, height));
      if (Math.max(x1, x2) < -20 || Math.max(y1, y2) < -20 || Math.min(x1, x2) > width + 20 || Math.min(y1, y2) > height + 20) continue;
      lines.appendChild(this.spanLine(span, x1, y1, x2, y2));
    }
    const layer = s("g", { class: "points" });
    for (const point of points) {
      const [x, y] = this.toScreen(point.lat, point.lon, width, height);
      if (x < -20 || y < -20 || x > width + 20 || y > height + 20) continue;
      layer.appendChild(this.marker(point, x, y, labelCameras));
    }
    children.push(lines, layer, this.scaleBar(width, height));
    replace(this.svg, children);
    // Redrawing replaces every marker; keyboard focus stays on the same point.
    if (focused && focused.kind) {
      for (const marker of [...lines.children, ...layer.children]) {
        if (marker.dataset.kind === focused.kind && marker.dataset.id === focused.id) marker.focus();
      }
    }
    this.renderInfo();
  }

  marker(point, x, y, labelCameras) {
    const item = point.item;
    const selected = this.selected && this.selected.kind === point.kind && this.selected.id === point.id;
    let shape; let label = null; let name;
    if (point.kind === "inc") {
      shape = s("path", { d: "M0,-11 L11,0 L0,11 L-11,0 Z" });
      label = `#${item.number}`;
      name = `Incident #${item.number} ${item.title || ""}, ${item.severity}, ${stateLabel(item.state)}`;
    } else if (point.kind === "node") {
      shape = [s("rect", { x: -6, y: -6, width: 12, height: 12 }), this.nodeMark(item.state)];
      label = labelCameras ? item.name || item.id : null;
      if (label && FIBRE_MARKS[item.state]) label = `${label} ${FIBRE_MARKS[item.state]}`;
      const facts = nodeFacts(item).map(([key, value]) => `${key.toLowerCase()} ${value}`);
      name = [`Fibre node ${item.name || item.id}, ${item.state || "state unknown"}${sinceText(item)}`, ...facts].join(", ");
    } else if (point.kind === "cam") {
      shape = s("circle", { r: 7 });
      label = labelCameras ? item.id : null;
      name = `Camera ${item.id}${item.name ? ` ${item.name}` : ""}, ${item.state || "state unknown"}`;
    } else {
      shape = s("path", { d: "M0,-7 L6,5 L-6,5 Z" });
      label = item.name;
      name = `Site ${item.name}`;
    }
    const classes = ["pt", point.kind, selected && "selected"];
    if (point.kind === "inc") {
      classes.push(`sev-${item.severity}`, `state-${item.state}`, isAlarming(item) && "alarm");
    } else if (point.kind === "node") {
      classes.push(fibreClass(item.state));
    } else if (point.kind !== "site") {
      classes.push(assetClass(item.state));
    }
    return s("g", {
      class: classes, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`, tabindex: 0, role: "button",
      "aria-label": name, dataset: { kind: point.kind, id: point.id },
    }, s("title", {}, name), shape, label ? s("text", { x: 11, y: 4, class: "pt-label" }, label) : null);
  }

  /** The mark inside a node's square that says its state without colour. */
  nodeMark(state) {
    if (state === "down") return s("path", { class: "mark", d: "M-4,-4 L4,4 M4,-4 L-4,4" });
    if (state === "flapping") return s("path", { class: "mark", d: "M-5,1 L-2.5,-3 L0,3 L2.5,-3 L5,1" });
    return null;
  }

  spanLine(span, x1, y1, x2, y2) {
    const a = span.attributes || {};
    const state = span.state || "unknown";
    const selected = this.selected && this.selected.kind === "span" && this.selected.id === span.id;
    const facts = [`${a.a} to ${a.b}`, length(a.length_m), `${state}${sinceText(span)}`].filter(Boolean);
    const name = `Fibre span ${span.name || span.id}, ${facts.join(", ")}`;
    const ends = { x1: x1.toFixed(1), y1: y1.toFixed(1), x2: x2.toFixed(1), y2: y2.toFixed(1) };
    const mark = FIBRE_MARKS[state];
    return s("g", {
      class: ["span", fibreClass(state), selected && "selected"], tabindex: 0, role: "button", "aria-label": name,
      dataset: { kind: "span", id: span.id, state },
    }, s("title", {}, name),
    s("line", { class: "span-hit", ...ends }),
    s("line", { class: "span-line", ...ends }),
    state === "flapping" ? s("line", { class: "span-flap", ...ends }) : null,
    mark ? s("text", { class: "span-mark", x: ((x1 + x2) / 2).toFixed(1), y: ((y1 + y2) / 2 - 4).toFixed(1) }, mark) : null);
  }

  tiles(template, width, height) {
    const group = s("g", { class: "tiles" });
    const z = Math.max(0, Math.min(19, Math.round(Math.log2(this.view.scale / 256))));
    const n = 2 ** z;
    const size = this.view.scale / n;
    const left = this.view.cx - width / 2 / this.view.scale;
    const top = this.view.cy - height / 2 / this.view.scale;
    const x0 = Math.floor(left * n); const x1 = Math.floor((left + width / this.view.scale) * n);
    const y0 = Math.max(0, Math.floor(top * n)); const y1 = Math.min(n - 1, Math.floor((top + height / this.view.scale) * n));
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 200) return group;
    for (let tx = x0; tx <= x1; tx += 1) {
      for (let ty = y0; ty <= y1; ty += 1) {
        const href = tileHref(template, z, ((tx % n) + n) % n, ty);
        if (!href) continue;
        const image = s("image", { x: (tx / n - this.view.cx) * this.view.scale + width / 2, y: (ty / n - this.view.cy) * this.view.scale + height / 2, width: size + 0.5, height: size + 0.5 });
        // The tile URL comes from the hub's own configuration, not from partner data.
        image.setAttribute("href", href);
        group.appendChild(image);
      }
    }
    return group;
  }

  graticule(width, height) {
    const group = s("g", { class: "graticule" });
    const [north, west] = unproject(this.view.cx - width / 2 / this.view.scale, this.view.cy - height / 2 / this.view.scale);
    const [south, east] = unproject(this.view.cx + width / 2 / this.view.scale, this.view.cy + height / 2 / this.view.scale);
    const step = niceStep(Math.max(east - west, 1e-6) / 6);
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
      const [x] = this.toScreen(north, lon, width, height);
      group.appendChild(s("line", { x1: x, y1: 0, x2: x, y2: height }));
      group.appendChild(s("text", { x: x + 3, y: 14, class: "grat-label" }, `${Math.abs(lon).toFixed(decimals)}°${lon < 0 ? "W" : "E"}`));
    }
    for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
      const [, y] = this.toScreen(lat, west, width, height);
      group.appendChild(s("line", { x1: 0, y1: y, x2: width, y2: y }));
      group.appendChild(s("text", { x: 4, y: y - 3, class: "grat-label" }, `${Math.abs(lat).toFixed(decimals)}°${lat < 0 ? "S" : "N"}`));
    }
    return group;
  }

  scaleBar(width, height) {
    const [lat] = unproject(this.view.cx, this.view.cy);
    const metresPerPixel = (EARTH_M * Math.cos((lat * Math.PI) / 180)) / this.view.scale;
    let length = niceStep(metresPerPixel * 100);
    if (length / metresPerPixel > 200) length /= 2;
    const pixels = length / metresPerPixel;
    const x = 16; const y = height - 20;
    return s("g", { class: "scale-bar" },
      s("rect", { class: "scale-back", x: x - 6, y: y - 18, width: pixels + 12, height: 28 }),
      s("path", { d: `M${x},${y - 6} L${x},${y} L${x + pixels},${y} L${x + pixels},${y - 6}` }),
      s("text", { x, y: y - 8 }, metres(length)));
  }

  choose(kind, id) {
    this.selected = { kind, id };
    this.render();
  }

  renderInfo() {
    if (!this.info) return;
    if (this.selected && this.selected.kind === "span") {
      const span = this.spans().find((item) => item.id === this.selected.id);
      if (span) {
        this.renderSpanInfo(span);
        return;
      }
    }
    const point = this.selected && this.points().find((p) => p.kind === this.selected.kind && p.id === this.selected.id);
    if (!point) {
      replace(this.info, h("h3", {}, "Map"), h("p", { class: "muted" }, "Click a point (or Tab to it and press Enter) to see it here. Drag to pan, wheel or +/− to zoom."),
        this.openIncidentsList());
      return;
    }
    const item = point.item;
    const coordinates = `${point.lat.toFixed(5)}, ${point.lon.toFixed(5)}`;
    if (point.kind === "inc") {
      replace(this.info,
        h("h3", {}, `Incident #${item.number}`),
        h("p", {}, item.title || ""),
        h("p", {}, h("span", { class: ["sev", `sev-${item.severity}`] }, item.severity), " ", h("span", { class: ["state", `state-${item.state}`] }, stateLabel(item.state))),
        h("p", { class: "muted" }, locationName(item.location), ` (${coordinates})`),
        h("button", { type: "button", class: "primary", on: { click: () => this.onOpenIncident(item.id) } }, "Open incident"));
      return;
    }
    const title = point.kind === "cam" ? `Camera ${item.id}` : point.kind === "node" ? `Fibre node ${item.id}` : item.name;
    const node = point.kind === "node";
    const related = this.store.all().filter((incident) => isOpen(incident)
      && ((incident.cameras || []).includes(item.id) || (point.kind === "cam" && (incident.location || {}).camera === item.id)
        || (node && (incident.covers || []).includes(`fibre_node:${item.id}`))));
    // A node's health figures first, by name; whatever else its adapter says after them as it is.
    const facts = node ? nodeFacts(item) : [];
    const rest = Object.entries(item.attributes || {}).filter(([key]) => !node || !NODE_FACTS.includes(key));
    replace(this.info,
      h("h3", {}, title),
      item.name && point.kind !== "site" ? h("p", {}, item.name) : null,
      point.kind !== "site" ? h("p", {}, h("span", { class: ["health", node ? fibreClass(item.state) : assetClass(item.state)] }, item.state || "state unknown"),
        item.state_since ? h("span", { class: "muted" }, ` since ${ago(item.state_since)}`) : null) : null,
      item.source ? h("p", { class: "muted" }, `From ${item.source}`) : null,
      h("p", { class: "muted" }, coordinates),
      facts.length || rest.length
        ? h("dl", { class: "facts" }, facts.map(([key, value]) => [h("dt", {}, key), h("dd", {}, value)]),
          rest.map(([key, value]) => [h("dt", {}, key), h("dd", {}, describe(value))]))
        : null,
      related.length ? [h("h4", {}, "Open incidents"), h("ul", { class: "plain" }, related.map((incident) => h("li", {},
        h("button", { type: "button", class: "link", on: { click: () => this.onOpenIncident(incident.id) } }, `#${incident.number} ${incident.title || ""}`))))] : null);
  }

  renderSpanInfo(span) {
    const a = span.attributes || {};
    const end = (id) => (this.points().some((p) => p.kind === "node" && p.id === id)
      ? h("button", { type: "button", class: "link", on: { click: () => this.choose("node", id) } }, id) : id || "–");
    replace(this.info,
      h("h3", {}, `Fibre span ${span.name || span.id}`),
      h("p", {}, h("span", { class: ["health", fibreClass(span.state)] }, span.state || "state unknown"),
        span.state_since ? h("span", { class: "muted" }, ` since ${ago(span.state_since)}`) : null),
      span.source ? h("p", { class: "muted" }, `From ${span.source}`) : null,
      h("dl", { class: "facts" },
        h("dt", {}, "Ends"), h("dd", {}, end(a.a), " – ", end(a.b)),
        h("dt", {}, "Length"), h("dd", {}, length(a.length_m) || "–"),
        a.cores ? [h("dt", {}, "Cores"), h("dd", {}, String(a.cores))] : null));
  }

  openIncidentsList() {
    const placed = this.points().filter((p) => p.kind === "inc");
    if (!placed.length) return h("p", { class: "muted" }, "No open incident has coordinates.");
    return [h("h4", {}, "Incidents on the map"), h("ul", { class: "plain" }, placed.map((p) => h("li", {},
      h("button", { type: "button", class: "link", on: { click: () => this.choose("inc", p.id) } }, `#${p.item.number} ${p.item.title || ""}`))))];
  }
}
