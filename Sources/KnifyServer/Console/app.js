// The Knify console: sign-in, navigation between the views, notices. Views live in their own modules; each is an
// object with `el`, `mount()` and `destroy()` (which stops its polling and closes its streams).

import {APIError, KEY_PATTERN, api, budget, onBudget, onUnauthorized, session} from './api.js';
import {KnapsPage, SandboxesPage} from './admin.js';
import {fill, h, refreshTimes} from './dom.js';
import {JobPage} from './job.js';
import {JobsPage} from './jobs.js';

class App {
  constructor(root) {
    this.root = root;
    this.view = null;
    this.isAdmin = false;
    this.toasts = h('div', {class: 'toasts', role: 'status', 'aria-live': 'polite'});
    this.statusLine = h('div', {class: 'status-line', hidden: true});
    this.budgetLine = h('span', {class: 'budget muted'});
    onBudget((b) => this.showBudget(b));
    onUnauthorized(() => this.signOut('The API key was refused (revoked, or signed out elsewhere). Sign in again.'));
    window.addEventListener('hashchange', () => this.route());
    // "3m ago" stays true between refreshes (and on pages that stopped polling).
    setInterval(() => refreshTimes(), 15000);
  }

  async start() {
    if (!session.key) return this.showLogin();
    try {
      await this.enter(session.key);
    } catch (error) {
      session.clear();
      this.showLogin(error.detail ?? String(error));
    }
  }

  // -- sign-in ----------------------------------------------------------------------------------------------------
  showLogin(message) {
    this.unmount();
    const input = h('input', {type: 'password', name: 'api-key', id: 'api-key', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'knify_live_…', required: true, 'aria-describedby': 'login-help'});
    const error = h('p', {class: 'error', role: 'alert', text: message ?? ''});
    const submit = h('button', {type: 'submit', class: 'primary', text: 'Sign in'});
    const form = h('form', {class: 'card login', method: 'post', action: '#', on: {submit: async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!KEY_PATTERN.test(key)) {
        error.textContent = 'That is not a Knify API key: it starts with knify_live_ or knify_test_.';
        return;
      }
      submit.disabled = true;
      error.textContent = '';
      try {
        await this.enter(key);
        input.value = '';
      } catch (failure) {
        session.clear();
        error.textContent = failure.detail ?? String(failure);
      } finally {
        submit.disabled = false;
      }
    }}},
    h('h1', {}, h('span', {class: 'logo'}), 'Knify console'),
    h('label', {for: 'api-key', text: 'API key'}), input,
    h('p', {id: 'login-help', class: 'muted small',
      text: 'The key stays in this tab only (session storage) and is sent as an Authorization header; it is never put in a URL. Admin keys also see sandboxes and knaps.'}),
    error, submit);
    fill(this.root, h('main', {class: 'login-page'}, form), this.toasts);
    input.focus();
  }

  // Checks the key (it must read jobs), learns whether it is an admin's, then shows the console.
  async enter(key) {
    try {
      await api('/jobs?limit=1', {key});
    } catch (error) {
      if (error.status === 401) throw new APIError(401, {detail: 'Unknown or revoked API key.'});
      if (error.status === 403) throw new APIError(403, {detail: 'This key lacks the jobs:read scope the console needs.'});
      throw error;
    }
    let admin = false;
    try {
      await api('/sandboxes', {key});
      admin = true;
    } catch (error) {
      if (error.status !== 403) throw error;
    }
    session.set(key);
    this.isAdmin = admin;
    this.showShell();
    this.route();
  }

  signOut(message) {
    session.clear();
    this.isAdmin = false;
    this.showLogin(message);
  }

  // -- shell and routing ------------------------------------------------------------------------------------------
  showShell() {
    this.nav = h('nav', {class: 'tabs'},
      h('a', {href: '#/jobs', data: {tab: 'jobs'}, text: 'Jobs'}),
      this.isAdmin ? h('a', {href: '#/sandboxes', data: {tab: 'sandboxes'}, text: 'Sandboxes'}) : null,
      this.isAdmin ? h('a', {href: '#/knaps', data: {tab: 'knaps'}, text: 'Knaps'}) : null);
    this.main = h('main', {class: 'content'});
    fill(this.root,
      h('header', {class: 'topbar'},
        h('a', {class: 'brand', href: '#/jobs', title: 'Knify'}, h('span', {class: 'logo'}), h('span', {class: 'brand-text', text: 'Knify'})),
        this.nav, h('span', {class: 'spacer'}),
        h('span', {class: 'role muted', text: this.isAdmin ? 'admin key' : 'jobs key'}),
        h('button', {type: 'button', class: 'logout', text: 'Sign out', on: {click: () => this.signOut('Signed out.')}})),
      this.statusLine, this.main,
      h('footer', {class: 'footer'}, this.budgetLine, h('a', {href: '/openapi.json', text: 'API (OpenAPI)'})),
      this.toasts);
    this.showBudget(budget);
  }

  route() {
    if (!session.key || !this.main) return;
    const [path, queryText] = (location.hash.replace(/^#/, '') || '/jobs').split('?');
    const query = new URLSearchParams(queryText ?? '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    let view;
    let tab = parts[0] ?? 'jobs';
    if (parts[0] === 'jobs' && parts[1]) view = new JobPage(parts[1], this);
    else if (parts[0] === 'sandboxes' && this.isAdmin) view = new SandboxesPage(this);
    else if (parts[0] === 'knaps' && this.isAdmin) view = new KnapsPage(this);
    else {
      tab = 'jobs';
      view = new JobsPage(this, query);
    }
    this.unmount();
    for (const link of this.nav.querySelectorAll('a')) link.classList.toggle('active', link.dataset.tab === tab);
    this.view = view;
    fill(this.main, view.el);
    view.mount();
    window.scrollTo(0, 0);
  }

  unmount() {
    this.view?.destroy();
    this.view = null;
  }

  // -- notices ----------------------------------------------------------------------------------------------------
  toast(message, kind = 'info') {
    const note = h('div', {class: ['toast', kind], text: message});
    this.toasts.append(note);
    setTimeout(() => note.remove(), kind === 'error' ? 9000 : 4000);
  }

  // A persistent line for a failing background refresh (cleared by the next success).
  status(message) {
    this.statusLine.hidden = !message;
    this.statusLine.textContent = message;
  }

  showBudget(b) {
    if (b.limit == null) return;
    this.budgetLine.textContent = `API budget: ${b.remaining} of ${b.limit} requests left this window`;
    this.budgetLine.classList.toggle('low', b.remaining < b.limit * 0.1);
  }
}

new App(document.getElementById('app')).start();
