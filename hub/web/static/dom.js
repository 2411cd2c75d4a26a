// Building the page from data without ever parsing data as markup.
//
// Everything the hub sends (partner texts, summaries, names) reaches the page through these helpers:
// text goes in as text nodes, attributes through setAttribute on names this module allows. Event-handler
// attributes, inline styles and markup properties are refused outright, so a mistake fails loudly in
// development instead of opening a hole. There is no innerHTML anywhere in the console.

const SVG_NS = "http://www.w3.org/2000/svg";

// DOM properties set directly (not as attributes) because their live value matters.
const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "tabIndex", "open", "type"]);

function refuse(name) {
  const lower = name.toLowerCase();
  return lower.startsWith("on") || lower === "style" || lower === "srcdoc" || lower === "innerhtml"
    || lower === "outerhtml" || lower === "formaction";
}

// Links and sources are only ever paths on the hub itself or fragments; anything else is dropped.
function safeUrl(value) {
  const text = String(value);
  return /^(\/(?!\/)|#|\?)/.test(text) ? text : null;
}

function applyProps(node, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value));
    } else if (key === "dataset") {
      for (const [name, data] of Object.entries(value)) node.dataset[name] = String(data);
    } else if (key === "on") {
      for (const [type, handler] of Object.entries(value)) node.addEventListener(type, handler);
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (refuse(key)) {
      throw new Error(`refusing to set ${key} on <${node.tagName}>`);
    } else if (key === "href" || key === "src") {
      const url = safeUrl(value);
      if (url !== null) node.setAttribute(key, url);
    } else if (PROPERTIES.has(key) && !(node instanceof SVGElement)) {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

/** Append children: strings and numbers become text nodes, nodes go in as they are, null is skipped. */
export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** An HTML element: h("td", {class: "x"}, "text", otherNode). */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  return append(node, ...children);
}

/** An SVG element, same calling convention as h. */
export function s(tag, props, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyProps(node, props);
  return append(node, ...children);
}

/** Replace everything inside node with children. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** Whether the keyboard is busy typing in a field (shortcut keys must leave it alone). */
export function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target.getAttribute("type") || "text").toLowerCase();
  return !["button", "submit", "reset", "checkbox", "radio"].includes(type);
}
