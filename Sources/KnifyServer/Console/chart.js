// The jobs chart: outcomes per time bucket (stacked bars) and each job's duration (dots, log scale), over the last
// hours. Plain SVG drawn at the container's own pixel width, so text stays readable on a phone.

import {clock, h, jobDuration, jobSpan, parseTime, svg} from './dom.js';

const OUTCOMES = ['completed', 'failed', 'cancelled', 'active'];
const LABELS = {completed: 'completed', failed: 'failed', cancelled: 'cancelled', active: 'pending / running'};
const HEIGHT = 150;
const PAD = {left: 34, right: 10, top: 10, bottom: 22};

function outcome(job) {
  return job.status === 'pending' || job.status === 'running' ? 'active' : job.status;
}

// jobs: the API's job objects; answers an element that redraws itself when its width changes.
export function jobsChart(jobs, {hours = 6, now = Date.now()} = {}) {
  const from = now - hours * 3600 * 1000;
  const recent = jobs.filter((job) => (parseTime(job.created_at) ?? 0) >= from);
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
  for (const job of recent) counts[outcome(job)] += 1;
  const finished = recent.filter((job) => outcome(job) !== 'active').map((job) => jobDuration(job, now))
    .filter((ms) => ms != null && ms >= 0).sort((a, b) => a - b);
  const quantile = (q) => (finished.length ? finished[Math.min(finished.length - 1, Math.floor(q * finished.length))] : null);

  const bars = h('div', {class: 'chart-panel'}, h('div', {class: 'chart-title', text: 'Jobs by outcome'}));
  const dots = h('div', {class: 'chart-panel'}, h('div', {class: 'chart-title', text: 'Durations'}));
  const root = h('div', {class: 'chart', 'data-jobs': String(recent.length)},
    h('div', {class: 'chart-summary'},
      h('strong', {text: `${recent.length} job${recent.length === 1 ? '' : 's'}`}), ` in the last ${hours} h`,
      ...OUTCOMES.filter((o) => counts[o]).map((o) => h('span', {class: ['legend', `fill-${o}`], text: `${counts[o]} ${LABELS[o]}`})),
      finished.length ? h('span', {class: 'muted', text: `median ${jobSpan(quantile(0.5))} · p95 ${jobSpan(quantile(0.95))}`}) : null),
    h('div', {class: 'chart-panels'}, bars, dots));

  const draw = () => {
    drawBars(bars, recent, from, now, hours);
    drawDots(dots, recent, from, now);
  };
  // Drawn once attached (it needs the width), and again whenever the width changes.
  let drawnWidth = 0;
  const observer = new ResizeObserver(() => {
    if (root.clientWidth === drawnWidth) return;
    drawnWidth = root.clientWidth;
    draw();
  });
  observer.observe(root);
  root.disconnect = () => observer.disconnect();
  return root;
}

