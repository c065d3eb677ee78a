// Artifacts: the files a job created or changed. The viewer fetches one file with the key (so a download is a blob
// made here, never a URL carrying the key) and shows JSON pretty-printed, text with line numbers, and binaries as
// a hex preview. File contents are untrusted and only ever set as text.

import {api, encodePath} from './api.js';
import {bytes, h} from './dom.js';

const MAX_LINES = 5000;

// JSON pretty-printed with its tokens marked up for colour (built from the parsed value, as text nodes).
export function jsonView(value) {
  const out = h('pre', {class: 'block json'});
  const put = (text, cls) => out.append(cls ? h('span', {class: cls, text}) : document.createTextNode(text));
  const walk = (v, indent) => {
    const pad = '  '.repeat(indent + 1);
    if (v === null) return put('null', 'j-null');
    if (Array.isArray(v)) {
      if (!v.length) return put('[]');
      put('[\n');
      v.forEach((item, i) => {
        put(pad);
        walk(item, indent + 1);
        put(i < v.length - 1 ? ',\n' : '\n');
      });
      return put(`${'  '.repeat(indent)}]`);
    }
    switch (typeof v) {
      case 'object': {
        const keys = Object.keys(v);
        if (!keys.length) return put('{}');
        put('{\n');
        keys.forEach((key, i) => {
          put(pad);
          put(JSON.stringify(key), 'j-key');
          put(': ');
          walk(v[key], indent + 1);
          put(i < keys.length - 1 ? ',\n' : '\n');
        });
        return put(`${'  '.repeat(indent)}}`);
      }
      case 'string': return put(JSON.stringify(v), 'j-str');
      case 'number': return put(String(v), 'j-num');
      case 'boolean': return put(String(v), 'j-bool');
      default: return put(String(v));
    }
  };
  walk(value, 0);
  return out;
}

function codeView(text) {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const list = h('ol', {class: 'code'});
  for (const line of lines.slice(0, MAX_LINES)) list.append(h('li', {text: line || '\u200b'}));
  return h('div', {class: 'code-wrap'}, list,
    lines.length > MAX_LINES ? h('p', {class: 'muted', text: `First ${MAX_LINES} of ${lines.length} lines; download for the rest.`}) : null);
}

function hexView(buffer) {
  const view = new Uint8Array(buffer, 0, Math.min(buffer.byteLength, 512));
  const rows = [];
  for (let offset = 0; offset < view.length; offset += 16) {
    const chunk = Array.from(view.slice(offset, offset + 16));
    const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return h('pre', {class: 'block hex', text: rows.join('\n') || '(empty)'});
}

function fileName(path) {
  return path.split('/').pop() || 'artifact';
}

// The artifact list of a job page: one button per file; `open(path)` shows it in the viewer.
export function artifactList(paths, open) {
  if (!paths?.length) return h('p', {class: 'muted', text: 'No artifacts (files this turn created or changed appear here).'});
  return h('ul', {class: 'artifacts'}, paths.map((path) => h('li', {},
    h('button', {type: 'button', class: 'link artifact', data: {path}, on: {click: () => open(path)}},
      h('span', {class: `file-icon ext-${(path.split('.').pop() || '').toLowerCase().replace(/[^a-z0-9]/g, '')}`}),
      h('span', {class: 'mono', text: path})))));
}

export class ArtifactViewer {
  constructor() {
    this.title = h('h2', {class: 'mono'});
    this.meta = h('span', {class: 'muted'});
    this.download = h('a', {class: 'button', text: 'Download', href: '#'});
    this.body = h('div', {class: 'viewer-body'});
    this.dialog = h('dialog', {class: 'viewer', 'aria-label': 'Artifact'},
      h('div', {class: 'viewer-head'}, this.title, this.meta, h('span', {class: 'spacer'}), this.download,
        h('button', {type: 'button', class: 'close', text: 'Close', on: {click: () => this.close()}})),
      this.body);
    this.dialog.addEventListener('close', () => this.release());
    document.body.append(this.dialog);
    this.url = null;
  }

  release() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }

  async open(jobId, path) {
    this.release();
    this.title.textContent = path;
    this.meta.textContent = 'loading…';
    this.download.hidden = true;
    this.body.replaceChildren();
    if (!this.dialog.open) this.dialog.showModal();
    let response;
    try {
      response = await api(`/jobs/${encodeURIComponent(jobId)}/artifacts/${encodePath(path)}`, {raw: true});
    } catch (error) {
      this.meta.textContent = '';
      this.body.replaceChildren(h('p', {class: 'error', text: error.detail ?? String(error)}));
      return;
    }
    const type = (response.headers.get('Content-Type') || '').split(';')[0].trim();
    const buffer = await response.arrayBuffer();
    this.url = URL.createObjectURL(new Blob([buffer], {type: type || 'application/octet-stream'}));
    this.download.href = this.url;
    this.download.setAttribute('download', fileName(path));
    this.download.hidden = false;
    let kind = 'binary';
    let view;
    if (type === 'application/json') {
      const text = new TextDecoder().decode(buffer);
      try {
        view = jsonView(JSON.parse(text));
        kind = 'JSON';
      } catch {
        view = codeView(text);
        kind = 'text (invalid JSON)';
      }
    } else if (type.startsWith('text/')) {
      view = codeView(new TextDecoder().decode(buffer));
      kind = 'text';
    } else {
      view = h('div', {}, h('p', {class: 'muted', text: 'Binary file: the first bytes in hex. Download it to open it.'}), hexView(buffer));
    }
    this.meta.textContent = `${kind} · ${bytes(buffer.byteLength)}`;
    this.body.replaceChildren(view);
    this.body.dataset.kind = kind;
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  destroy() {
    this.close();
    this.release();
    this.dialog.remove();
  }
}
