// The test harness: the real miniback binary in sandbox mode on a random
// loopback port, a wx shim over it, and an expired access token minted with
// the server's own signing key.
'use strict';
const { spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const APPID = 'wx8d0e5a6b4c3f2a10'; // the demo app of sandbox mode
const ADMIN_KEY = 'weapp-test-admin-key-0123456789';
const repo = path.resolve(__dirname, '../../..');

// binary returns MINIBACK_BIN, or builds the binary once into a temp dir.
function binary() {
  if (process.env.MINIBACK_BIN) return process.env.MINIBACK_BIN;
  const out = path.join(os.tmpdir(), 'miniback-weapp-test-bin');
  execFileSync('go', ['build', '-o', out, './cmd/miniback'], { cwd: repo, stdio: 'inherit' });
  return out;
}

// startServer runs `miniback serve` in sandbox mode with a fresh data dir,
// listening on 127.0.0.1:0; it resolves once the server names its address.
function startServer(t, extraEnv) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniback-weapp-'));
  const env = Object.assign({
    PATH: process.env.PATH,
    HOME: process.env.HOME || os.tmpdir(),
    MINIBACK_LISTEN: '127.0.0.1:0',
    MINIBACK_DATA_DIR: dataDir,
    MINIBACK_DATABASE_URL: 'sqlite://' + path.join(dataDir, 'miniback.db'),
    MINIBACK_ADMIN_API_KEYS: ADMIN_KEY,
    MINIBACK_AUTH_ACCESS_TTL: '120s',
    MINIBACK_AUTH_REFRESH_TTL: '1h',
  }, extraEnv);
  const child = spawn(binary(), ['serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
      .then(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  };
  if (t) t.after(stop);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('miniback did not start:\n' + logs)), 20000);
    child.stderr.on('data', (chunk) => {
      logs += chunk;
      const m = /"msg":"listening","addr":"([^"]+)"/.exec(logs);
      if (m) {
        clearTimeout(timer);
        resolve({ base: 'http://' + m[1], dataDir, stop, logs: () => logs });
      }
    });
    child.once('exit', (code) => reject(new Error('miniback exited ' + code + ':\n' + logs)));
  });
}

