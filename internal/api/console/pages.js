// The console's pages. Each renders into root for the selected app and
// calls only the admin API.
import { call, app, query } from './api.js';
import { h, fill, when, table, badge, toast } from './dom.js';
import { live } from './metrics.js';

function localMidnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}

function stat(label, value, note) {
  return h('div', { class: 'stat' }, h('span', { class: 'label' }, label), h('strong', {}, String(value)), note ? h('span', { class: 'note' }, note) : null);
}

async function overview(root, state) {
  const s = await call('GET', app(state.appid) + '/stats' + query({ since: localMidnight() }));
  const a = state.apps.find((x) => x.appid === state.appid) || {};
  fill(root,
    h('h1', {}, 'Overview ', h('span', { class: 'muted' }, state.appid)),
    h('div', { class: 'stats' },
      stat('Users', s.users),
      stat('Logins today', s.logins),
      stat('Pushes today', s.pushes),
      stat('WeChat token', s.token.cached ? 'cached' : 'not cached', 'fetched on first use')),
    h('div', { class: 'grid2' },
      h('div', { class: 'card' }, h('h2', {}, 'Outbound messages'),
        table([{ title: 'Status', value: (r) => badge(r[0]) }, { title: 'Count', value: (r) => String(r[1]), cls: 'num' }],
          ['queued', 'sending', 'sent', 'failed'].map((k) => [k, s.outbound[k] || 0]))),
      h('div', { class: 'card' }, h('h2', {}, 'Readiness'),
        table([{ title: 'Check', value: (r) => r[0] }, { title: 'State', value: (r) => badge(r[1]) }], Object.entries(s.ready)))),
    h('div', { class: 'card' }, h('h2', {}, 'Apps on this server'),
      table([{ title: 'AppID', value: (r) => r.appid }, { title: 'Push format', value: (r) => r.msg_format }, { title: 'Push mode', value: (r) => r.push_mode }], state.apps)),
    h('p', { class: 'muted' }, 'Counts since ' + when(s.since) + ' (this browser\'s midnight). Push format of this app: ' + (a.msg_format || '?') + '.'));
}

// pager keeps the cursor stack of a newest-first or id-ordered list.
function pager(load) {
  const stack = [''];
  const controls = h('div', { class: 'pager' });
  async function go(cursor) {
    const next = await load(cursor);
    fill(controls,
      h('button', { class: 'quiet', disabled: stack.length < 2, onclick: () => { stack.pop(); go(stack[stack.length - 1]); } }, '← Previous'),
      h('button', { class: 'quiet', disabled: !next, onclick: () => { stack.push(next); go(next); } }, 'Next →'));
  }
  return { controls, reload: () => go(stack[stack.length - 1]), first: () => { stack.length = 1; return go(''); } };
}

async function users(root, state) {
  const base = app(state.appid);
  const list = h('div', {});
  const detail = h('div', {});
  const input = h('input', { id: 'user-search', placeholder: 'openid or user id', spellcheck: 'false' });
  const p = pager(async (cursor) => {
    const page = await call('GET', base + '/users' + query({ cursor, limit: 20 }));
    renderUsers(page.users);
    return page.next_cursor;
  });
  function renderUsers(rows) {
    fill(list, table([
      { title: 'ID', value: (u) => String(u.id), cls: 'num' },
      { title: 'OpenID', value: (u) => u.openid, cls: 'mono' },
      { title: 'Nickname', value: (u) => u.nickname || '', cls: 'nickname' },
      { title: 'Phone', value: (u) => u.phone_number || '' },
      { title: 'Created', value: (u) => when(u.created_at) },
      { title: 'Last login', value: (u) => when(u.last_login_at) },
      { title: '', value: (u) => h('button', { class: 'quiet', onclick: () => sessions(u) }, 'Sessions') },
    ], rows, 'No user matches.'));
  }
  async function search(e) {
    e.preventDefault();
    const q = input.value.trim();
    fill(detail);
    if (!q) return p.first();
    if (/^[0-9]+$/.test(q)) {
      try {
        renderUsers([await call('GET', base + '/users/' + q)]);
      } catch (err) {
        if (err.status !== 404) throw err;
        renderUsers([]);
      }
    } else {
      renderUsers((await call('GET', base + '/users' + query({ openid: q }))).users);
    }
    fill(p.controls);
  }
  async function sessions(u) {
    const { sessions: list } = await call('GET', base + '/users/' + u.id + '/sessions');
    fill(detail, h('div', { class: 'card' },
      h('h2', {}, 'Sessions of user ' + u.id + ' ', h('span', { class: 'muted nickname' }, u.nickname || u.openid)),
      table([
        { title: 'Session', value: (s) => s.id, cls: 'mono' },
        { title: 'Status', value: (s) => badge(s.status) },
        { title: 'Created', value: (s) => when(s.created_at) },
        { title: 'Expires', value: (s) => when(s.expires_at) },
        { title: 'Revoked', value: (s) => when(s.revoked_at) },
        { title: '', value: (s) => s.status === 'live' ? h('button', { class: 'danger', onclick: () => revoke(u, s) }, 'Revoke') : '' },
      ], list, 'No sessions.')));
  }
  async function revoke(u, s) {
    if (!confirm('Revoke session ' + s.id + '? The user is signed out at once.')) return;
    await call('DELETE', base + '/sessions/' + encodeURIComponent(s.id));
    toast('Session revoked');
    await sessions(u);
  }
  fill(root, h('h1', {}, 'Users'),
    h('form', { class: 'row', onsubmit: (e) => search(e).catch((err) => toast(err.message, true)) }, input, h('button', { type: 'submit' }, 'Find')),
    list, p.controls, detail);
  await p.first();
}