function frame(panel) {
  const width = Math.max(200, Math.floor(panel.clientWidth || 300));
  panel.querySelector('svg')?.remove();
  const chart = svg('svg', {viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', class: 'chart-svg'});
  panel.append(chart);
  return {chart, width, plotW: width - PAD.left - PAD.right, plotH: HEIGHT - PAD.top - PAD.bottom};
}

function timeAxis(chart, from, now, plotW, plotH, hours) {
  const step = hours <= 6 ? 3600e3 : 2 * 3600e3;
  const x = (ms) => PAD.left + ((ms - from) / (now - from)) * plotW;
  const first = Math.ceil(from / step) * step;
  // A label needs about 64 px: on a narrow chart only every second (or third) hour is labelled.
  const every = Math.max(1, Math.ceil(64 / (plotW * step / (now - from))));
  let index = 0;
  for (let t = first; t <= now; t += step, index += 1) {
    chart.append(svg('line', {x1: x(t), x2: x(t), y1: PAD.top, y2: PAD.top + plotH, class: 'grid'}));
    if (index % every === 0 && x(t) > PAD.left + 14 && x(t) < PAD.left + plotW - 14) {
      chart.append(svg('text', {x: x(t), y: HEIGHT - 6, class: 'axis', 'text-anchor': 'middle',
        text: new Date(t).toLocaleTimeString([], {hour: 'numeric', minute: '2-digit'})}));
    }
  }
  chart.append(svg('line', {x1: PAD.left, x2: PAD.left + plotW, y1: PAD.top + plotH, y2: PAD.top + plotH, class: 'baseline'}));
  return x;
}

function drawBars(panel, jobs, from, now, hours) {
  const {chart, plotW, plotH} = frame(panel);
  chart.setAttribute('aria-label', 'Jobs per half hour by outcome');
  const bucketMs = 30 * 60 * 1000;
  const buckets = Math.ceil((now - from) / bucketMs);
  const rows = Array.from({length: buckets}, () => Object.fromEntries(OUTCOMES.map((o) => [o, 0])));
  for (const job of jobs) {
    const index = Math.min(buckets - 1, Math.floor(((parseTime(job.created_at) ?? now) - from) / bucketMs));
    if (index >= 0) rows[index][outcome(job)] += 1;
  }
  const most = Math.max(1, ...rows.map((row) => OUTCOMES.reduce((sum, o) => sum + row[o], 0)));
  const top = most <= 4 ? most : Math.ceil(most / 4) * 4;
  const y = (n) => PAD.top + plotH - (n / top) * plotH;
  for (const n of [0, top / 2, top]) {
    if (n !== Math.round(n)) continue;
    chart.append(svg('line', {x1: PAD.left, x2: PAD.left + plotW, y1: y(n), y2: y(n), class: 'grid'}));
    chart.append(svg('text', {x: PAD.left - 5, y: y(n) + 4, class: 'axis', 'text-anchor': 'end', text: String(n)}));
  }
  timeAxis(chart, from, now, plotW, plotH, hours);
  const slot = plotW / buckets;
  rows.forEach((row, i) => {
    let base = 0;
    for (const o of OUTCOMES) {
      if (!row[o]) continue;
      const rect = svg('rect', {x: PAD.left + i * slot + 1, width: Math.max(1, slot - 2), y: y(base + row[o]),
        height: Math.max(1, y(base) - y(base + row[o])), class: ['bar', `fill-${o}`]});
      const start = from + i * bucketMs;
      rect.append(svg('title', {text: `${clock(start)}–${clock(start + bucketMs)}: ${row[o]} ${LABELS[o]}`}));
      chart.append(rect);
      base += row[o];
    }
  });
}

function drawDots(panel, jobs, from, now) {
  const {chart, plotW, plotH} = frame(panel);
  chart.setAttribute('aria-label', 'Job durations');
  const points = jobs.map((job) => ({job, ms: jobDuration(job, now), at: parseTime(job.started_at) ?? parseTime(job.created_at)}))
    .filter((p) => p.ms != null && p.at != null);
  // Log scale from one second to the next decade above the longest job.
  const ticks = [1e3, 1e4, 6e4, 6e5, 36e5, 864e5];
  const tickLabels = {1e3: '1s', 1e4: '10s', 6e4: '1m', 6e5: '10m', 36e5: '1h', 864e5: '1d'};
  const longest = Math.max(1e4, ...points.map((p) => p.ms));
  const top = ticks.find((t) => t >= longest) ?? ticks[ticks.length - 1];
  const y = (ms) => {
    const v = Math.log10(Math.max(1e3, Math.min(ms, top)) / 1e3) / Math.log10(top / 1e3);
    return PAD.top + plotH - v * plotH;
  };
  for (const t of ticks.filter((t) => t <= top)) {
    chart.append(svg('line', {x1: PAD.left, x2: PAD.left + plotW, y1: y(t), y2: y(t), class: 'grid'}));
    chart.append(svg('text', {x: PAD.left - 5, y: y(t) + 4, class: 'axis', 'text-anchor': 'end', text: tickLabels[t]}));
  }
  const x = timeAxis(chart, from, now, plotW, plotH, (now - from) / 3600e3);
  for (const p of points) {
    const o = outcome(p.job);
    const dot = svg('circle', {cx: x(Math.max(from, p.at)), cy: y(p.ms), r: 4, class: ['dot', `fill-${o}`, o === 'active' ? 'hollow' : null]});
    dot.append(svg('title', {text: `${p.job.id}: ${p.job.status}, ${jobSpan(p.ms)}`}));
    chart.append(dot);
  }
  if (!points.length) {
    chart.append(svg('text', {x: PAD.left + plotW / 2, y: PAD.top + plotH / 2, class: 'axis', 'text-anchor': 'middle', text: 'no jobs yet'}));
  }
}
