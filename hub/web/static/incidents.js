// The console's copy of the incidents: snapshots from GET /api/incidents, kept current by the
// incident.* events of the live stream (each carries the whole incident as payload.incident).

import { OPEN_STATES, severityRank, toSeconds } from "./format.js";

/** Queue order: most severe first, then the oldest first, then by number. */
export function compareIncidents(a, b) {
  const bySeverity = severityRank(b.severity) - severityRank(a.severity);
  if (bySeverity) return bySeverity;
  const byAge = (toSeconds(a.opened_at) || 0) - (toSeconds(b.opened_at) || 0);
  if (byAge) return byAge;
  return (Number(a.number) || 0) - (Number(b.number) || 0);
}

export function sourcesOf(incident) {
  const sources = Array.isArray(incident.sources) ? incident.sources.slice() : [];
  if (incident.source && !sources.includes(incident.source)) sources.unshift(incident.source);
  return sources;
}

/** Whether an incident is a critical one nobody has acknowledged yet: the alarm condition. */
export function isAlarming(incident) {
  return incident.severity === "critical" && incident.state === "new";
}

export function isOpen(incident) {
  return OPEN_STATES.includes(incident.state);
}

function haystack(incident) {
  const parts = [
    incident.number !== undefined ? `#${incident.number}` : "",
    incident.title, incident.category, incident.owner, incident.state, incident.severity,
    ...sourcesOf(incident),
  ];
  const location = incident.location || {};
  parts.push(location.name, location.camera, location.uprn);
  const subject = incident.subject || {};
  parts.push(subject.name, subject.id);
  return parts.filter(Boolean).join("\n").toLowerCase();
}

/** Whether an incident passes the queue's filters. */
export function matches(incident, filters) {
  if (filters.states && !filters.states.has(incident.state)) return false;
  if (filters.source && !sourcesOf(incident).includes(filters.source)) return false;
  if (filters.location && ((incident.location || {}).name || "") !== filters.location) return false;
  if (filters.severity && severityRank(incident.severity) < severityRank(filters.severity)) return false;
  if (filters.text) {
    const words = filters.text.toLowerCase().split(/\s+/).filter(Boolean);
    const text = haystack(incident);
    if (!words.every((word) => text.includes(word))) return false;
  }
  return true;
}

/** Order two times; ISO strings of one shape compare as text, which keeps their microseconds. */
function compareTimes(a, b) {
  if (typeof a === "string" && typeof b === "string" && a.length === b.length && a.endsWith("Z") && b.endsWith("Z")) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const difference = (toSeconds(a) || 0) - (toSeconds(b) || 0);
  return difference < 0 ? -1 : difference > 0 ? 1 : 0;
}

export class IncidentStore {
  constructor() {
    this.byId = new Map();
  }

  /**
   * Take a snapshot; returns "added", "changed" or null (unchanged, or older than what is held: a
   * replayed event after a reload must not wind an incident back).
   */
  upsert(incident) {
    if (!incident || typeof incident !== "object" || !incident.id) return null;
    const held = this.byId.get(incident.id);
    if (held) {
      const order = compareTimes(incident.updated_at, held.updated_at);
      if (order < 0) return null;
      if (order === 0 && JSON.stringify(held) === JSON.stringify(incident)) return null;
    }
    this.byId.set(incident.id, incident);
    return held ? "changed" : "added";
  }

  get(id) {
    return this.byId.get(id) || null;
  }

  all() {
    return Array.from(this.byId.values());
  }

  filtered(filters) {
    return this.all().filter((incident) => matches(incident, filters)).sort(compareIncidents);
  }

  countsByState() {
    const counts = {};
    for (const incident of this.byId.values()) counts[incident.state] = (counts[incident.state] || 0) + 1;
    return counts;
  }

  alarming() {
    return this.all().filter(isAlarming).sort(compareIncidents);
  }

  sources() {
    const all = new Set();
    for (const incident of this.byId.values()) for (const source of sourcesOf(incident)) all.add(source);
    return Array.from(all).sort();
  }

  locations() {
    const all = new Set();
    for (const incident of this.byId.values()) {
      const name = (incident.location || {}).name;
      if (name) all.add(name);
    }
    return Array.from(all).sort();
  }
}
