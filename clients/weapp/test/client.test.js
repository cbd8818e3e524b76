// The client against the real miniback binary in sandbox mode, through a
// wx shim: what a mini program does, end to end.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createClient, MinibackError } = require('..');
const h = require('./harness');

let server;
before(async () => { server = await h.startServer(); });
after(() => server && server.stop());

let users = 0;
// newClient returns a client of a fresh sandbox user, its wx shim, and the
// sessions it lost.
function newClient(extra) {
  const wx = h.createWx(server.base, h.APPID, 'weapp-user-' + process.pid + '-' + ++users);
  const lost = [];
  const client = createClient(Object.assign({ baseURL: server.base, appid: h.APPID, wx, onSessionLost: (e) => lost.push(e) }, extra));
  return { wx, client, lost };
}

test('login stores the tokens and every request carries them', async () => {
  const { wx, client } = newClient();
  const ans = await client.login();
  assert.equal(ans.token_type, 'Bearer');
  assert.match(ans.user.openid, /./);
  const s = h.stored(wx, h.APPID);
  assert.equal(s.access, ans.access_token);
  assert.equal(s.refresh, ans.refresh_token);
  const me = await client.me();
  assert.equal(me.id, ans.user.id);
  assert.equal(client.user.id, ans.user.id);
  assert.deepEqual([wx.counts.login, wx.counts.refresh], [1, 0]);
});

test('the first request logs in by itself', async () => {
  const { wx, client } = newClient();
  const [a, b] = await Promise.all([client.me(), client.me()]);
  assert.equal(a.id, b.id);
  assert.equal(wx.counts.login, 1, 'concurrent first requests share one wx.login');
});

test('20 concurrent requests on an expired token: exactly one refresh', async () => {
  const { wx, client } = newClient();
  const ans = await client.login();
  const s = h.stored(wx, h.APPID);
  s.access = await h.expiredLike(server, s.access); // the client still believes it is fresh
  h.restore(wx, h.APPID, s);
  const refresh0 = s.refresh;

  const all = await Promise.all(Array.from({ length: 20 }, () => client.request({ url: '/me' })));
  for (const res of all) {
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.id, ans.user.id);
  }
  assert.equal(wx.counts.refresh, 1, 'one refresh for 20 requests');
  assert.equal(wx.counts.login, 1, 'no new login');
  assert.equal(wx.counts.status401, 20, 'each request got its 401 once and was retried once');
  const after = h.stored(wx, h.APPID);
  assert.notEqual(after.refresh, refresh0, 'the refresh token rotated');
  // The session is alive: rotation did not see a reuse.
  assert.equal((await client.me()).id, ans.user.id);
  assert.equal(wx.counts.refresh, 1);
});

test('a 401 for a token already replaced is retried with the new one, not refreshed again', async () => {
  const { wx, client } = newClient();
  await client.login();
  const s = h.stored(wx, h.APPID);
  s.access = await h.expiredLike(server, s.access);
  h.restore(wx, h.APPID, s);
  // late goes out with the expired token but is answered after early's
  // refresh has finished.
  const late = client.request({ url: '/me', header: { 'X-Test-Delay': '300' } });
  const early = await client.request({ url: '/me' });
  assert.equal(early.statusCode, 200);
  assert.equal(wx.counts.refresh, 1);
  assert.equal((await late).statusCode, 200);
  assert.equal(wx.counts.refresh, 1, 'the late 401 used the token early got');
  assert.equal(wx.counts.status401, 2);
});

test('a request refused again after its retry rejects: one refresh, one retry, no loop', async () => {
  const { wx, client, lost } = newClient();
  await client.login();
  const before = h.stored(wx, h.APPID);
  // The admin API refuses a user's access token whatever it is: every
  // attempt is a 401 from the real server.
  const e = await client.request({ url: `${server.base}/admin/v1/apps` }).then(() => null, (err) => err);
  assert.ok(e instanceof MinibackError);
  assert.equal(e.code, 'unauthorized');
  assert.equal(e.status, 401);
  assert.equal(wx.counts.status401, 2, 'the request and its one retry');
  assert.equal(wx.counts.refresh, 1, 'one refresh between them');
  assert.equal(wx.counts.login, 1, 'the refresh worked: no new login');
  assert.equal(lost.length, 0);
  assert.notEqual(h.stored(wx, h.APPID).access, before.access, 'the session lives on, refreshed');
  assert.equal((await client.me()).id, before.user.id);
});

