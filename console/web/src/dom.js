// Small DOM helpers: elements are built with h(), never from HTML strings, so nothing the
// API returns is ever parsed as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value' || k === 'checked' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

let seq = 0;
// A fresh id for label/aria pairs.
export const uid = (prefix = 'id') => `${prefix}-${++seq}`;

// A figure: "–" for null or absent, integers with separators, others with one decimal.
export function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '–';
    return v.toLocaleString('en-US', { maximumFractionDigits: Number.isInteger(v) ? 0 : 1 });
  }
  return String(v);
}

// A position (partition, offset, line, version): the plain number, no separators.
export const pos = (v) => (v === null || v === undefined ? '–' : String(v));

// ISO-8601 UTC from the API, shown as "2026-11-30 09:58:00Z"; "–" when absent.
export function when(iso) {
  if (!iso) return '–';
  return String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export const pretty = (v) => JSON.stringify(v, null, 2);

// A labelled input: returns [wrapper, input].
export function field(label, attrs = {}) {
  const id = attrs.id || uid('f');
  const input = h(attrs.multiline ? 'textarea' : 'input', { ...attrs, multiline: null, id });
  return [h('div', { class: 'field' }, h('label', { for: id }, label), input), input];
}

// A definition list from [term, value] pairs (pairs with value undefined are left out).
export function dl(pairs, attrs) {
  return h('dl', attrs, pairs.filter(([, v]) => v !== undefined).map(([t, v]) => [h('dt', null, t), h('dd', null, v)]));
}

// A table: columns [{title, cell(row)}], rows; caption for screen readers.
export function table(caption, columns, rows, { rowAttrs } = {}) {
  return h('table', null,
    h('caption', null, caption),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c.title)))),
    h('tbody', null, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : null, columns.map((c) => h('td', null, c.cell(r)))))));
}

// A view's heading, focused after navigation so screen readers announce the new view.
export const heading = (text) => h('h1', { tabindex: '-1', class: 'view-title' }, text);

// The shared status line (role=status, polite).
export function notify(text) {
  document.getElementById('notice').textContent = text;
}

export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, `Error: ${e.message || e}`);
}