const MSG_TYPES = ['', 'text', 'image', 'voice', 'video', 'location', 'link', 'miniprogrampage', 'event'];

function select(id, options, value) {
  return h('select', { id }, options.map((o) => h('option', { value: o, selected: o === value }, o || 'all')));
}

async function inbox(root, state) {
  const base = app(state.appid);
  const type = select('inbox-type', MSG_TYPES, '');
  const status = select('inbox-status', ['', 'received', 'handled', 'failed'], '');
  const list = h('div', {});
  const p = pager(async (cursor) => {
    const page = await call('GET', base + '/inbox' + query({ msg_type: type.value, status: status.value, cursor, limit: 20 }));
    fill(list, table([
      { title: 'ID', value: (m) => String(m.id), cls: 'num' },
      { title: 'Type', value: (m) => m.msg_type + (m.event ? ' / ' + m.event : '') },
      { title: 'From', value: (m) => m.from_user || '', cls: 'mono' },
      { title: 'Status', value: (m) => badge(m.status) },
      { title: 'Received', value: (m) => when(m.received_at) },
      { title: 'Message', value: (m) => h('details', {}, h('summary', {}, summary(m)), h('pre', { class: 'json' }, JSON.stringify(m.message, null, 2)), m.error ? h('p', { class: 'error' }, m.error) : null) },
    ], page.messages, 'No pushes match.'));
    return page.next_cursor;
  });
  type.addEventListener('change', () => p.first());
  status.addEventListener('change', () => p.first());
  fill(root, h('h1', {}, 'Inbox'), h('div', { class: 'row' }, h('label', {}, 'Type ', type), h('label', {}, 'Status ', status)), list, p.controls);
  await p.first();
}

function summary(m) {
  const c = m.message && (m.message.Content || m.message.Event || m.message.MsgType);
  return c ? String(c).slice(0, 60) : 'JSON';
}

const TEMPLATE_DATA = '{\n  "thing1": {"value": "Order shipped"},\n  "number2": {"value": "42"},\n  "date3": {"value": "2026年12月1日"},\n  "phrase4": {"value": "已发货"}\n}';