test('a token close to expiry is refreshed before the request', async () => {
  const { wx, client } = newClient();
  await client.login();
  const s = h.stored(wx, h.APPID);
  s.exp = Date.now() + 10000; // within the 30 s refresh-ahead window of a 120 s token
  h.restore(wx, h.APPID, s);
  await Promise.all([client.me(), client.me(), client.me()]);
  assert.equal(wx.counts.refresh, 1);
  assert.equal(wx.counts.status401, 0, 'no request was sent with the old token and refused');
});

test('a refused refresh token: one new wx.login, and the request succeeds', async () => {
  const { wx, client, lost } = newClient();
  const first = await client.login();
  const s = h.stored(wx, h.APPID);
  // Someone else used the refresh token: presenting it again revokes the session.
  const stolen = await h.postJSON(`${server.base}/api/v1/${h.APPID}/token/refresh`, { refresh_token: s.refresh });
  assert.equal(stolen.status, 200);
  s.access = await h.expiredLike(server, s.access);
  h.restore(wx, h.APPID, s);

  const results = await Promise.all(Array.from({ length: 5 }, () => client.me()));
  for (const me of results) assert.equal(me.id, first.user.id);
  assert.equal(wx.counts.refresh, 1);
  assert.equal(wx.counts.login, 2, 'exactly one new wx.login');
  assert.equal(lost.length, 0);
  assert.notEqual(h.stored(wx, h.APPID).refresh, s.refresh);
});

test('when the new login fails too, onSessionLost is called once and the request rejects', async () => {
  const { wx, client, lost } = newClient();
  await client.login();
  const s = h.stored(wx, h.APPID);
  await h.postJSON(`${server.base}/api/v1/${h.APPID}/logout`, {}, { Authorization: 'Bearer ' + s.access });
  s.access = await h.expiredLike(server, s.access);
  h.restore(wx, h.APPID, s);
  wx.loginCode = 'a-code-wechat-never-gave';

  const errs = await Promise.all(Array.from({ length: 3 }, () => client.me().then(() => null, (e) => e)));
  for (const e of errs) {
    assert.ok(e instanceof MinibackError);
    assert.equal(e.code, 'invalid_code');
    assert.equal(e.status, 400);
  }
  assert.equal(lost.length, 1);
  assert.equal(lost[0].code, 'invalid_code');
  assert.equal(wx.counts.login, 2);
  assert.equal(h.stored(wx, h.APPID), null, 'the dead tokens are forgotten');
});

test('bindPhone with the phone-number button code', async () => {
  const { client } = newClient();
  const { user } = await client.login();
  const code = await h.postJSON(server.base + '/sandbox/phone-code', { appid: h.APPID, openid: user.openid, phone_number: '+86 13800138000' });
  assert.equal(code.status, 200);
  const phone = await client.bindPhone(code.body.code);
  assert.equal(phone.pure_phone_number, '13800138000');
  assert.equal(phone.country_code, '86');
  assert.equal((await client.me()).phone_number, phone.phone_number);
  const again = await client.bindPhone(code.body.code).then(() => null, (e) => e);
  assert.equal(again.code, 'invalid_code', 'a used code is refused');
  assert.ok(again.wechatErrcode > 0);
});

test('updateProfile posts (wx.request has no PATCH)', async () => {
  const { client } = newClient();
  const u = await client.updateProfile({ nickname: '小明 <b>', avatarUrl: 'https://example.com/a.png' });
  assert.equal(u.nickname, '小明 <b>');
  assert.equal(u.avatar_url, 'https://example.com/a.png');
  assert.equal((await client.me()).nickname, '小明 <b>');
});

