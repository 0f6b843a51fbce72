// Talking to the Waymark API: JSON in, problem+json errors turned into one readable message;
// and, when the server meters map use, the map consumer's API key (kept in this browser's
// localStorage only) on the requests that need one.

const KEY_STORAGE = 'waymark-key';
/** What the server meters (GET /api/v1/metering); off until loaded. */
let metering = { enabled: false, free_max_zoom: 24, prices: {} };

/** Asks the server what it meters; a server without metering leaves it off. */
export async function loadMetering() {
  try {
    metering = await getJson('/api/v1/metering');
  } catch {
    metering = { enabled: false, free_max_zoom: 24, prices: {} };
  }
  return metering;
}

export function meteringInfo() {
  return metering;
}

/** The API key this browser uses for metered map use, or null. */
export function consumerKey() {
  return window.localStorage.getItem(KEY_STORAGE);
}

export function setConsumerKey(key) {
  if (key) window.localStorage.setItem(KEY_STORAGE, key);
  else window.localStorage.removeItem(KEY_STORAGE);
}

/** A same-origin URL with the key as `?key=` when metering is on and a key is set (images
 * and tiles are fetched by the browser itself, which sends no header). */
export function withKey(url) {
  const key = consumerKey();
  if (!metering.enabled || !key) return url;
  const parsed = new URL(url, window.location.origin);
  if (parsed.origin !== window.location.origin) return url;
  parsed.searchParams.set('key', key);
  return parsed.href;
}

/** An API answer that was not a success, with the server's own explanation. */
export class ApiError extends Error {
  constructor(status, message, problem) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/** GETs `path` and returns its JSON; throws ApiError with the problem's detail on failure. */
export async function getJson(path, { token } = {}) {
  return sendJson('GET', path, { token });
}

/** Sends `body` (JSON) with `method`; returns the answer's JSON, or null for 204. */
export async function sendJson(method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (metering.enabled && consumerKey() && path.startsWith('/api/v1/search')) {
    headers.Authorization = `Bearer ${consumerKey()}`;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, 'The Waymark server cannot be reached; check your connection and try again.', null);
  }
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const detail = answer && (answer.detail || answer.title);
    const message = detail || `The server answered ${response.status} ${response.statusText || ''}`.trim();
    throw new ApiError(response.status, message, answer);
  }
  if (response.status === 204) return null;
  if (answer === null) throw new ApiError(response.status, 'The server sent an answer that is not JSON.', null);
  return answer;
}

/** `12 Nov 2026, 14:03` in the reader's locale and time zone. */
export function formatTime(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** An element with attributes and children; strings become text (never HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Shows a message over the map; `error` makes it red. */
export function notify(message, { error = false } = {}) {
  const notice = document.getElementById('notice');
  document.getElementById('notice-text').textContent = message;
  notice.classList.toggle('error', error);
  notice.hidden = false;
}

export function clearNotice() {
  document.getElementById('notice').hidden = true;
}

/** The hash parameters (`#map=14/48.1/11.5&frame=…`) as a URLSearchParams. */
export function hashParams() {
  return new URLSearchParams(window.location.hash.replace(/^#/, ''));
}

/** Sets or removes hash parameters without a history entry (MapLibre keeps `map=`). */
export function setHashParams(changes) {
  const params = hashParams();
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === '') params.delete(key);
    else params.set(key, value);
  }
  const hash = params.toString().replaceAll('%2F', '/').replaceAll('%2C', ',');
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}${hash ? `#${hash}` : ''}`);
}
