// The adapters' commands as forms: one <details> per command, a field per argument, and the outcome the
// adapter answers with. The incident detail (POST /api/incidents/{id}/commands) and the status panel
// (POST /api/commands, no incident) draw the same form; each says how to send it.

import { h, replace } from "./dom.js";

// Outcomes kept for commands this page has not matched yet: an adapter may answer before the hub's reply
// to the POST has reached the page, and the stream then brings the outcome first.
const EARLY_OUTCOMES = 200;

/** Outcome events (`<type>.command.<outcome>`) matched to the forms that sent their commands. */
export class PendingCommands {
  constructor() {
    this.waiting = new Map(); // command id -> status element
    this.early = new Map(); // command id -> outcome event that came before the command's id was known
  }

  wait(commandId, status) {
    if (!commandId) return;
    this.waiting.set(commandId, status);
    const early = this.early.get(commandId);
    if (early) {
      this.early.delete(commandId);
      this.note(early);
    }
  }

  /** A stream event: if it answers a command sent from here, its form shows the outcome. */
  note(event) {
    const payload = (event && event.payload) || {};
    if (!payload.command_id || !String(event.topic || "").includes(".command.")) return false;
    const status = this.waiting.get(payload.command_id);
    if (!status) {
      this.early.set(payload.command_id, event);
      if (this.early.size > EARLY_OUTCOMES) this.early.delete(this.early.keys().next().value);
      return false;
    }
    replace(status, `Outcome: ${String(payload.outcome || "").replace(/_/g, " ")}${payload.detail ? `: ${payload.detail}` : ""}`);
    status.dataset.outcome = String(payload.outcome || "");
    this.waiting.delete(payload.command_id);
    return true;
  }

  clear() {
    this.waiting.clear();
    this.early.clear();
  }
}

