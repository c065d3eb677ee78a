// DOM building and formatting. Everything the console shows goes through `h()`/`svg()`, which set text with
// text nodes and attributes one by one — never markup — so agent output (untrusted) can only ever be text.

const SVG_NS = 'http://www.w3.org/2000/svg';

// h('div', {class: 'x', text: 'hi', on: {click: fn}, data: {id: 1}, title: '…'}, child, [children], null)
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(el, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    switch (name) {
      case 'class': el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value); break;
      case 'text': el.textContent = String(value); break;
      case 'on': for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler); break;
      case 'data': for (const [key, v] of Object.entries(value)) el.dataset[key] = String(v); break;
      case 'href': el.setAttribute('href', safeHref(value)); break;
      case 'value': el.value = value; break;
      case 'checked': case 'disabled': case 'hidden': case 'open': case 'required': el[name] = Boolean(value); break;
      case 'style': throw new Error('inline styles are not allowed (CSP)');
      default:
        if (name.startsWith('on')) throw new Error(`use {on: {…}} for ${name}`);
        el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Replaces an element's children.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// Only the console's own routes (#/…), same-origin paths and blob: downloads are ever linked.
function safeHref(value) {
  const text = String(value);
  if (text.startsWith('#') || text.startsWith('blob:') || (text.startsWith('/') && !text.startsWith('//'))) return text;
  return '#';
}

// #/jobs/<id> for a job id from the API (encoded: ids come from data).
export function jobLink(id, label) {
  return h('a', {href: `#/jobs/${encodeURIComponent(id)}`, class: 'mono', text: label ?? id});
}

export function badge(value, kind = 'status') {
  const text = value ?? 'none';
  return h('span', {class: ['badge', `${kind}-${String(text).replace(/[^a-z_]/gi, '')}`], text});
}

// -- time -------------------------------------------------------------------------------------------------------
export function parseTime(text) {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

export function ago(ms, now = Date.now()) {
  if (ms == null) return '—';
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return `in ${span(-s)}`;
  if (s < 5) return 'just now';
  return `${span(s)} ago`;
}

export function until(ms, now = Date.now()) {
  if (ms == null) return '—';
  const s = Math.round((ms - now) / 1000);
  return s >= 0 ? `in ${span(s)}` : `${span(-s)} ago`;
}

// 42s, 7m, 3h 5m, 2d 4h
export function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s < 600 && s % 60 ? ` ${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

// 850 ms, 4.2 s, 3m 10s
export function duration(ms) {
  if (ms == null || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  return span(ms / 1000);
}

export function clock(ms) {
  if (ms == null) return '—';
  return new Date(ms).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

export function stamp(ms) {
  if (ms == null) return '—';
  const d = new Date(ms);
  return `${d.toLocaleDateString([], {year: 'numeric', month: 'short', day: 'numeric'})} ${clock(ms)}`;
}

// A time element: relative text (kept current by `refreshTimes`), the absolute time as its tooltip.
export function timeAgo(text) {
  const ms = parseTime(text);
  return h('time', {class: 'rel', datetime: text ?? undefined, title: ms == null ? undefined : stamp(ms), text: ago(ms)});
}

export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll('time.rel')) el.textContent = ago(parseTime(el.getAttribute('datetime')));
}

export function bytes(n) {
  if (n == null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

// The first line of a text, at most `max` characters.
export function firstLine(text, max = 90) {
  const line = String(text ?? '').split('\n', 1)[0].trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

// A job's duration as the API's whole-second times allow: under a second is "<1 s", not "0 ms".
export function jobSpan(ms) {
  if (ms == null) return '—';
  return ms < 1000 ? '<1 s' : duration(ms);
}

// A job's duration in ms: finished ones from start to end, running ones until now.
export function jobDuration(job, now = Date.now()) {
  const start = parseTime(job.started_at);
  if (start == null) return null;
  const end = parseTime(job.completed_at) ?? (job.status === 'running' ? now : null);
  return end == null ? null : end - start;
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const JOB_TYPES = ['cursor_task', 'claude_task', 'gemini_task', 'user_exam'];
export const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];

// The model a job runs with: its spec's, else the agent's default.
export function jobModel(job) {
  const spec = job.spec || {};
  if (spec.job_type === 'user_exam') return '—';
  return spec.model || 'auto';
}
