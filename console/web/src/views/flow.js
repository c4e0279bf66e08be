// The flow map: every stage a node with its figures (GET /console/api/flow), refreshed every
// 5 s, its DLQ badge and a 15-minute uPlot trend. Each figure has data-figure="<node>.<field>"
// (and data-value, the raw number) so that tests and scripts can read it.
import uPlot from 'uplot';
import { api } from '../api.js';
import { h, fmt, heading, when } from '../dom.js';

const REFRESH_MS = 5000;
const FIGURES = [
  ['records', 'Records'],
  ['lag', 'Lag (records)'],
  ['lagSeconds', 'Lag (seconds)'],
  ['inPerSec', 'In per second'],
  ['outPerSec', 'Out per second'],
  ['rejectPerSec', 'Rejects per second'],
  ['errorPerSec', 'Errors per second'],
  ['depth', 'Queue depth'],
  ['inFlight', 'In flight'],
  ['oldestAgeSeconds', 'Oldest message age (s)'],
  ['outbox', 'Outbox'],
];
const LABEL = Object.fromEntries(FIGURES);
const NOT_FIGURES = new Set(['id', 'label', 'dlq', 'parked']);
// The two figures each node's trend shows; other nodes (route, lake, targets) the default.
const TREND = { source: ['lag', 'inPerSec'], ingest: ['inPerSec', 'rejectPerSec'], sync: ['depth', 'outPerSec'], relay: ['outbox', 'outPerSec'] };
const TREND_DEFAULT = ['depth', 'errorPerSec'];
const MAIN = ['source', 'ingest', 'sync', 'relay'];
const COLORS = ['#1f5fbf', '#a8431a'];  // both >= 4.5:1 on white

const figureFields = (node) => [
  ...FIGURES.map(([k]) => k).filter((k) => k in node),
  ...Object.keys(node).filter((k) => !NOT_FIGURES.has(k) && !(k in LABEL)),
];

function setFigure(el, value) {
  const text = fmt(value);
  if (el.textContent !== text) el.textContent = text;
  el.dataset.value = value === null || value === undefined ? '' : String(value);
}

const hhmm = (s) => new Date(s * 1000).toISOString().slice(11, 16);  // UTC, as the API's times

function trendChart(id, fields) {
  const box = h('div', { class: 'chart', role: 'img', 'aria-label': `15-minute trend of ${fields.map((f) => LABEL[f] || f).join(' and ')}` });
  const axisFont = '11px system-ui, sans-serif';
  const opts = {
    width: 250,
    height: 120,
    legend: { show: true, live: false },
    cursor: { points: { show: false } },
    scales: { x: { time: true } },
    series: [{}, ...fields.map((f, i) => ({
      label: LABEL[f] || f, scale: `y${i}`, stroke: COLORS[i], width: 1.5, dash: i ? [4, 3] : undefined, spanGaps: false,
    }))],
    axes: [
      { stroke: '#333', font: axisFont, size: 22, values: (u, splits) => splits.map(hhmm), grid: { stroke: '#e3e3e3', width: 1 }, ticks: { show: false } },
      ...fields.map((f, i) => ({
        scale: `y${i}`, side: i ? 1 : 3, stroke: COLORS[i], font: axisFont, size: 38,
        grid: { show: i === 0, stroke: '#e3e3e3', width: 1 }, ticks: { show: false },
      })),
    ],
  };
  const chart = new uPlot(opts, [[], ...fields.map(() => [])], box);
  return { box, update: (trend) => chart.setData([
    trend.map((p) => p.t / 1000),
    ...fields.map((f) => trend.map((p) => {
      const v = p.nodes?.[id]?.[f];
      return typeof v === 'number' ? v : null;
    })),
  ]), destroy: () => chart.destroy() };
}

const trendFieldsOf = (node) => (TREND[node.id] || TREND_DEFAULT).filter((f) => f in node);
// What decides a node's elements: when it changes the node is built anew.
const shapeOf = (node) => JSON.stringify([figureFields(node), !!node.dlq, !!node.parked, trendFieldsOf(node)]);