test('logout revokes the session and forgets the tokens', async () => {
  const { wx, client } = newClient();
  await client.login();
  const token = h.stored(wx, h.APPID).access;
  await client.logout();
  assert.equal(h.stored(wx, h.APPID), null);
  const res = await fetch(`${server.base}/api/v1/${h.APPID}/me`, { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res.status, 401);
  await client.logout(); // nothing to do
});

test('logout with an expired access token still revokes the session', async () => {
  const { wx, client } = newClient();
  await client.login();
  const s = h.stored(wx, h.APPID);
  s.access = await h.expiredLike(server, s.access);
  h.restore(wx, h.APPID, s);
  await client.logout();
  assert.equal(h.stored(wx, h.APPID), null);
  const after = await h.postJSON(`${server.base}/api/v1/${h.APPID}/token/refresh`, { refresh_token: s.refresh });
  assert.equal(after.status, 401, 'the old refresh token is dead');
  assert.equal(wx.counts.login, 1, 'logout never logs in');
});

test('a failing wx.login rejects with wx_login_failed', async () => {
  const { wx, client, lost } = newClient();
  wx.loginFails = true;
  const e = await client.me().then(() => null, (err) => err);
  assert.ok(e instanceof MinibackError);
  assert.equal(e.code, 'wx_login_failed');
  assert.match(e.message, /login:fail/);
  assert.equal(lost.length, 0, 'no session was lost: there was none');
});

test('storage may be Web Storage shaped, and holds only the client\'s key', async () => {
  const items = new Map();
  const storage = { getItem: (k) => items.get(k) || null, setItem: (k, v) => items.set(k, v), removeItem: (k) => items.delete(k) };
  const { wx, client } = newClient({ storage });
  await client.me();
  assert.deepEqual([...items.keys()], ['miniback:' + h.APPID]);
  assert.equal(h.stored(wx, h.APPID), null, 'wx storage untouched');
  await client.logout();
  assert.equal(items.size, 0);
});

test('an error JSON rejects with its code, status and message', async () => {
  const { client } = newClient();
  const e = await client.updateProfile({ nickname: 'x'.repeat(1000) }).then(() => null, (err) => err);
  assert.ok(e instanceof MinibackError);
  assert.equal(e.code, 'invalid_request');
  assert.equal(e.status, 400);
  assert.match(e.message, /nickname/);
  const other = createClient({ baseURL: server.base, appid: 'wx0000000000000000', wx: h.createWx(server.base, 'wx0000000000000000', 'x') });
  const e2 = await other.request({ url: '/healthz', auth: false }).then(() => null, (err) => err);
  assert.equal(e2.code, 'not_found');
});

test('a network failure, a non-JSON answer and an error JSON have distinct codes', async (t) => {
  // A port nobody listens on: no answer at all.
  const closed = http.createServer();
  await new Promise((r) => closed.listen(0, '127.0.0.1', r));
  const deadBase = 'http://127.0.0.1:' + closed.address().port;
  await new Promise((r) => closed.close(r));
  const dead = createClient({ baseURL: deadBase, appid: h.APPID, wx: h.createWx(server.base, h.APPID, 'net') });
  const netErr = await dead.request({ url: '/me', auth: false }).then(() => null, (e) => e);

  // A proxy in front of miniback answering an HTML error page.
  const proxy = http.createServer((req, res) => { res.writeHead(502, { 'Content-Type': 'text/html' }); res.end('<html>Bad Gateway</html>'); });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => proxy.close());
  const viaProxy = createClient({ baseURL: 'http://127.0.0.1:' + proxy.address().port, appid: h.APPID, wx: h.createWx(server.base, h.APPID, 'proxy') });
  const htmlErr = await viaProxy.request({ url: '/me', auth: false }).then(() => null, (e) => e);

  const { client } = newClient();
  const jsonErr = await client.request({ url: '/no/such/route' }).then(() => null, (e) => e);

  assert.deepEqual([netErr.code, htmlErr.code, jsonErr.code], ['network_error', 'bad_response', 'not_found']);
  assert.deepEqual([netErr.status, htmlErr.status, jsonErr.status], [0, 502, 404]);
  for (const e of [netErr, htmlErr, jsonErr]) assert.ok(e instanceof MinibackError && e instanceof Error);
});

test('the access token is never sent to another origin', async () => {
  const { wx, client } = newClient();
  const e = await client.request({ url: 'https://elsewhere.example/collect' }).then(() => null, (err) => err);
  assert.equal(e.code, 'foreign_url');
  assert.equal(wx.counts.requests, 0);
  assert.equal(wx.counts.login, 0);
});

test('absolute URLs under baseURL get the token', async () => {
  const { client } = newClient();
  const res = await client.request({ url: `${server.base}/api/v1/${h.APPID}/me` });
  assert.equal(res.statusCode, 200);
  assert.ok(res.data.openid);
});