/** A stable id for a field, from its command and argument names (only safe characters). */
function fieldId(prefix, spec, argument) {
  return `${prefix}-${spec.adapter}-${spec.verb}-${argument.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function hasValue(value) {
  return value !== null && value !== undefined && value !== "";
}

/**
 * The form for one command.
 *
 * - `send(arguments)` posts it and resolves with the hub's answer ({command_id, seq}).
 * - `pending` (PendingCommands) is told the command id, so the outcome lands on this form.
 * - `cameraIds` are cameras to offer first for a camera argument; `cameras()` resolves with the rest.
 * - `idPrefix` keeps field ids unique when the same command is drawn in two places.
 *
 * An argument's `value` (the hub read it from the incident's newest event, by the argument's `prefill`
 * path) starts in its field; the operator may change it.
 *
 * An argument with `options_from` ("presets") is a drop-down of the entries ({token, name}) under that
 * name in the attributes of the camera chosen in the form's camera field, re-read when the camera changes
 * and when the form is unfolded; it is free text while no camera with such a list is chosen. The returned
 * element's `refreshOptions()` re-reads them (after the camera list changed).
 */
export function commandForm(spec, { send, pending, toast = () => {}, cameraIds = [], cameras = null, idPrefix = "cmd" }) {
  const fields = [];
  const inputs = [];
  const optionFields = [];
  for (const argument of spec.arguments || []) {
    const inputId = fieldId(idPrefix, spec, argument);
    const prefilled = hasValue(argument.value) ? String(argument.value) : null;
    let input;
    if (argument.kind === "choice") {
      input = h("select", { id: inputId, required: !!argument.required },
        argument.required ? null : h("option", { value: "" }, "–"),
        (argument.choices || []).map((choice) => h("option", { value: choice }, choice)));
      if (prefilled !== null && (argument.choices || []).includes(prefilled)) input.value = prefilled;
    } else if (argument.options_from) {
      input = optionsField(inputId, argument, prefilled);
      fields.push(h("label", { for: inputId }, argument.title || argument.name, argument.required ? "" : " (optional)"), input.select, input.text);
      optionFields.push(input);
      inputs.push([argument, input]);
      continue;
    } else if (argument.kind === "integer") {
      input = h("input", { id: inputId, type: "number", step: 1, inputmode: "numeric", required: !!argument.required });
      if (prefilled !== null && Number.isInteger(Number(prefilled))) input.value = prefilled;
    } else if (argument.kind === "camera") {
      const listId = `${inputId}-list`;
      const list = h("datalist", { id: listId });
      fillCameraList(list, cameraIds, cameras);
      input = h("input", { id: inputId, type: "text", list: listId, maxlength: argument.max_length || 200, required: !!argument.required, spellcheck: "false" });
      fields.push(list);
      if (prefilled !== null) input.value = prefilled;
      else if (cameraIds.length === 1) input.value = cameraIds[0];
    } else if ((argument.max_length || 200) > 200) {
      input = h("textarea", { id: inputId, rows: 2, maxlength: argument.max_length, required: !!argument.required });
      if (prefilled !== null) input.value = prefilled;
    } else {
      input = h("input", { id: inputId, type: "text", maxlength: argument.max_length || 200, required: !!argument.required });
      if (prefilled !== null) input.value = prefilled;
    }
    if (prefilled !== null) input.dataset.prefilled = "true";
    inputs.push([argument, input]);
    fields.push(h("label", { for: inputId }, argument.title || argument.name, argument.required ? "" : " (optional)"), input);
  }
  const status = h("p", { class: "command-status", role: "status" });
  const button = h("button", { type: "submit", class: "primary" }, spec.title || spec.verb);
  const form = h("form", { class: "command-form" },
    spec.description ? h("p", { class: "muted" }, spec.description) : null,
    spec.running === false ? h("p", { class: "error" }, `${spec.adapter} is not running: the hub will refuse this for now.`) : null,
    h("div", { class: "command-fields" }, fields), button, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const [argument, input] of inputs) {
      const raw = input.value.trim();
      if (raw === "") continue;
      if (argument.kind === "integer") {
        const number = Number(raw);
        if (!Number.isInteger(number)) {
          replace(status, `${argument.title || argument.name} must be a whole number.`);
          input.focus();
          return;
        }
        values[argument.name] = number;
      } else {
        values[argument.name] = raw;
      }
    }
    button.disabled = true;
    delete status.dataset.outcome;
    replace(status, "Sending…");
    try {
      const answer = await send(values);
      replace(status, "Sent; waiting for the outcome…");
      if (answer && answer.command_id) pending.wait(answer.command_id, status);
      toast(`${spec.title || spec.verb}: sent to ${spec.adapter}`);
    } catch (error) {
      replace(status, `Not sent: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
  const details = h("details", { class: "command", dataset: { adapter: spec.adapter, verb: spec.verb } },
    h("summary", {}, h("b", {}, spec.title || spec.verb), " ", h("span", { class: "muted" }, spec.adapter)),
    form);
  const cameraInput = (inputs.find(([argument]) => argument.kind === "camera") || [])[1] || null;
  details.refreshOptions = () => {
    for (const field of optionFields) field.refresh(cameraInput ? cameraInput.value.trim() : "", cameras);
  };
  if (optionFields.length) {
    details.refreshOptions();
    if (cameraInput) {
      cameraInput.addEventListener("change", details.refreshOptions);
      cameraInput.addEventListener("input", details.refreshOptions);
    }
    details.addEventListener("toggle", () => { if (details.open) details.refreshOptions(); });
  }
  return details;
}

/**
 * A field whose choices come from the chosen camera's attributes[argument.options_from]: a <select> when
 * the camera has such a list, a text box otherwise. Whichever is showing carries the field's id (its
 * label points at it); `value` and `focus()` act on it.
 */
function optionsField(inputId, argument, prefilled) {
  const select = h("select", { id: inputId, required: !!argument.required, hidden: true, dataset: { optionsFrom: argument.options_from } });
  const text = h("input", { id: `${inputId}-text`, type: "text", maxlength: argument.max_length || 200, required: !!argument.required, spellcheck: "false" });
  if (prefilled !== null) {
    text.value = prefilled;
    text.dataset.prefilled = "true";
  }
  let asked = 0;
  let usingSelect = false;
  const show = (useSelect) => {
    usingSelect = useSelect;
    select.hidden = !useSelect;
    text.hidden = useSelect;
    select.disabled = !useSelect; // a hidden required field must not block the form
    text.disabled = useSelect;
    select.id = useSelect ? inputId : `${inputId}-select`;
    text.id = useSelect ? `${inputId}-text` : inputId;
  };
  show(false);
  return {
    select,
    text,
    get value() {
      return usingSelect ? select.value : text.value;
    },
    focus() {
      (usingSelect ? select : text).focus();
    },
    async refresh(cameraId, cameras) {
      const ask = ++asked;
      let entries = null;
      if (cameraId && cameras) {
        try {
          const camera = (await cameras()).find((item) => item.id === cameraId);
          const listed = camera && camera.attributes ? camera.attributes[argument.options_from] : null;
          if (Array.isArray(listed)) entries = listed.filter((entry) => entry && hasValue(entry.token));
        } catch (error) {
          entries = null;
        }
      }
      if (ask !== asked) return; // a later camera was chosen while this one was being looked up
      if (!entries || !entries.length) {
        show(false);
        return;
      }
      const keep = usingSelect ? select.value : (text.value.trim() || prefilled || "");
      replace(select,
        h("option", { value: "" }, `Choose ${String(argument.title || argument.name).toLowerCase()}…`),
        entries.map((entry) => h("option", { value: String(entry.token) },
          hasValue(entry.name) && String(entry.name) !== String(entry.token) ? `${entry.name} (${entry.token})` : String(entry.token))));
      const tokens = entries.map((entry) => String(entry.token));
      const byName = entries.find((entry) => hasValue(entry.name) && String(entry.name) === keep);
      select.value = tokens.includes(keep) ? keep : byName ? String(byName.token) : "";
      show(true);
    },
  };
}

