// The job list: polled (new jobs appear without a reload), filtered by status and type on the server and by text
// on the page, with the chart of the last hours above it and a form to start a job.

import {api, Poller} from './api.js';
import {jobsChart} from './chart.js';
import {
  JOB_TYPES, STATUSES, badge, fill, firstLine, h, jobDuration, jobLink, jobModel, jobSpan, parseTime, timeAgo,
} from './dom.js';

const PAGE_SIZE = 25;
const LIST_POLL_MS = 4000;
const CHART_POLL_MS = 60000;
const CHART_HOURS = 6;

export class JobsPage {
  constructor(app, query) {
    this.app = app;
    this.filters = {status: query.get('status') ?? '', type: query.get('type') ?? '', q: query.get('q') ?? ''};
    this.page = Math.max(1, Number(query.get('page')) || 1);
    this.seen = null; // ids shown by the previous round; new ones are highlighted
    this.jobs = [];

    this.total = h('span', {class: 'muted'});
    this.rows = h('tbody');
    this.pager = h('div', {class: 'pager'});
    this.chartBox = h('div', {class: 'card chart-card'}, h('div', {class: 'muted', text: 'Loading chart…'}));
    this.el = h('div', {class: 'page jobs-page'},
      h('div', {class: 'page-head'}, h('h1', {text: 'Jobs'}), this.total, h('span', {class: 'spacer'}),
        h('span', {class: 'live-dot', title: 'Refreshes on its own'}, 'live')),
      this.chartBox,
      this.newJobForm(),
      this.filterBar(),
      h('div', {class: 'table-wrap'},
        h('table', {class: 'jobs'},
          h('thead', {}, h('tr', {}, ['Job', 'Status', 'Type', 'Model', 'Age', 'Duration', 'Sandbox'].map((t) => h('th', {text: t})))),
          this.rows)),
      this.pager);
    this.listPoller = new Poller(() => this.refresh(), LIST_POLL_MS);
    this.chartPoller = new Poller(() => this.refreshChart(), CHART_POLL_MS);
  }

  mount() {
    this.listPoller.start();
    this.chartPoller.start();
  }

  destroy() {
    this.listPoller.stop();
    this.chartPoller.stop();
    this.chartBox.querySelector('.chart')?.disconnect?.();
  }

  // -- filters ----------------------------------------------------------------------------------------------------
  filterBar() {
    const select = (name, label, values) => h('label', {class: 'filter'}, label,
      h('select', {name, on: {change: (e) => this.setFilter(name, e.target.value)}},
        h('option', {value: '', text: 'all'}),
        values.map((v) => h('option', {value: v, text: v.replace('_task', ''), selected: this.filters[name] === v}))));
    let typing = null;
    const search = h('input', {type: 'search', name: 'q', placeholder: 'Filter by id, model, prompt…', value: this.filters.q,
      autocomplete: 'off', 'aria-label': 'Filter the page by text',
      on: {input: (e) => {
        clearTimeout(typing);
        typing = setTimeout(() => this.setFilter('q', e.target.value.trim()), 200);
      }}});
    return h('div', {class: 'filters'}, select('status', 'Status', STATUSES), select('type', 'Type', JOB_TYPES), search);
  }

  setFilter(name, value) {
    this.filters[name] = value;
    if (name !== 'q') this.page = 1;
    this.saveHash();
    if (name === 'q') this.renderRows();
    else this.listPoller.now();
  }

