// How the console says times, ages, severities and states, the same way in every view.

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];
export const STATES = ["new", "acknowledged", "in_progress", "resolved", "closed"];
export const OPEN_STATES = ["new", "acknowledged", "in_progress"];

export function severityRank(label) {
  const rank = SEVERITIES.indexOf(label);
  return rank === -1 ? -1 : rank;
}

export function stateLabel(state) {
  return String(state || "").replace(/_/g, " ");
}

/** Seconds since the epoch from an ISO 8601 string or a number of seconds; NaN when unknown. */
export function toSeconds(value) {
  if (value === null || value === undefined || value === "") return NaN;
  if (typeof value === "number") return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? NaN : ms / 1000;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** Local wall-clock time, HH:MM:SS, with the date in front when it is not today. */
export function clockTime(value, now = Date.now() / 1000) {
  const seconds = toSeconds(value);
  if (Number.isNaN(seconds)) return "–";
  const date = new Date(seconds * 1000);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const today = new Date(now * 1000);
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

/** Full local date and time for tooltips and the audit log. */
export function fullTime(value) {
  const seconds = toSeconds(value);
  if (Number.isNaN(seconds)) return "–";
  const date = new Date(seconds * 1000);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A short age: "40 s", "12 min", "3 h 05", "2 d". */
export function age(value, now = Date.now() / 1000) {
  const seconds = toSeconds(value);
  if (Number.isNaN(seconds)) return "–";
  const span = Math.max(0, Math.floor(now - seconds));
  if (span < 60) return `${span} s`;
  if (span < 3600) return `${Math.floor(span / 60)} min`;
  if (span < 86400) return `${Math.floor(span / 3600)} h ${pad(Math.floor((span % 3600) / 60))}`;
  return `${Math.floor(span / 86400)} d`;
}

/** "12 s ago", or "never" when there is no time. */
export function ago(value, now = Date.now() / 1000) {
  const seconds = toSeconds(value);
  if (Number.isNaN(seconds)) return "never";
  return `${age(seconds, now)} ago`;
}

export function locationName(location) {
  if (!location) return "";
  if (location.name) return location.name;
  if (location.camera) return `Camera ${location.camera}`;
  if (location.uprn) return `UPRN ${location.uprn}`;
  if (typeof location.latitude === "number" && typeof location.longitude === "number") {
    return `${location.latitude.toFixed(4)}, ${location.longitude.toFixed(4)}`;
  }
  return "";
}

/** Distance in metres, for the map's scale bar. */
export function metres(value) {
  return value >= 1000 ? `${value / 1000} km` : `${value} m`;
}