async function fillCameraList(list, first, cameras) {
  const ids = new Set(first);
  for (const id of first) list.appendChild(h("option", { value: id }));
  if (!cameras) return;
  try {
    for (const camera of await cameras()) {
      if (ids.has(camera.id)) continue;
      ids.add(camera.id);
      list.appendChild(h("option", { value: camera.id }, camera.name || ""));
    }
  } catch (error) {
    // The cameras offered first are still there.
  }
}

// --- one-click offers ----------------------------------------------------------------------------------

/** The offers an incident may carry (Incident.offers), and the command each one sends. */
export const OFFERS = {
  send_to_police: { adapterType: "police_link", verb: "send_to_police", label: "Send to police" },
};

// What this page has done with each offer, by `${incident id}|${adapter}|${verb}`: "sending" or "sent". The
// queue row and the detail are redrawn as events arrive; a button clicked must not come back as new.
const offerStates = new Map();

export function forgetOffers() {
  offerStates.clear();
}

/** The commands (from GET /api/commands or an incident's actions) that carry out `offer`, one per adapter. */
export function offerCommands(offer, commands) {
  const wanted = OFFERS[offer];
  if (!wanted) return [];
  return (commands || []).filter((spec) => spec.verb === wanted.verb && spec.adapter_type === wanted.adapterType);
}

/**
 * A one-click button for an incident's offer: it posts the command with no arguments to
 * POST /api/incidents/{id}/commands (through `send`) and says what became of it in a status line, where
 * `pending` (PendingCommands, optional) puts the adapter's outcome. `named` adds the adapter's name to the
 * label (when several adapters could do it).
 */
export function offerButton(offer, spec, incident, { send, pending = null, toast = () => {}, named = false }) {
  const wanted = OFFERS[offer];
  const key = `${incident.id}|${spec.adapter}|${spec.verb}`;
  const label = named ? `${wanted.label} (${spec.adapter})` : wanted.label;
  const status = h("span", { class: "command-status offer-status", role: "status" });
  const button = h("button", {
    type: "button",
    class: ["primary", "offer"],
    title: `${spec.title || wanted.label} through ${spec.adapter}`,
    dataset: { offer, adapter: spec.adapter },
  }, label);
  const show = () => {
    const state = offerStates.get(key);
    button.disabled = !!state;
    replace(button, state === "sent" ? `${label}: sent` : label);
    if (state === "sending") replace(status, "Sending…");
  };
  show();
  button.addEventListener("click", async (event) => {
    // The button sits in a queue row whose click opens the incident: this click is the button's alone.
    event.stopPropagation();
    if (offerStates.get(key)) return;
    offerStates.set(key, "sending");
    show();
    try {
      const answer = await send(incident.id, spec);
      offerStates.set(key, "sent");
      show();
      replace(status, pending ? "Sent; waiting for the outcome…" : "");
      if (pending && answer && answer.command_id) pending.wait(answer.command_id, status);
      toast(`#${incident.number}: ${wanted.label.toLowerCase()} sent to ${spec.adapter}`);
    } catch (error) {
      offerStates.delete(key);
      show();
      replace(status, `Not sent: ${error.message}`);
      toast(`#${incident.number} not sent: ${error.message}`, "error");
    }
  });
  return h("span", { class: "one-click" }, button, status);
}
