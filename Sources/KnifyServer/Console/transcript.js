// The agent transcript: normalized agent events (`GET /jobs/{id}/cursor` shape, the same for every agent) as a
// conversation. Everything in an event is untrusted agent output and is only ever set as text.

import {clock, duration, h, parseTime} from './dom.js';
import {jsonView} from './artifacts.js';

// The parameter worth showing in a tool call's one-line header.
function summary(parameters) {
  if (!parameters || typeof parameters !== 'object') return '';
  for (const key of ['command', 'path', 'file_path', 'pattern', 'query', 'url']) {
    if (typeof parameters[key] === 'string') return parameters[key];
  }
  const first = Object.values(parameters).find((v) => typeof v === 'string');
  return first ?? '';
}

function pre(text, cls) {
  return h('pre', {class: ['block', cls], text});
}

// A tool's output: shell results as stdout/stderr/exit code, text as text, anything else as JSON.
function outputView(output) {
  if (output === undefined || output === null) return null;
  if (typeof output === 'string') return pre(output, 'output');
  if (typeof output === 'object' && !Array.isArray(output) && ('stdout' in output || 'stderr' in output)) {
    const code = output.exitCode ?? output.exit_code;
    return h('div', {class: 'shell-output'},
      output.stdout ? [h('div', {class: 'label', text: 'stdout'}), pre(output.stdout, 'output')] : null,
      output.stderr ? [h('div', {class: 'label', text: 'stderr'}), pre(output.stderr, 'output stderr')] : null,
      !output.stdout && !output.stderr ? h('div', {class: 'muted', text: '(no output)'}) : null,
      code !== undefined ? h('div', {class: 'label', text: `exit code ${code}`}) : null);
  }
  return jsonView(output);
}

function parametersView(parameters) {
  if (parameters === undefined || parameters === null) return null;
  // A file's content reads better as the file than as an escaped JSON string.
  let content = null;
  if (typeof parameters === 'object' && typeof parameters.content === 'string') {
    content = parameters.content;
    parameters = Object.fromEntries(Object.entries(parameters).filter(([key]) => key !== 'content'));
  }
  const view = [jsonView(parameters), content !== null ? [h('div', {class: 'label', text: 'content'}), pre(content, 'content')] : null];
  // Short parameters are shown; long ones (a whole file's content) start folded.
  const long = JSON.stringify(parameters).length + (content?.length ?? 0) > 600;
  return h('details', {class: 'tool-params', open: !long}, h('summary', {text: 'Parameters'}), view);
}

export class Transcript {
  constructor() {
    this.el = h('div', {class: 'transcript', 'aria-live': 'polite'});
    this.tools = new Map();
    this.last = null; // the block a following delta of the same kind extends
    this.count = 0;
  }

  prompt(text, label = 'Prompt') {
    if (text == null) return;
    this.el.append(h('div', {class: 'ev ev-user'}, h('div', {class: 'who', text: label}), h('div', {class: 'text', text})));
  }

  add(event) {
    this.count += 1;
    const at = parseTime(event.timestamp);
    const time = h('span', {class: 'when', text: at == null ? '' : clock(at)});
    switch (event.type) {
      case 'agent_message': return this.text('agent', event.message ?? '', time);
      case 'thinking': return this.thinking(event.message ?? '');
      case 'tool_use': return this.toolUse(event, time);
      case 'tool_result': return this.toolResult(event, time);
      case 'result': return this.result(event, time);
      case 'error':
        this.last = null;
        return this.el.append(h('div', {class: 'ev ev-error', role: 'alert'}, h('div', {class: 'who', text: 'Error'}), time,
          h('div', {class: 'text', text: event.message ?? 'the agent reported an error'})));
      case 'system':
      default:
        this.last = null;
        return this.el.append(h('div', {class: 'ev ev-system'},
          event.subtype === 'init'
            ? `Session ${event.session_id ?? '?'}${event.model ? ` · model ${event.model}` : ''}`
            : `${event.subtype ?? event.type}${event.message ? `: ${event.message}` : ''}`));
    }
  }

  // Consecutive agent messages are one streamed reply: joined the way the CLIs join them in their result.
  text(kind, message, time) {
    if (this.last?.kind === kind) {
      this.last.body.textContent += message;
      return;
    }
    const body = h('div', {class: 'text', text: message});
    this.el.append(h('div', {class: `ev ev-${kind}`}, h('div', {class: 'who', text: 'Agent'}), time, body));
    this.last = {kind, body};
  }

  // Thinking is folded away; consecutive deltas extend one block.
  thinking(message) {
    if (this.last?.kind === 'thinking') {
      this.last.body.textContent += message;
      return;
    }
    const body = h('div', {class: 'text', text: message});
    this.el.append(h('details', {class: 'ev ev-thinking'}, h('summary', {text: 'Thinking'}), body));
    this.last = {kind: 'thinking', body};
  }

  toolUse(event, time) {
    this.last = null;
    const status = h('span', {class: 'badge tool-running', text: 'running'});
    const result = h('div', {class: 'tool-result'});
    const card = h('div', {class: 'ev ev-tool', data: {tool: event.tool ?? ''}},
      h('div', {class: 'tool-head'},
        h('span', {class: 'tool-name', text: event.tool ?? 'tool'}),
        h('code', {class: 'tool-summary', text: summary(event.parameters)}),
        status, time),
      parametersView(event.parameters), result);
    this.el.append(card);
    if (event.tool_call_id) this.tools.set(event.tool_call_id, {card, status, result});
  }

  toolResult(event, time) {
    this.last = null;
    let entry = event.tool_call_id ? this.tools.get(event.tool_call_id) : null;
    if (!entry) {
      // A result without its call (a resumed stream, an agent that reports only results).
      this.toolUse({tool: event.tool, tool_call_id: event.tool_call_id, timestamp: event.timestamp}, time);
      entry = this.tools.get(event.tool_call_id) ?? {card: this.el.lastChild, status: this.el.lastChild.querySelector('.badge'),
        result: this.el.lastChild.querySelector('.tool-result')};
    }
    const outcome = event.status ?? (event.is_error ? 'error' : 'success');
    entry.status.textContent = outcome;
    entry.status.className = `badge tool-${outcome.replace(/[^a-z]/g, '')}`;
    entry.card.classList.toggle('failed', outcome !== 'success');
    entry.result.replaceChildren(h('div', {class: 'label', text: 'Result'}), outputView(event.output) ?? h('div', {class: 'muted', text: '(no output)'}));
  }

  result(event, time) {
    this.last = null;
    const usage = event.usage || {};
    const tokensIn = usage.inputTokens ?? usage.input_tokens ?? usage.input;
    const tokensOut = usage.outputTokens ?? usage.output_tokens;
    const failed = event.is_error || event.status === 'error';
    const parts = [failed ? `Turn failed${event.subtype ? ` (${event.subtype})` : ''}` : 'Turn finished',
      event.duration_ms != null ? duration(event.duration_ms) : null,
      tokensIn != null ? `${tokensIn} tokens in` : null, tokensOut != null ? `${tokensOut} out` : null].filter(Boolean);
    this.el.append(h('div', {class: ['ev', 'ev-result', failed ? 'failed' : null]}, h('span', {text: parts.join(' · ')}), time,
      failed && event.message ? h('div', {class: 'text', text: event.message}) : null));
  }

  end(status) {
    this.last = null;
    this.el.append(h('div', {class: 'ev ev-end', data: {status}, text: `Stream ended: job ${status}`}));
  }
}
