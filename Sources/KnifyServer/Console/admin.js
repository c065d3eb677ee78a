// Admin views: the node's live sandboxes (`GET /sandboxes`) and every knap with its recent runs (`GET /knaps`,
// `GET /knaps/{uuid}/runs`). Both need an admin key; the console offers them only to one.

import {api, Poller} from './api.js';
import {badge, fill, h, jobLink, parseTime, span, stamp, timeAgo, until} from './dom.js';

const SANDBOX_POLL_MS = 10000;
const KNAP_POLL_MS = 30000;

function cell(label, ...children) {
  return h('td', {'data-label': label}, ...children);
}

function table(headers, body) {
  return h('div', {class: 'table-wrap'}, h('table', {class: 'cards'},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {text: t})))), body));
}

// One admin page: a heading with a count, a line of explanation, and a table of what `path` lists, refreshed
// every `pollMs`. Subclasses say how to count and render the items.
class PolledTablePage {
  constructor({className, title, intro, headers, path, pollMs, empty}) {
    this.path = path;
    this.columns = headers.length;
    this.empty = empty;
    this.rows = h('tbody');
    this.count = h('span', {class: 'muted'});
    this.el = h('div', {class: `page ${className}`},
      h('div', {class: 'page-head'}, h('h1', {text: title}), this.count, h('span', {class: 'spacer'}),
        h('span', {class: 'live-dot', title: 'Refreshes on its own'}, 'live')),
      h('p', {class: 'muted', text: intro}),
      table(headers, this.rows));
    this.poller = new Poller(() => this.refresh(), pollMs);
  }

  mount() {
    this.poller.start();
  }

  destroy() {
    this.poller.stop();
  }

  async refresh() {
    let reply;
    try {
      reply = await api(this.path);
    } catch (error) {
      fill(this.rows, h('tr', {}, h('td', {colspan: this.columns, class: 'error', text: error.detail})));
      throw error;
    }
    const items = reply.data;
    this.count.textContent = this.countText(items.length);
    if (!items.length) {
      fill(this.rows, h('tr', {class: 'empty'}, h('td', {colspan: this.columns, text: this.empty})));
      return;
    }
    fill(this.rows, this.render(items));
  }
}

export class SandboxesPage extends PolledTablePage {
  constructor(app) {
    super({className: 'sandboxes-page', title: 'Sandboxes', path: '/sandboxes', pollMs: SANDBOX_POLL_MS,
      intro: 'Live sandboxes of this node. A paused sandbox waits for a continue until its policy\'s idle TTL has passed since it was last used (unless kept alive); every sandbox ends at its policy\'s maximum lifetime.',
      headers: ['Sandbox', 'State', 'Policy', 'Job', 'Session', 'Age', 'Idle', 'Ends'], empty: 'No live sandboxes.'});
    this.app = app;
  }

  countText(n) {
    return `${n} live`;
  }

  render(boxes) {
    const now = Date.now();
    return boxes.map((box) => {
      const created = parseTime(box.created_at);
      const lastUsed = parseTime(box.last_used_at);
      const keepAlive = parseTime(box.keep_alive_until);
      const lifetimeEnd = created != null && box.max_lifetime_seconds != null ? created + box.max_lifetime_seconds * 1000 : null;
      // When the reaper would take it: paused ones after the idle TTL (or keep-alive), all at the maximum lifetime.
      let idleEnd = null;
      if (box.state === 'paused' && lastUsed != null && box.idle_ttl_seconds != null) {
        idleEnd = Math.max(lastUsed + box.idle_ttl_seconds * 1000, keepAlive ?? 0);
      }
      const end = idleEnd != null && lifetimeEnd != null ? Math.min(idleEnd, lifetimeEnd) : lifetimeEnd;
      const ttl = box.idle_ttl_seconds;
      const idleShare = box.state === 'paused' && ttl ? Math.min(1, box.idle_seconds / ttl) : 0;
      return h('tr', {data: {sandbox: box.id, state: box.state}},
        cell('Sandbox', h('span', {class: 'mono', text: box.id}), box.pooled ? h('span', {class: 'tag', text: 'warm pool'}) : null),
        cell('State', badge(box.state, 'sandbox')),
        cell('Policy', box.policy),
        cell('Job', box.job_id ? jobLink(box.job_id) : '—'),
        cell('Session', box.session_id ? h('span', {class: 'mono', title: box.session_id, text: `${box.session_id.slice(0, 8)}…`}) : '—'),
        cell('Age', span(box.age_seconds)),
        cell('Idle', h('span', {}, span(box.idle_seconds), ttl ? h('span', {class: 'muted', text: ` of ${span(ttl)}`}) : null,
          box.state === 'paused' && ttl ? h('meter', {min: 0, max: 1, value: idleShare, low: 0.6, high: 0.85, optimum: 0, title: 'share of the idle TTL used'}) : null)),
        cell('Ends', end == null ? '—' : h('time', {title: stamp(end), text: until(end, now)}),
          keepAlive != null && keepAlive > now ? h('span', {class: 'tag', text: 'kept alive'}) : null));
    });
  }
}