function nodeView(node) {
  const id = node.id;
  const fields = figureFields(node);
  const figures = new Map();
  const titleId = `node-${id}-h`;
  const list = h('dl', { class: 'figures' }, fields.map((f) => {
    const dd = h('dd', { 'data-figure': `${id}.${f}` });
    figures.set(f, dd);
    return h('div', null, h('dt', null, LABEL[f] || f), dd);
  }));
  let badge = null;
  let parked = null;
  if (node.dlq) {
    badge = h('a', { class: 'badge', href: `#/dlq/${encodeURIComponent(node.dlq.name)}` });
  }
  if (node.parked) {
    parked = {
      members: h('span', { 'data-figure': `${id}.parked.members` }),
      held: h('span', { 'data-figure': `${id}.parked.held` }),
    };
  }
  const trendFields = trendFieldsOf(node);
  const chart = trendFields.length ? trendChart(id, trendFields) : null;
  const el = h('li', { class: 'node', 'data-node': id },
    h('section', { 'aria-labelledby': titleId },
      h('h2', { id: titleId }, node.label || id),
      badge && h('p', { class: 'badges', 'aria-live': 'polite' }, badge),
      list,
      parked && h('p', { class: 'parked' }, h('a', { href: '#/dlq/changes' }, 'Parked members'), ': ',
        parked.members, ', changes held: ', parked.held),
      chart && h('figure', { class: 'trend' }, chart.box, h('figcaption', { class: 'sr-only' }, 'Last 15 minutes'))));

  return {
    el,
    shape: shapeOf(node),
    update(n, trend) {
      for (const [f, dd] of figures) setFigure(dd, n[f]);
      if (badge && n.dlq) {
        const depth = n.dlq.depth;
        const text = `DLQ ${n.dlq.name}: ${fmt(depth)}`;
        if (badge.textContent !== text) badge.textContent = text;
        badge.dataset.figure = `${id}.dlq.depth`;
        badge.dataset.value = depth ?? '';
        badge.classList.toggle('warn', depth > 0);
      }
      if (parked && n.parked) {
        setFigure(parked.members, n.parked.members);
        setFigure(parked.held, n.parked.held);
      }
      if (chart) chart.update(trend);
    },
    destroy() { if (chart) chart.destroy(); },
  };
}

function health(nodes) {
  const dead = nodes.filter((n) => n.dlq && n.dlq.depth > 0);
  const deadCount = dead.reduce((s, n) => s + n.dlq.depth, 0);
  const parked = nodes.reduce((s, n) => s + (n.parked?.members || 0), 0);
  const source = nodes.find((n) => n.id === 'source');
  const problems = [];
  if (deadCount) problems.push(`${fmt(deadCount)} dead-lettered (${dead.map((n) => `${n.dlq.name} ${fmt(n.dlq.depth)}`).join(', ')})`);
  if (parked) problems.push(`${fmt(parked)} parked member${parked === 1 ? '' : 's'}`);
  const lag = source ? `source lag ${fmt(source.lag)} records, ${fmt(source.lagSeconds)} s` : '';
  return problems.length ? `Needs attention: ${problems.join('; ')}. ${lag}.` : `Healthy: nothing dead-lettered or parked. ${lag}.`;
}

export function render(root) {
  const summary = h('p', { class: 'health', 'aria-live': 'polite', 'data-figure': 'health' });
  const updated = h('p', { class: 'updated' });
  const error = h('div', { role: 'alert' });
  const mainRow = h('ol', { class: 'flow-main', 'aria-label': 'Stages in order' });
  const fanRow = h('ul', { class: 'flow-fan', 'aria-label': 'After the relay: route, lake and targets' });
  root.append(heading('Flow'), summary, updated, error,
    h('div', { class: 'flow' }, mainRow, fanRow));
  const views = new Map();
  let stopped = false;
  let timer = null;

  function update(flow) {
    const nodes = flow.nodes || [];
    const seen = new Set();
    for (const n of nodes) {
      seen.add(n.id);
      let v = views.get(n.id);
      if (!v || v.shape !== shapeOf(n)) {
        const fresh = nodeView(n);
        if (v) { v.destroy(); v.el.replaceWith(fresh.el); } else (MAIN.includes(n.id) ? mainRow : fanRow).append(fresh.el);
        v = fresh;
        views.set(n.id, v);
      }
      v.update(n, flow.trend || []);
    }
    for (const [id, v] of views) {
      if (!seen.has(id)) { v.destroy(); v.el.remove(); views.delete(id); }
    }
    const text = health(nodes);
    if (summary.textContent !== text) summary.textContent = text;
    updated.textContent = `Figures at ${when(flow.at)}, refreshed every ${REFRESH_MS / 1000} s; rates over ${flow.sampleSeconds ?? '–'} s samples.`;
  }

  async function refresh() {
    try {
      const flow = await api('/console/api/flow');
      if (stopped) return;
      update(flow);
      error.replaceChildren();
    } catch (e) {
      if (stopped || e.status === 401) return;
      error.replaceChildren(h('p', { class: 'error' }, `Could not refresh the flow map: ${e.message}`));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const v of views.values()) v.destroy();
  };
}