  // The filters live in the URL's fragment (never sent to the server), so a reload keeps them.
  saveHash() {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(this.filters)) if (v) query.set(k, v);
    if (this.page > 1) query.set('page', String(this.page));
    const text = query.toString();
    history.replaceState(null, '', `#/jobs${text ? `?${text}` : ''}`);
  }

  // -- data -------------------------------------------------------------------------------------------------------
  async refresh() {
    const query = new URLSearchParams({page: String(this.page), limit: String(PAGE_SIZE)});
    if (this.filters.status) query.set('status', this.filters.status);
    if (this.filters.type) query.set('job_type', this.filters.type);
    let reply;
    try {
      reply = await api(`/jobs?${query}`);
    } catch (error) {
      this.app.status(`Job list: ${error.detail}`);
      throw error;
    }
    this.app.status('');
    const {data, pagination} = reply;
    if (pagination.pages > 0 && this.page > pagination.pages) {
      this.page = pagination.pages;
      this.saveHash();
      this.listPoller.again = true;
    }
    this.jobs = data;
    this.pagination = pagination;
    this.renderRows();
    this.renderPager();
    // A change in the list (a job started or ended) is worth a fresh chart.
    const signature = data.map((j) => `${j.id}:${j.status}`).join(',');
    if (this.signature !== undefined && signature !== this.signature) this.chartPoller.now();
    this.signature = signature;
  }

  async refreshChart() {
    const from = Date.now() - CHART_HOURS * 3600 * 1000;
    const jobs = [];
    // At most three pages of the newest jobs: enough for a chart, cheap on the key's budget.
    for (let page = 1; page <= 3; page += 1) {
      const reply = await api(`/jobs?page=${page}&limit=100`);
      jobs.push(...reply.data);
      const oldest = reply.data.at(-1);
      if (page >= reply.pagination.pages || !oldest || (parseTime(oldest.created_at) ?? 0) < from) break;
    }
    this.chartBox.querySelector('.chart')?.disconnect?.();
    fill(this.chartBox, jobsChart(jobs, {hours: CHART_HOURS}));
  }

  // -- rendering --------------------------------------------------------------------------------------------------
  matches(job) {
    const q = this.filters.q.toLowerCase();
    if (!q) return true;
    const spec = job.spec || {};
    return [job.id, jobModel(job), spec.prompt, spec.job_type, job.sandbox_id, job.status, spec.user_id]
      .some((v) => typeof v === 'string' && v.toLowerCase().includes(q));
  }

  renderRows() {
    const shown = this.jobs.filter((job) => this.matches(job));
    const previous = this.seen;
    this.seen = new Set(this.jobs.map((job) => job.id));
    const p = this.pagination;
    this.total.textContent = p ? `${p.total} job${p.total === 1 ? '' : 's'}${this.filters.status || this.filters.type ? ' matching' : ''}` : '';
    if (!shown.length) {
      fill(this.rows, h('tr', {class: 'empty'}, h('td', {colspan: 7, text: this.jobs.length
        ? 'No job on this page matches the text filter.'
        : 'No jobs yet. Start one with the form above or POST /jobs.'})));
      return;
    }
    fill(this.rows, shown.map((job) => {
      const spec = job.spec || {};
      const ms = jobDuration(job);
      const what = spec.prompt ? firstLine(spec.prompt) : spec.user_id ? `user ${spec.user_id}` : '';
      return h('tr', {class: ['job-row', previous && !previous.has(job.id) ? 'fresh' : null], data: {job: job.id, status: job.status},
        on: {click: (event) => {
          if (event.target.closest('a')) return;
          location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
        }}},
      h('td', {class: 'job-cell', 'data-label': 'Job'}, jobLink(job.id),
        spec.metadata?.knap_uuid ? h('span', {class: 'tag', text: 'knap'}) : null,
        job.parent_job_id ? h('span', {class: 'tag', text: 'continue'}) : null,
        what ? h('div', {class: 'prompt', text: what}) : null),
      h('td', {'data-label': 'Status'}, badge(job.status)),
      h('td', {'data-label': 'Type', text: spec.job_type ?? '—'}),
      h('td', {'data-label': 'Model', text: jobModel(job)}),
      h('td', {'data-label': 'Age'}, timeAgo(job.created_at)),
      h('td', {'data-label': 'Duration', text: ms == null ? '—' : `${jobSpan(ms)}${job.status === 'running' ? '…' : ''}`}),
      h('td', {'data-label': 'Sandbox'}, job.sandbox_state ? badge(job.sandbox_state, 'sandbox') : '—'));
    }));
  }

  renderPager() {
    const p = this.pagination;
    if (!p || p.pages <= 1) {
      fill(this.pager);
      return;
    }
    const go = (page) => {
      this.page = page;
      this.seen = null;
      this.saveHash();
      this.listPoller.now();
    };
    fill(this.pager,
      h('button', {type: 'button', text: '← Newer', disabled: this.page <= 1, on: {click: () => go(this.page - 1)}}),
      h('span', {class: 'muted', text: `page ${this.page} of ${p.pages}`}),
      h('button', {type: 'button', text: 'Older →', disabled: this.page >= p.pages, on: {click: () => go(this.page + 1)}}));
  }

  // -- new job ----------------------------------------------------------------------------------------------------
  newJobForm() {
    const type = h('select', {name: 'job_type'}, JOB_TYPES.filter((t) => t !== 'user_exam').map((t) => h('option', {value: t, text: t})));
    const model = h('input', {name: 'model', placeholder: 'model (optional)', autocomplete: 'off'});
    const prompt = h('textarea', {name: 'prompt', rows: 3, required: true, placeholder: 'What should the agent do?'});
    const submit = h('button', {type: 'submit', class: 'primary', text: 'Start job'});
    return h('details', {class: 'card new-job'}, h('summary', {text: 'New job'}),
      h('form', {on: {submit: async (event) => {
        event.preventDefault();
        const spec = {job_type: type.value, prompt: prompt.value};
        if (model.value.trim()) spec.model = model.value.trim();
        submit.disabled = true;
        try {
          const reply = await api('/jobs', {method: 'POST', body: {spec}});
          this.app.toast(`Started ${reply.job_id}`);
          location.hash = `#/jobs/${encodeURIComponent(reply.job_id)}`;
        } catch (error) {
          this.app.toast(`Could not start the job: ${error.detail}`, 'error');
        } finally {
          submit.disabled = false;
        }
      }}},
      h('div', {class: 'row'}, h('label', {}, 'Agent', type), h('label', {}, 'Model', model)),
      h('label', {}, 'Prompt', prompt), h('div', {class: 'row'}, submit)));
  }
}