export class KnapsPage extends PolledTablePage {
  constructor(app) {
    super({className: 'knaps-page', title: 'Knaps', path: '/knaps', pollMs: KNAP_POLL_MS,
      intro: 'Every knap of every user. Each run is a Knify job: open a knap\'s runs to reach them.',
      headers: ['Knap', 'Owner', 'Type', 'Agent', 'Next run', 'Runs'], empty: 'No knaps yet.'});
    this.app = app;
    this.open = new Set(); // knaps whose runs are shown
  }

  countText(n) {
    return `${n} knap${n === 1 ? '' : 's'}`;
  }

  render(knaps) {
    const rows = [];
    for (const knap of knaps) {
      const runsRow = h('tr', {class: 'runs-row', hidden: !this.open.has(knap.uuid)}, h('td', {colspan: 6, class: 'runs-cell'}));
      const toggle = h('button', {type: 'button', class: 'small', 'data-action': 'runs', text: this.open.has(knap.uuid) ? 'Hide runs' : 'Show runs',
        on: {click: () => {
          if (this.open.has(knap.uuid)) this.open.delete(knap.uuid);
          else this.open.add(knap.uuid);
          runsRow.hidden = !this.open.has(knap.uuid);
          toggle.textContent = this.open.has(knap.uuid) ? 'Hide runs' : 'Show runs';
          if (this.open.has(knap.uuid)) this.loadRuns(knap.uuid, runsRow.firstChild);
        }}});
      const schedule = knap.tool_metadata?.schedule_description;
      const next = parseTime(knap.next_run_at);
      rows.push(h('tr', {class: ['knap-row', knap.is_active ? null : 'inactive'], data: {knap: knap.uuid}},
        cell('Knap', h('strong', {text: knap.name}), knap.is_active ? null : h('span', {class: 'tag', text: 'inactive'}),
          h('div', {class: 'mono muted small', text: knap.uuid})),
        cell('Owner', knap.creation_user_id, h('div', {class: 'muted small', text: knap.visibility})),
        cell('Type', knap.schedule_type.replaceAll('_', ' '), schedule ? h('div', {class: 'muted small', text: schedule}) : null),
        cell('Agent', knap.agent, knap.model ? h('div', {class: 'muted small', text: knap.model}) : null),
        cell('Next run', next == null ? '—' : h('time', {title: `${stamp(next)} (${knap.timezone})`, text: until(next)})),
        cell('Runs', toggle)), runsRow);
      if (this.open.has(knap.uuid)) this.loadRuns(knap.uuid, runsRow.firstChild);
    }
    return rows;
  }

  async loadRuns(uuid, target) {
    if (!target.firstChild) target.append(h('span', {class: 'muted', text: 'Loading runs…'}));
    let reply;
    try {
      reply = await api(`/knaps/${encodeURIComponent(uuid)}/runs?limit=10`);
    } catch (error) {
      fill(target, h('span', {class: 'error', text: error.detail}));
      return;
    }
    if (!reply.data.length) {
      fill(target, h('span', {class: 'muted', text: 'No runs yet.'}));
      return;
    }
    fill(target, h('table', {class: 'runs cards'},
      h('thead', {}, h('tr', {}, ['Run', 'Trigger', 'Status', 'Started', 'Job', 'Note'].map((t) => h('th', {text: t})))),
      h('tbody', {}, reply.data.map((run) => h('tr', {data: {run: run.run_id}},
        cell('Run', h('span', {class: 'mono', text: run.run_id})),
        cell('Trigger', run.trigger),
        cell('Status', badge(run.status)),
        cell('Started', timeAgo(run.created_at)),
        cell('Job', jobLink(run.job_id)),
        cell('Note', run.error ? h('span', {class: 'error', text: run.error}) : run.note ?? '—'))))));
  }
}
