// One job: its state, the stage timeline, the live transcript (Server-Sent Events through a stream token),
// artifacts with a viewer, and the continue / cancel / cleanup actions.

import {api, Poller} from './api.js';
import {ArtifactViewer, artifactList} from './artifacts.js';
import {
  TERMINAL, badge, clock, fill, h, jobDuration, jobLink, jobModel, jobSpan, parseTime, span, stamp, timeAgo,
} from './dom.js';
import {Transcript} from './transcript.js';

const ACTIVE_POLL_MS = 2000;

export class JobPage {
  constructor(id, app) {
    this.id = id;
    this.app = app;
    this.job = null;
    this.lastSeq = 0;
    this.stream = null;
    this.streamDone = false;
    this.reopenTimer = null;
    this.transcript = new Transcript();
    this.viewer = new ArtifactViewer();

    this.head = h('div', {class: 'job-head'});
    this.actions = h('div', {class: 'actions'});
    this.buildActions();
    this.continueForm = this.buildContinueForm();
    this.timeline = h('ol', {class: 'timeline'});
    this.artifacts = h('div', {class: 'artifact-list'});
    this.streamState = h('span', {class: 'stream-state', text: 'connecting…'});
    this.transcriptBox = h('div', {class: 'transcript-box'}, this.transcript.el);
    this.el = h('div', {class: 'page job-page', data: {job: id}},
      h('nav', {class: 'crumbs'}, h('a', {href: '#/jobs', text: 'Jobs'}), ' / ', h('span', {class: 'mono', text: id})),
      this.head, this.actions, this.continueForm,
      h('div', {class: 'job-grid'},
        h('section', {class: 'card transcript-card'}, h('div', {class: 'card-head'}, h('h2', {text: 'Transcript'}), this.streamState),
          this.transcriptBox),
        h('aside', {class: 'job-side'},
          h('section', {class: 'card'}, h('h2', {text: 'Timeline'}), this.timeline),
          h('section', {class: 'card'}, h('h2', {text: 'Artifacts'}), this.artifacts))));

    this.poller = new Poller(() => this.refresh(), () => ACTIVE_POLL_MS);
  }

  async mount() {
    this.poller.start();
  }

  destroy() {
    this.poller.stop();
    this.closeStream();
    clearTimeout(this.reopenTimer);
    this.viewer.destroy();
  }

  // -- state ------------------------------------------------------------------------------------------------------
  async refresh() {
    let job;
    try {
      job = await api(`/jobs/${encodeURIComponent(this.id)}`);
    } catch (error) {
      if (error.status === 404) {
        fill(this.head, h('p', {class: 'error', text: `No job ${this.id} (or not one this key may see).`}));
        this.streamState.textContent = '';
        return 'stop';
      }
      this.app.toast(`Refreshing the job failed: ${error.detail}`, 'error');
      throw error;
    }
    const first = this.job === null;
    this.job = job;
    this.render();
    if (first) {
      // A running job's transcript follows its newest events; a finished one opens at its beginning.
      this.follow = !TERMINAL.has(job.status);
      this.transcript.prompt(job.spec?.prompt ?? (job.spec?.job_type === 'user_exam' ? `Examine user ${job.spec.user_id}` : null));
      this.openStream();
    }
    // Finished and its stream has ended: nothing more will change on its own.
    if (TERMINAL.has(job.status) && this.streamDone) return 'stop';
    return undefined;
  }

