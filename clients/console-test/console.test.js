// The admin console in a real browser: Playwright driving Debian's
// Chromium against the real miniback binary in sandbox mode. One browser,
// one page, the steps in order; a screenshot of every page goes to .ci/out/.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const h = require('../weapp/test/harness');

const OUT = path.resolve(__dirname, '../../.ci/out');
const XSS = '<img src=x onerror=alert(1)>';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let server, context, page, userDir;
const dialogs = [];
const consoleErrors = [];
const requests = [];
const fixture = {};

async function apiLogin(user) {
  const code = await h.postJSON(server.base + '/sandbox/login', { appid: h.APPID, user });
  const login = await h.postJSON(`${server.base}/api/v1/${h.APPID}/login`, { code: code.body.code });
  assert.equal(login.status, 200);
  return login.body;
}

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  server = await h.startServer();
  // A user whose nickname is markup, and a push in the inbox.
  const alice = await apiLogin('console-alice');
  const patch = await fetch(`${server.base}/api/v1/${h.APPID}/me`, {
    method: 'PATCH', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + alice.access_token },
    body: JSON.stringify({ nickname: XSS }),
  });
  assert.equal(patch.status, 200);
  fixture.alice = alice;
  fixture.bob = await apiLogin('console-bob');
  const push = await h.postJSON(server.base + '/sandbox/push', { appid: h.APPID, message: {
    ToUserName: 'gh_console', FromUserName: alice.user.openid, CreateTime: Math.floor(Date.now() / 1000),
    MsgType: 'text', Content: 'where is my parcel?', MsgId: 424242 } });
  assert.equal(push.body.status, 200);

  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniback-console-chromium-'));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.type() + ': ' + d.message());
    if (d.type() === 'confirm') d.accept(); else d.dismiss();
  });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('request', (r) => requests.push(r.method() + ' ' + new URL(r.url()).pathname));
});

after(async () => {
  if (context) await context.close();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  if (server) await server.stop();
});

function shot(name) {
  return page.screenshot({ path: path.join(OUT, `console-${name}.png`), fullPage: true });
}

