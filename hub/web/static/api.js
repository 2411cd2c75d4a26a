// The hub's JSON API as the console uses it: same-origin fetch with the session cookie, the CSRF token
// on every state-changing request, and one error shape (ApiError) for everything that can go wrong.

let csrfToken = null;
let sessionEnded = () => {};

export class ApiError extends Error {
  constructor(status, code, message, details = [], retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Called once with the error whenever the hub says the session is gone (401 outside login). */
export function onSessionEnded(handler) {
  sessionEnded = handler;
}

function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function describeDetails(details) {
  if (!Array.isArray(details) || details.length === 0) return "";
  const parts = details.map((item) => {
    if (item && typeof item === "object") {
      const where = item.field || item.name || item.path || "";
      const what = item.message || item.problem || JSON.stringify(item);
      return where ? `${where}: ${what}` : what;
    }
    return String(item);
  });
  return ` (${parts.join("; ")})`;
}

export async function request(method, path, { body, query, quietUnauthenticated = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "network", "The hub cannot be reached.");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const retry = Number(response.headers.get("Retry-After"));
    const failure = new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      (error.message || response.statusText || "The request failed.") + describeDetails(error.details),
      error.details || [],
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
    if (response.status === 401 && !quietUnauthenticated) sessionEnded(failure);
    throw failure;
  }
  return data;
}

export const get = (path, query, options = {}) => request("GET", path, { ...options, query });
export const post = (path, body = {}, options = {}) => request("POST", path, { ...options, body });
export const del = (path, options = {}) => request("DELETE", path, options);

/** A path with each dynamic segment escaped: path`/api/incidents/${id}`. */
export function path(strings, ...values) {
  return strings.reduce((out, part, i) => out + part + (i < values.length ? encodeURIComponent(values[i]) : ""), "");
}