  render() {
    const job = this.job;
    const spec = job.spec || {};
    const ms = jobDuration(job);
    const meta = [
      ['Type', spec.job_type],
      ['Model', jobModel(job)],
      ['Created', timeAgo(job.created_at)],
      ['Duration', job.status === 'running' ? `${jobSpan(ms)} so far` : jobSpan(ms)],
      ['Sandbox', job.sandbox_id ? h('span', {}, h('span', {class: 'mono', text: job.sandbox_id}), ' ', badge(job.sandbox_state, 'sandbox')) : '—'],
      ['Session', job.cursor_session_id ? h('span', {class: 'mono', text: job.cursor_session_id}) : '—'],
      job.parent_job_id ? ['Continues', jobLink(job.parent_job_id)] : null,
      spec.workspace_path ? ['Workspace', h('span', {class: 'mono', text: spec.workspace_path})] : null,
      spec.metadata?.knap_uuid ? ['Knap run', h('a', {href: '#/knaps', text: String(spec.metadata.knap_uuid)})] : null,
    ].filter(Boolean);
    fill(this.head,
      h('div', {class: 'title-row'}, h('h1', {class: 'mono', text: job.id}), badge(job.status)),
      h('dl', {class: 'meta'}, meta.map(([k, v]) => h('div', {}, h('dt', {text: k}), h('dd', {}, v)))),
      job.error ? h('p', {class: ['job-error', job.status === 'cancelled' ? 'note' : 'error']},
        job.error_code ? h('strong', {text: `${job.error_code}: `}) : null, job.error) : null);
    this.renderActions();
    this.renderTimeline();
    const paths = job.artifacts?.files ?? [];
    if (this.artifactKey !== paths.join('\n')) {
      this.artifactKey = paths.join('\n');
      fill(this.artifacts, artifactList(paths, (path) => this.viewer.open(this.id, path)));
    }
  }

  renderTimeline() {
    const events = this.job.events ?? [];
    const created = parseTime(this.job.created_at);
    fill(this.timeline, events.map((e) => {
      const at = parseTime(e.ts);
      return h('li', {class: `level-${e.level}`, data: {stage: e.stage}},
        h('div', {class: 'stage'}, h('span', {class: 'stage-name', text: e.stage.replaceAll('_', ' ')}),
          h('time', {datetime: e.ts, title: stamp(at), text: created != null && at != null ? `+${span((at - created) / 1000)}` : clock(at)})),
        e.detail ? h('div', {class: 'detail', text: e.detail}) : null);
    }));
  }

  // -- actions ----------------------------------------------------------------------------------------------------
  // The buttons are made once and only enabled or disabled on each refresh, so a pressed (armed) button survives it.
  buildActions() {
    this.continueButton = h('button', {type: 'button', class: 'primary', 'data-action': 'continue', text: 'Continue…',
      on: {click: () => this.toggleContinue(true)}});
    this.cancelButton = this.armedButton('cancel', 'Cancel job', 'Really cancel?', () => this.act('cancel', 'Job cancelled'));
    this.cleanupButton = this.armedButton('cleanup', 'Clean up sandbox', 'Really destroy the sandbox?',
      () => this.act('cleanup', 'Sandbox cleaned up'));
    fill(this.actions, this.continueButton, this.cancelButton, this.cleanupButton);
  }

  renderActions() {
    const job = this.job;
    const finished = TERMINAL.has(job.status);
    const live = Boolean(job.sandbox_id) && job.sandbox_state !== 'cleaned' && job.sandbox_state !== 'lost';
    const canContinue = finished && live && job.spec?.job_type !== 'user_exam';
    this.continueButton.disabled = !canContinue;
    this.continueButton.title = canContinue ? 'Send a follow-up prompt in the same sandbox and agent session'
      : `Cannot continue: ${!finished ? 'the job has not finished' : !live ? 'its sandbox is gone' : 'not an agent job'}`;
    this.setEnabled(this.cancelButton, job.status === 'pending' || job.status === 'running');
    this.setEnabled(this.cleanupButton, job.sandbox_state !== 'cleaned' && (Boolean(job.sandbox_id) || !finished));
    if (!canContinue) this.toggleContinue(false);
  }

  setEnabled(button, enabled) {
    if (button.dataset.busy) return;
    button.disabled = !enabled;
    if (!enabled) button.disarm();
  }

  // A destructive button asks once more before it acts: the first press arms it for a few seconds.
  armedButton(action, label, armedLabel, run) {
    const button = h('button', {type: 'button', class: 'danger', 'data-action': action, text: label});
    let timer = null;
    button.disarm = () => {
      clearTimeout(timer);
      button.classList.remove('armed');
      button.textContent = label;
    };
    button.addEventListener('click', async () => {
      if (!button.classList.contains('armed')) {
        button.classList.add('armed');
        button.textContent = armedLabel;
        timer = setTimeout(button.disarm, 5000);
        return;
      }
      button.disarm();
      button.disabled = true;
      button.dataset.busy = '1';
      try {
        await run();
      } finally {
        delete button.dataset.busy;
      }
    });
    return button;
  }

