// The live page: request rate and p99 latency, read every 2 s from the
// server's Prometheus /metrics (its own scrapes left out) and drawn on
// canvases.
import { h, fill } from './dom.js';

const EVERY_MS = 2000;
const POINTS = 90;
let timer = null;

export function stopLive() {
  clearTimeout(timer);
  timer = null;
}

// parse sums, over every label set but the /metrics route, the request
// counter and the duration histogram's cumulative buckets.
export function parse(text) {
  let count = 0;
  const buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('miniback_http_request') || line.includes('route="GET /metrics"')) continue;
    const m = /^(\w+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (m[1] === 'miniback_http_requests_total') count += value;
    if (m[1] === 'miniback_http_request_duration_seconds_bucket') {
      const le = /le="([^"]+)"/.exec(m[2] || '');
      if (le) buckets.set(le[1], (buckets.get(le[1]) || 0) + value);
    }
  }
  const sorted = [...buckets.entries()].map(([le, n]) => [le === '+Inf' ? Infinity : Number(le), n]).sort((a, b) => a[0] - b[0]);
  return { count, buckets: sorted };
}

// p99 of the requests between two scrapes, interpolated inside its bucket;
// null when there were none.
export function p99(prev, cur) {
  const delta = cur.buckets.map(([le, n], i) => [le, n - ((prev.buckets[i] || [le, 0])[1])]);
  const total = delta.length ? delta[delta.length - 1][1] : 0;
  if (total <= 0) return null;
  const want = total * 0.99;
  let lowLe = 0;
  let lowN = 0;
  for (const [le, n] of delta) {
    if (n >= want) {
      if (le === Infinity) return lowLe;
      return lowLe + (le - lowLe) * ((want - lowN) / Math.max(n - lowN, 1e-9));
    }
    lowLe = le;
    lowN = n;
  }
  return lowLe;
}

function draw(canvas, values, unit) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const ht = canvas.clientHeight;
  canvas.width = w * dpr;
  canvas.height = ht * dpr;
  const c = canvas.getContext('2d');
  c.scale(dpr, dpr);
  c.clearRect(0, 0, w, ht);
  const nums = values.filter((v) => v !== null);
  const max = Math.max(1, ...nums) * 1.2;
  const pad = { l: 48, r: 8, t: 8, b: 18 };
  c.strokeStyle = '#d8dde6';
  c.fillStyle = '#6b7685';
  c.font = '11px system-ui, sans-serif';
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (ht - pad.t - pad.b) * (i / 4);
    c.beginPath(); c.moveTo(pad.l, y); c.lineTo(w - pad.r, y); c.stroke();
    c.fillText(fmt(max * (1 - i / 4)) + unit, 4, y + 4);
  }
  c.fillText(`last ${POINTS * EVERY_MS / 1000 / 60} min`, pad.l, ht - 4);
  c.strokeStyle = '#2f6fde';
  c.lineWidth = 2;
  c.beginPath();
  let started = false;
  values.forEach((v, i) => {
    if (v === null) { started = false; return; }
    const x = pad.l + (w - pad.l - pad.r) * (i / (POINTS - 1));
    const y = pad.t + (ht - pad.t - pad.b) * (1 - v / max);
    if (started) c.lineTo(x, y); else c.moveTo(x, y);
    started = true;
  });
  c.stroke();
}

function fmt(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export async function live(root) {
  const rateNow = h('strong', { id: 'rate-now' }, '…');
  const p99Now = h('strong', { id: 'p99-now' }, '…');
  const rateCanvas = h('canvas', { class: 'chart', id: 'rate-chart' });
  const p99Canvas = h('canvas', { class: 'chart', id: 'p99-chart' });
  const note = h('p', { class: 'muted' }, 'Reading /metrics every 2 s (the console\'s own reads are left out).');
  fill(root, h('h1', {}, 'Live'),
    h('div', { class: 'grid2' },
      h('div', { class: 'card' }, h('h2', {}, 'Requests per second ', rateNow), rateCanvas),
      h('div', { class: 'card' }, h('h2', {}, 'p99 latency ', p99Now), p99Canvas)),
    note);
  const rates = Array(POINTS).fill(null);
  const p99s = Array(POINTS).fill(null);
  let prev = null;
  let prevAt = 0;
  async function tick() {
    let res;
    try {
      res = await fetch('/metrics', { cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      fill(note, 'miniback could not be reached.');
    }
    if (res && !res.ok) {
      fill(note, 'This listener does not serve /metrics (see metrics.listen): ' + res.status + '.');
      return;
    }
    if (res) {
      const cur = parse(await res.text());
      const at = performance.now();
      if (prev) {
        const rate = Math.max(0, cur.count - prev.count) / ((at - prevAt) / 1000);
        const q = p99(prev, cur);
        rates.push(rate); rates.shift();
        p99s.push(q === null ? null : q * 1000); p99s.shift();
        fill(rateNow, fmt(rate) + ' /s');
        fill(p99Now, q === null ? 'no requests' : fmt(q * 1000) + ' ms');
        root.dataset.samples = String(Number(root.dataset.samples || 0) + 1);
      }
      prev = cur;
      prevAt = at;
      draw(rateCanvas, rates, '');
      draw(p99Canvas, p99s, 'ms');
    }
    if (root.isConnected) timer = setTimeout(tick, EVERY_MS);
  }
  await tick();
}
