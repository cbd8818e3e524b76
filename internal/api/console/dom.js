// Small DOM helpers. Every text from the server goes through textContent
// (h's string children): nothing is ever parsed as HTML.

// h builds an element: h('td', {class: 'x', onclick: fn}, 'text', child…).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties el and appends children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// when formats an RFC 3339 time for people; empty for none.
export function when(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

// table renders rows with columns [{title, value(row) → text or Node}].
export function table(columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty || 'Nothing yet.');
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.title)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.cls }, c.value(r)))))));
}

export function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || text) }, text);
}

let toastTimer;
// toast shows a short message at the bottom of the page.
export function toast(text, isError) {
  const t = document.getElementById('toast');
  fill(t, text);
  t.className = 'toast' + (isError ? ' error' : '');
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}