  async act(action, done) {
    try {
      const reply = await api(`/jobs/${encodeURIComponent(this.id)}/${action}`, {method: 'POST'});
      this.app.toast(reply.message && reply.message !== 'Sandbox cleaned up successfully' ? `${done} (${reply.message})` : done);
    } catch (error) {
      this.app.toast(`${action} failed: ${error.detail}`, 'error');
    }
    if (this.poller.stopped) this.poller.start();
    else this.poller.now();
  }

  buildContinueForm() {
    const prompt = h('textarea', {name: 'prompt', rows: 4, required: true, placeholder: 'Follow-up prompt for the same agent session'});
    const model = h('input', {name: 'model', placeholder: 'model (optional; the agent default)', autocomplete: 'off'});
    const submit = h('button', {type: 'submit', class: 'primary', text: 'Send follow-up'});
    const form = h('form', {class: 'card continue-form', hidden: true, on: {submit: async (event) => {
      event.preventDefault();
      const text = prompt.value.trim();
      if (!text) return;
      submit.disabled = true;
      try {
        const spec = {job_type: this.job.spec.job_type, prompt: text};
        if (model.value.trim()) spec.model = model.value.trim();
        const reply = await api(`/jobs/${encodeURIComponent(this.id)}/continue`, {method: 'POST', body: {spec}});
        this.app.toast(`Continued as ${reply.job_id}`);
        location.hash = `#/jobs/${encodeURIComponent(reply.job_id)}`;
      } catch (error) {
        this.app.toast(`Continue failed: ${error.detail}`, 'error');
      } finally {
        submit.disabled = false;
      }
    }}},
    h('h2', {text: 'Continue this conversation'}),
    h('label', {}, 'Prompt', prompt), h('label', {}, 'Model', model),
    h('div', {class: 'row'}, submit, h('button', {type: 'button', text: 'Close', on: {click: () => this.toggleContinue(false)}})));
    this.continuePrompt = prompt;
    return form;
  }

  toggleContinue(show) {
    this.continueForm.hidden = !show;
    if (show) this.continuePrompt.focus();
  }

  // -- live transcript -------------------------------------------------------------------------------------------
  // A stream token (five minutes, this job only) opens the EventSource; the key itself never goes in a URL. When the
  // browser gives up on a stream (token expired, server restarted), a new token resumes after the last event seen.
  async openStream() {
    if (this.streamDone) return;
    let token;
    try {
      token = await api(`/jobs/${encodeURIComponent(this.id)}/stream-token`, {method: 'POST'});
    } catch (error) {
      this.streamState.textContent = 'stream unavailable';
      this.reopen();
      return;
    }
    if (this.streamDone || this.stream) return;
    const url = new URL(token.stream_url, location.origin);
    if (this.lastSeq) url.searchParams.set('last_event_id', String(this.lastSeq));
    const source = new EventSource(url.pathname + url.search);
    this.stream = source;
    source.onopen = () => this.setStreamState('live');
    source.onmessage = (message) => this.onMessage(message);
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        this.closeStream();
        this.reopen();
      } else {
        this.setStreamState('reconnecting…');
      }
    };
  }

  reopen() {
    if (this.streamDone) return;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => this.openStream(), 3000);
  }

  closeStream() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  setStreamState(state) {
    this.streamState.textContent = state;
    this.streamState.className = `stream-state ${state === 'live' ? 'live' : ''}`;
  }

  onMessage(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.type === 'done') {
      this.streamDone = true;
      this.closeStream();
      this.transcript.end(event.status);
      this.setStreamState(`ended · ${event.status}`);
      this.poller.now();
      return;
    }
    const seq = Number(message.lastEventId);
    if (seq && seq <= this.lastSeq) return; // replayed after a reconnect
    // The agent speaks, so the job has started: show that now rather than at the next refresh.
    if (this.job?.status === 'pending') this.poller.now();
    if (seq) this.lastSeq = seq;
    const box = this.transcriptBox;
    const pinned = this.follow && box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    this.transcript.add(event);
    if (pinned) box.scrollTop = box.scrollHeight;
  }
}
