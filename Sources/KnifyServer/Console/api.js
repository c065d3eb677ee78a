// The job API as the console uses it. The API key lives in sessionStorage only (gone when the tab closes; never in
// persistent storage, never in a URL) and goes out as `Authorization: Bearer` on fetch. Live streams use short-lived
// stream tokens instead (EventSource cannot send headers).

const KEY = 'knify.apiKey';
export const KEY_PATTERN = /^knify_(live|test)_[A-Za-z0-9]{8,128}$/;

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export class APIError extends Error {
  constructor(status, body) {
    const detail = body?.detail || (status ? `HTTP ${status}` : 'the server did not answer');
    super(detail);
    this.status = status;
    this.code = body?.code || (status ? `HTTP_${status}` : 'NETWORK');
    this.detail = detail;
  }
}

// The key's rate-limit window as the last reply told it; polling slows down to stay inside it.
export const budget = {limit: null, remaining: null, reset: null};
const budgetListeners = new Set();
export function onBudget(listener) {
  budgetListeners.add(listener);
  return () => budgetListeners.delete(listener);
}

function readBudget(headers) {
  const limit = Number(headers.get('X-RateLimit-Limit'));
  const remaining = Number(headers.get('X-RateLimit-Remaining'));
  const reset = Number(headers.get('X-RateLimit-Reset'));
  if (!headers.has('X-RateLimit-Limit') || Number.isNaN(limit)) return;
  Object.assign(budget, {limit, remaining, reset});
  for (const listener of budgetListeners) listener(budget);
}

let unauthorized = () => {};
// Called when the key stops working (revoked, or another tab signed out): the app returns to the login form.
export function onUnauthorized(handler) {
  unauthorized = handler;
}

// fetch with the key. `raw: true` answers the Response (artifact downloads); otherwise the parsed JSON.
export async function api(path, {method = 'GET', body, raw = false, signal, key} = {}) {
  const bearer = key ?? session.key;
  if (!bearer) throw new APIError(401, {code: 'UNAUTHORIZED', detail: 'not signed in'});
  const headers = {Authorization: `Bearer ${bearer}`, Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new APIError(0, null);
  }
  readBudget(response.headers);
  if (!response.ok) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      // not the envelope: keep the status
    }
    const error = new APIError(response.status, payload);
    if (response.status === 401 && key === undefined) unauthorized(error);
    throw error;
  }
  return raw ? response : response.json();
}

// Pollers share the key's budget: each waits at least its own interval, and longer when the requests left in the
// window would not last until it resets at the current pace (several pollers and tabs slow down together).
const pollers = new Set();

function budgetDelay(baseMs) {
  const {remaining, reset} = budget;
  if (remaining == null || !reset) return baseMs;
  const secondsLeft = Math.max(1, reset - Date.now() / 1000);
  const share = (1.2 * Math.max(1, pollers.size) * secondsLeft * 1000) / Math.max(1, remaining);
  return Math.min(Math.max(baseMs, share), 10 * 60 * 1000);
}

export class Poller {
  // `fn` is awaited each round; answering 'stop' ends the poller. `interval()` is the wanted pause in ms.
  constructor(fn, interval) {
    this.fn = fn;
    this.interval = typeof interval === 'function' ? interval : () => interval;
    this.timer = null;
    this.running = false;
    this.again = false;
    this.stopped = true;
    this.failures = 0;
    this.onVisible = () => {
      if (!document.hidden && !this.stopped) this.now();
    };
  }

  start() {
    this.stopped = false;
    pollers.add(this);
    document.addEventListener('visibilitychange', this.onVisible);
    this.now();
    return this;
  }

  // Polls at once (after a change the operator made), or as soon as the round in flight ends.
  now() {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.round();
  }

  async round() {
    // A hidden tab does not poll; becoming visible polls at once.
    if (document.hidden) return;
    this.running = true;
    let answer;
    try {
      answer = await this.fn();
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      if (error?.status === 401) answer = 'stop';
    }
    this.running = false;
    if (answer === 'stop') return this.stop();
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      return this.round();
    }
    const backoff = Math.min(2 ** this.failures, 16);
    this.timer = setTimeout(() => this.round(), budgetDelay(this.interval()) * backoff);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    pollers.delete(this);
    document.removeEventListener('visibilitychange', this.onVisible);
  }
}

export function encodePath(path) {
  return path.split('/').map(encodeURIComponent).join('/');
}