async function postJSON(url, body, headers) {
  const res = await fetch(url, { method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, headers), body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const WX_METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'];

// createWx is a shim of the mini program's wx: login through the sandbox's
// /sandbox/login, request through fetch with wx.request's conversions (GET
// data becomes the query, no PATCH, a body that is not JSON stays a
// string), storage in memory. It counts what the client did.
function createWx(base, appid, user) {
  const counts = { login: 0, refresh: 0, requests: 0, status401: 0 };
  const storage = new Map();
  const wx = {
    counts,
    loginCode: null, // when set, wx.login hands out this code instead of a real one
    loginFails: false, // when set, wx.login calls fail as without a network
    login({ success, fail }) {
      counts.login++;
      if (wx.loginFails) return setImmediate(() => fail({ errMsg: 'login:fail network' }));
      if (wx.loginCode) return setImmediate(() => success({ code: wx.loginCode, errMsg: 'login:ok' }));
      postJSON(base + '/sandbox/login', { appid, user }).then(
        (r) => (r.body && r.body.code ? success({ code: r.body.code, errMsg: 'login:ok' }) : fail({ errMsg: 'login:fail ' + r.status })),
        (e) => fail({ errMsg: 'login:fail ' + e.message }));
    },
    request(o) {
      counts.requests++;
      const method = o.method || 'GET';
      if (!WX_METHODS.includes(method)) return setImmediate(() => o.fail({ errMsg: 'request:fail method ' + method }));
      let url = o.url;
      let body;
      if (o.data !== undefined) {
        if (method === 'GET') {
          url += (url.includes('?') ? '&' : '?') + new URLSearchParams(o.data).toString();
        } else {
          body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
        }
      }
      if (url.endsWith('/token/refresh')) counts.refresh++;
      const paying = /\/pay\/orders\/([^/?]+)\/pay$/.exec(url);
      if (paying) wx.payingOrder = decodeURIComponent(paying[1]);
      // X-Test-Delay holds a request back before it goes out (its headers,
      // token included, are already set), so its answer arrives late.
      const delay = Number((o.header && o.header['X-Test-Delay']) || 0);
      new Promise((r) => setTimeout(r, delay)).then(() => fetch(url, { method, headers: o.header, body }).then(async (res) => {
        const text = await res.text();
        let data = text;
        if (o.dataType === 'json') {
          try { data = JSON.parse(text); } catch (e) { /* wx keeps the string */ }
        }
        if (res.status === 401) counts.status401++;
        o.success({ statusCode: res.status, data, header: Object.fromEntries(res.headers), errMsg: 'request:ok' });
      }, (e) => o.fail({ errMsg: 'request:fail ' + e.message })));
    },
    // requestPayment: the user confirms the order the mini program just asked
    // to pay, through the sandbox's /sandbox/pay/confirm; payCancel makes the
    // user close the payment sheet instead, payFail makes the payment fail
    // with that errMsg, and payUnconfirmed reports success while WeChat Pay
    // never learns of a payment.
    payCancel: false,
    payFail: '',
    payUnconfirmed: false,
    requestPayment(o) {
      counts.pay = (counts.pay || 0) + 1;
      for (const k of ['timeStamp', 'nonceStr', 'package', 'signType', 'paySign']) {
        if (!o[k]) return setImmediate(() => o.fail({ errMsg: 'requestPayment:fail missing ' + k }));
      }
      if (wx.payCancel) return setImmediate(() => o.fail({ errMsg: 'requestPayment:fail cancel' }));
      if (wx.payFail) return setImmediate(() => o.fail({ errMsg: wx.payFail }));
      if (wx.payUnconfirmed) return setImmediate(() => o.success({ errMsg: 'requestPayment:ok' }));
      postJSON(base + '/sandbox/pay/confirm', { appid, out_trade_no: wx.payingOrder, result: 'SUCCESS' }).then(
        (r) => (r.status === 200 ? o.success({ errMsg: 'requestPayment:ok' }) : o.fail({ errMsg: 'requestPayment:fail ' + r.status })),
        (e) => o.fail({ errMsg: 'requestPayment:fail ' + e.message }));
    },
    getStorageSync: (k) => (storage.has(k) ? storage.get(k) : ''),
    setStorageSync: (k, v) => { storage.set(k, v); },
    removeStorageSync: (k) => { storage.delete(k); },
  };
  return wx;
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

// expiredLike re-signs token with the server's signing key, its expiry a
// minute ago (past the 10 s leeway): the token a phone holds after sleeping.
async function expiredLike(server, token) {
  const jwks = await (await fetch(server.base + '/.well-known/jwks.json')).json();
  const key = crypto.createPrivateKey(fs.readFileSync(path.join(server.dataDir, 'signing_key.pem')));
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  const nowS = Math.floor(Date.now() / 1000);
  claims.iat = nowS - 960;
  claims.exp = nowS - 60;
  claims.jti = crypto.randomBytes(8).toString('hex');
  const head = b64url(JSON.stringify({ alg: 'EdDSA', kid: jwks.keys[0].kid, typ: 'JWT' }));
  const signing = head + '.' + b64url(JSON.stringify(claims));
  return signing + '.' + b64url(crypto.sign(null, Buffer.from(signing), key));
}

// stored reads and writes the session the client keeps in wx storage.
function stored(wx, appid) {
  const raw = wx.getStorageSync('miniback:' + appid);
  return raw ? JSON.parse(raw) : null;
}
function restore(wx, appid, s) {
  wx.setStorageSync('miniback:' + appid, JSON.stringify(s));
}

module.exports = { APPID, ADMIN_KEY, startServer, createWx, expiredLike, stored, restore, postJSON };