async function messages(root, state) {
  const base = app(state.appid);
  const status = select('messages-status', ['', 'queued', 'sending', 'sent', 'failed'], '');
  const list = h('div', {});
  let timer;
  const p = pager(async (cursor) => {
    const page = await call('GET', base + '/messages' + query({ status: status.value, cursor, limit: 20 }));
    fill(list, table([
      { title: 'ID', value: (m) => m.id, cls: 'mono' },
      { title: 'Kind', value: (m) => m.kind },
      { title: 'OpenID', value: (m) => m.openid, cls: 'mono' },
      { title: 'Status', value: (m) => badge(m.status) },
      { title: 'Attempts', value: (m) => String(m.attempts), cls: 'num' },
      { title: 'Errcode', value: (m) => m.wechat_errcode ? String(m.wechat_errcode) : '', cls: 'num' },
      { title: 'Error', value: (m) => m.error || '' },
      { title: 'Created', value: (m) => when(m.created_at) },
      { title: 'Sent', value: (m) => when(m.sent_at) },
    ], page.messages, 'No messages match.'));
    // Follow messages on their way out until they are final.
    clearTimeout(timer);
    if (page.messages.some((m) => m.status === 'queued' || m.status === 'sending') && root.isConnected) {
      timer = setTimeout(() => p.reload().catch(() => {}), 1000);
    }
    return page.next_cursor;
  });
  status.addEventListener('change', () => p.first());

  const kind = select('send-kind', ['subscribe', 'customer'], 'subscribe');
  const to = h('input', { id: 'send-to', placeholder: 'openid or user id', required: true, spellcheck: 'false' });
  const template = h('input', { id: 'send-template', placeholder: 'template_id', spellcheck: 'false' });
  const page = h('input', { id: 'send-page', placeholder: 'page (optional)', value: 'pages/index/index' });
  const data = h('textarea', { id: 'send-data', rows: 5, spellcheck: 'false' }, TEMPLATE_DATA);
  const text = h('textarea', { id: 'send-text', rows: 3, placeholder: 'message text' });
  const subFields = h('div', { class: 'fields' }, h('label', {}, 'Template ', template), h('label', {}, 'Page ', page), h('label', {}, 'Data (JSON) ', data));
  const csFields = h('div', { class: 'fields', hidden: true }, h('label', {}, 'Text ', text));
  kind.addEventListener('change', () => { subFields.hidden = kind.value !== 'subscribe'; csFields.hidden = kind.value === 'subscribe'; });

  async function send(e) {
    e.preventDefault();
    const target = to.value.trim();
    const body = /^[0-9]+$/.test(target) ? { user_id: Number(target) } : { openid: target };
    if (kind.value === 'subscribe') {
      let parsed;
      try { parsed = JSON.parse(data.value); } catch (err) { return toast('Data is not valid JSON', true); }
      Object.assign(body, { template_id: template.value.trim(), page: page.value.trim() || undefined, data: parsed });
    } else {
      Object.assign(body, { msgtype: 'text', text: { content: text.value } });
    }
    try {
      const m = await call('POST', base + '/messages/' + kind.value, body);
      toast('Message ' + m.id + ' queued');
      status.value = '';
      await p.first();
    } catch (err) {
      toast(err.message, true);
    }
  }

  fill(root, h('h1', {}, 'Outbound messages'),
    h('form', { class: 'card send', id: 'send-form', onsubmit: send },
      h('h2', {}, 'Send a message'),
      h('div', { class: 'fields' }, h('label', {}, 'Kind ', kind), h('label', {}, 'To ', to)),
      subFields, csFields, h('button', { type: 'submit' }, 'Send')),
    h('div', { class: 'row' }, h('label', {}, 'Status ', status)), list, p.controls);
  await p.first();
}

function yuan(fen) {
  return '¥' + (Number(fen || 0) / 100).toFixed(2);
}

async function orders(root, state) {
  const base = app(state.appid) + '/pay';
  const status = select('orders-status', ['', 'created', 'paying', 'paid', 'closed', 'refunded'], '');
  const list = h('div', {});
  const p = pager(async (cursor) => {
    const page = await call('GET', base + '/orders' + query({ status: status.value, cursor, limit: 20 }));
    fill(list, table([
      { title: 'Order', value: (o) => o.out_trade_no, cls: 'mono' },
      { title: 'User', value: (o) => String(o.user_id), cls: 'num' },
      { title: 'Description', value: (o) => o.description },
      { title: 'Amount', value: (o) => yuan(o.amount.total), cls: 'num' },
      { title: 'Status', value: (o) => badge(o.status) },
      { title: 'Refunded', value: (o) => o.refunded ? yuan(o.refunded) : '', cls: 'num' },
      { title: 'Paid', value: (o) => when(o.paid_at) },
      { title: 'Created', value: (o) => when(o.created_at) },
      { title: '', value: (o) => o.status === 'paid' ? refundForm(o) : '' },
    ], page.orders, 'No orders match.'));
    return page.next_cursor;
  });
  function refundForm(o) {
    const left = o.amount.total - (o.refunded || 0);
    const amount = h('input', { class: 'amount', type: 'number', min: 1, max: left, value: left, 'aria-label': 'refund amount in fen' });
    return h('form', { class: 'refund', onsubmit: async (e) => {
      e.preventDefault();
      const fen = Number(amount.value);
      if (!confirm('Refund ' + yuan(fen) + ' of order ' + o.out_trade_no + '? Money goes back to the user.')) return;
      try {
        const r = await call('POST', base + '/orders/' + encodeURIComponent(o.out_trade_no) + '/refunds', { amount: fen });
        toast('Refund ' + r.out_refund_no + ' is ' + r.status);
        await p.reload();
      } catch (err) {
        toast(err.message, true);
      }
    } }, amount, h('span', { class: 'muted' }, ' fen '), h('button', { type: 'submit', class: 'danger' }, 'Refund'));
  }
  status.addEventListener('change', () => p.first());
  fill(root, h('h1', {}, 'Orders'), h('div', { class: 'row' }, h('label', {}, 'Status ', status)), list, p.controls);
  try {
    await p.first();
  } catch (err) {
    if (err.status !== 404) throw err;
    fill(root, h('h1', {}, 'Orders'), h('p', { class: 'muted' }, 'WeChat Pay is not enabled for this server (no pay block in the apps\' configuration).'));
  }
}

export const pages = { overview, users, inbox, messages, orders, metrics: live };