// apiCalls are the requests that are not the console's own files.
const apiCalls = () => requests.filter((r) => !/^GET \/console\//.test(r));

test('console', async (top) => {
  // t.test with a screenshot of the page when a step fails.
  const t = {
    test: (name, fn) => top.test(name, async (st) => {
      try {
        await fn(st);
      } catch (err) {
        await shot('failed-' + name.replace(/\W+/g, '-').slice(0, 40)).catch(() => {});
        throw err;
      }
    }),
  };
  await t.test('a wrong key shows a clear error and calls nothing else', async () => {
    await page.goto(server.base + '/console/');
    await page.fill('#key', 'not-the-admin-key-0123456789');
    await page.click('#signin-form button[type=submit]');
    const err = page.locator('#signin-error');
    await err.waitFor({ state: 'visible' });
    assert.match(await err.textContent(), /admin key was refused/);
    assert.deepEqual(apiCalls(), ['GET /admin/v1/apps']);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused key is not kept');
    assert.ok(await page.locator('#nav').isHidden());
    await shot('signin-error');
  });

  await t.test('sign in: the overview counts users, logins and pushes', async () => {
    await page.fill('#key', h.ADMIN_KEY);
    await page.click('#signin-form button[type=submit]');
    await page.locator('.stats').waitFor();
    const stats = await page.locator('.stat strong').allTextContents();
    assert.deepEqual(stats.slice(0, 3), ['2', '2', '1']);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('miniback.adminKey')), h.ADMIN_KEY);
    assert.deepEqual(await context.cookies(), [], 'nothing in cookies');
    await shot('overview');
  });

  await t.test('users: pages of 20, and a user found by id', async () => {
    for (let i = 0; i < 20; i++) await apiLogin('console-crowd-' + i);
    await page.click('#nav a[data-page=users]');
    await page.locator('#user-search').waitFor();
    const ids = () => page.locator('tbody tr td.num').allTextContents();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 20);
    assert.equal((await ids())[0], String(fixture.alice.user.id));
    const prev = page.locator('.pager button', { hasText: 'Previous' });
    const next = page.locator('.pager button', { hasText: 'Next' });
    assert.ok(await prev.isDisabled());
    await next.click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 2);
    assert.ok(await next.isDisabled(), 'the last page has no next');
    await prev.click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 20);
    await page.fill('#user-search', String(fixture.bob.user.id));
    await page.click('form.row button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    assert.deepEqual(await ids(), [String(fixture.bob.user.id)]);
    // An unknown id is the admin API's 404, which Chromium logs; the page
    // shows no match. That one logged 404 is expected, not a script error.
    await page.fill('#user-search', '999999');
    const logged = page.waitForEvent('console', (m) => /status of 404/.test(m.text()));
    await page.click('form.row button[type=submit]');
    await page.locator('p.empty', { hasText: 'No user matches.' }).waitFor();
    const notFound = (await logged).text();
    const at = consoleErrors.indexOf(notFound);
    assert.ok(at >= 0, 'the 404 was recorded');
    consoleErrors.splice(at, 1);
  });

  await t.test('find a user by openid; the nickname is text, not markup', async () => {
    await page.fill('#user-search', fixture.alice.user.openid);
    await page.click('form.row button[type=submit]');
    const nick = page.locator('td.nickname');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    assert.equal(await nick.textContent(), XSS);
    assert.equal(await page.locator('img').count(), 0, 'no img element was made');
    await page.waitForTimeout(200);
    assert.deepEqual(dialogs, [], 'no alert ran');
    await shot('users');
  });

  await t.test('revoke the session: the user\'s next call is 401', async () => {
    const before = await fetch(`${server.base}/api/v1/${h.APPID}/me`, { headers: { Authorization: 'Bearer ' + fixture.alice.access_token } });
    assert.equal(before.status, 200);
    await page.click('tbody tr button:has-text("Sessions")');
    await page.locator('button.danger:has-text("Revoke")').click();
    await page.locator('.badge.revoked').waitFor();
    assert.equal(dialogs.length, 1);
    assert.match(dialogs[0], /^confirm: Revoke session/);
    const res = await fetch(`${server.base}/api/v1/${h.APPID}/me`, { headers: { Authorization: 'Bearer ' + fixture.alice.access_token } });
    assert.equal(res.status, 401);
    await shot('sessions');
  });

  await t.test('send a subscribe message and see it sent', async () => {
    await page.click('#nav a[data-page=messages]');
    await page.locator('#send-form').waitFor();
    await page.fill('#send-to', String(fixture.alice.user.id));
    await page.fill('#send-template', 'VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc');
    await page.click('#send-form button[type=submit]');
    await page.locator('tbody .badge.sent').waitFor({ timeout: 15000 });
    const sent = await (await fetch(`${server.base}/sandbox/sent?appid=${h.APPID}&openid=${fixture.alice.user.openid}`)).json();
    assert.equal(sent.messages.length, 1, 'WeChat received it');
    await shot('messages');
  });

  await t.test('find the push in the inbox and read its JSON', async () => {
    await page.click('#nav a[data-page=inbox]');
    await page.locator('#inbox-type').waitFor();
    await page.selectOption('#inbox-type', 'text');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    await page.click('tbody details summary');
    const json = JSON.parse(await page.locator('pre.json').textContent());
    assert.equal(json.Content, 'where is my parcel?');
    await page.selectOption('#inbox-type', 'event');
    await page.locator('p.empty').waitFor();
    await page.selectOption('#inbox-type', 'text');
    await page.locator('pre.json').waitFor({ state: 'attached' });
    await page.click('tbody details summary');
    await shot('inbox');
  });

  await t.test('orders: a paid order is refunded after a confirmation', async () => {
    const admin = { Authorization: 'Bearer ' + h.ADMIN_KEY };
    const created = await h.postJSON(`${server.base}/admin/v1/${h.APPID}/pay/orders`,
      { user_id: fixture.bob.user.id, description: 'Green tea <b>', amount: { total: 300 } }, admin);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const no = created.body.out_trade_no;
    const prepay = await h.postJSON(`${server.base}/api/v1/${h.APPID}/pay/orders/${no}/pay`, {}, { Authorization: 'Bearer ' + fixture.bob.access_token });
    assert.equal(prepay.status, 200, JSON.stringify(prepay.body));
    const confirm = await h.postJSON(server.base + '/sandbox/pay/confirm', { appid: h.APPID, out_trade_no: no, result: 'SUCCESS' });
    assert.equal(confirm.status, 200, JSON.stringify(confirm.body));
    for (let i = 0; i < 100; i++) {
      const o = await (await fetch(`${server.base}/admin/v1/${h.APPID}/pay/orders/${no}`, { headers: admin })).json();
      if (o.status === 'paid') break;
      await new Promise((r) => setTimeout(r, 100));
    }

    await page.click('#nav a[data-page=orders]');
    const row = page.locator('tbody tr', { hasText: no });
    await row.locator('.badge.paid').waitFor();
    assert.match(await row.textContent(), /Green tea <b>/);
    await row.locator('input.amount').fill('120');
    const before = dialogs.length;
    await row.locator('button:has-text("Refund")').click();
    const toastText = await page.locator('#toast', { hasText: 'Refund' }).textContent();
    assert.match(dialogs[before], /^confirm: Refund ¥1\.20 of order/);
    const [, refundNo, refundStatus] = /^Refund (\S+) is (\w+)$/.exec(toastText);
    assert.equal(refundStatus, 'processing');
    // WeChat Pay settles the refund; the order shows what was refunded.
    const settle = await h.postJSON(server.base + '/sandbox/pay/refund-result', { appid: h.APPID, out_refund_no: refundNo, status: 'SUCCESS' });
    assert.equal(settle.status, 200, JSON.stringify(settle.body));
    for (let i = 0; i < 100; i++) {
      const r = await (await fetch(`${server.base}/admin/v1/${h.APPID}/pay/refunds/${refundNo}`, { headers: admin })).json();
      if (r.status === 'succeeded') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    await page.selectOption('#orders-status', 'paid');
    await page.locator('tbody tr', { hasText: no }).locator('td', { hasText: '¥1.20' }).waitFor();
    await shot('orders');
  });

  await t.test('the live page draws request rate and p99', async () => {
    await page.click('#nav a[data-page=metrics]');
    await page.waitForFunction(() => Number(document.getElementById('page').dataset.samples || 0) >= 1, null, { timeout: 15000 });
    // Traffic between two reads shows as a rate and a p99.
    await Promise.all(Array.from({ length: 40 }, () => fetch(server.base + '/healthz')));
    await page.waitForFunction(() => Number(document.getElementById('page').dataset.samples || 0) >= 2, null, { timeout: 15000 });
    const rate = await page.locator('#rate-now').textContent();
    assert.match(rate, /^[0-9.]+ \/s$/);
    assert.ok(Number(rate.split(' ')[0]) > 0, 'rate ' + rate);
    assert.match(await page.locator('#p99-now').textContent(), /^[0-9.]+ ms$/);
    await shot('live');
  });

  await t.test('sign out forgets the key', async () => {
    await page.click('#signout');
    await page.locator('#signin').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.reload();
    await page.locator('#signin').waitFor();
    assert.ok(await page.locator('#page').isHidden());
  });

  await t.test('every call went to the admin API or /metrics: no private API', () => {
    const calls = apiCalls();
    assert.ok(calls.length > 10, calls.join(', '));
    assert.deepEqual(calls.filter((r) => !/^[A-Z]+ \/admin\/v1\//.test(r) && r !== 'GET /metrics'), []);
  });

  await t.test('no script error and no CSP violation on any page', () => {
    assert.deepEqual(consoleErrors.filter((e) => !/status of 401/.test(e)), []);
  });
});
