/*
 * miniback-weapp: the mini program's client of miniback.
 *
 * Plain ES2017 in one CommonJS file with no dependencies, so that it runs in
 * the mini-program runtime (require) and in bundlers (import). It logs in with
 * wx.login, keeps the tokens in storage, adds the bearer token to requests,
 * refreshes once on 401 with a single refresh shared by concurrent requests
 * (refresh tokens rotate: two racing refreshes would revoke the session),
 * retries once, and logs in again when the refresh token is refused.
 */
'use strict';

// MinibackError is how every failure of the client ends. code is the
// server's error code (SPEC §7.2) or one of the client's own:
// network_error, bad_response, wx_login_failed, foreign_url, pay_cancelled,
// pay_failed, pay_pending.
class MinibackError extends Error {
  constructor(code, message, status, wechatErrcode) {
    super(message);
    this.name = 'MinibackError';
    this.code = code;
    this.status = status || 0;
    this.wechatErrcode = wechatErrcode || 0;
  }
}

// Refresh when a request is made this close to the access token's expiry
// (or within a quarter of its lifetime, for lifetimes under 4 minutes).
const REFRESH_AHEAD_MS = 60000;
const ABSOLUTE = /^https?:\/\//i;

// storageOf adapts what createClient was given: an object with
// get/set/remove, Web Storage's getItem/setItem/removeItem, or wx's
// getStorageSync/setStorageSync/removeStorageSync (the default).
function storageOf(st) {
  const pick = (a, b, c) => (st[a] || st[b] || st[c]).bind(st);
  return {
    get: pick('get', 'getItem', 'getStorageSync'),
    set: pick('set', 'setItem', 'setStorageSync'),
    remove: pick('remove', 'removeItem', 'removeStorageSync'),
  };
}

// errorOf turns a non-2xx answer into a MinibackError: the server's error
// JSON when it is one, else bad_response.
function errorOf(res) {
  const e = res.data && typeof res.data === 'object' ? res.data.error : null;
  if (e && typeof e.code === 'string') {
    return new MinibackError(e.code, String(e.message || e.code), res.statusCode, e.wechat_errcode);
  }
  return new MinibackError('bad_response', 'the server answered ' + res.statusCode + ' without an error JSON', res.statusCode);
}

function ok(res) {
  return res.statusCode >= 200 && res.statusCode < 300;
}

// jsonOf resolves with the JSON data of a 2xx answer; a body that is not
// JSON is bad_response.
function jsonOf(res) {
  if (!res.data || typeof res.data !== 'object') {
    throw new MinibackError('bad_response', 'the server answered ' + res.statusCode + ' with a body that is not JSON', res.statusCode);
  }
  return res.data;
}

// once keeps one promise per name in flight: callers that arrive while it
// runs share its result (the single flight of logins and refreshes).
function once(fn) {
  let running = null;
  return function () {
    if (!running) {
      const clear = () => { running = null; };
      running = fn();
      running.then(clear, clear);
    }
    return running;
  };
}

// globalWx is the runtime's wx, when there is one.
function globalWx() {
  return typeof wx !== 'undefined' ? wx : null; // eslint-disable-line no-undef
}

function createClient(options) {
  const o = options || {};
  const wx = o.wx || globalWx();
  if (!o.baseURL || !o.appid || !wx) {
    throw new TypeError('miniback: createClient needs baseURL, appid and wx');
  }
  const base = String(o.baseURL).replace(/\/+$/, '');
  const api = base + '/api/v1/' + encodeURIComponent(o.appid);
  const storage = storageOf(o.storage || wx);
  const now = o.now || Date.now;
  const key = 'miniback:' + o.appid;

  function load() {
    const raw = storage.get(key);
    if (!raw) return null;
    try {
      const s = typeof raw === 'string' ? JSON.parse(raw) : raw;
      return s && s.access && s.refresh ? s : null;
    } catch (e) {
      return null;
    }
  }
  function save(pair, user) {
    const prev = load();
    const s = {
      access: pair.access_token,
      refresh: pair.refresh_token,
      exp: now() + pair.expires_in * 1000,
      ahead: Math.min(REFRESH_AHEAD_MS, pair.expires_in * 250),
      user: user || (prev && prev.user) || null,
    };
    storage.set(key, JSON.stringify(s));
    return s;
  }
  function clear() {
    storage.remove(key);
  }

  // send is one wx.request; it resolves with every HTTP answer and rejects
  // only when no answer came (network_error).
  function send(r, token) {
    const header = Object.assign({}, r.header);
    if (token) header.Authorization = 'Bearer ' + token;
    const method = (r.method || 'GET').toUpperCase();
    if (r.data !== undefined && method !== 'GET' && !Object.keys(header).some((h) => h.toLowerCase() === 'content-type')) {
      header['Content-Type'] = 'application/json';
    }
    return new Promise((resolve, reject) => {
      wx.request({
        url: ABSOLUTE.test(r.url) ? r.url : api + r.url,
        method,
        data: r.data,
        header,
        dataType: r.dataType || 'json',
        responseType: r.responseType || 'text',
        success: (res) => resolve({ statusCode: res.statusCode, data: res.data, header: res.header || {} }),
        fail: (err) => reject(new MinibackError('network_error', (err && err.errMsg) || 'request:fail')),
      });
    });
  }

  function wxLogin() {
    return new Promise((resolve, reject) => {
      const fail = (err) => reject(new MinibackError('wx_login_failed', (err && err.errMsg) || 'login:fail'));
      wx.login({ success: (res) => (res && res.code ? resolve(res.code) : fail(res)), fail });
    });
  }

  // logIn: wx.login, then POST /login; the pair and the user are stored.
  const logIn = once(async () => {
    const code = await wxLogin();
    const res = await send({ url: '/login', method: 'POST', data: { code } });
    if (!ok(res)) throw errorOf(res);
    const body = jsonOf(res);
    save(body, body.user);
    return body;
  });

  // renew trades the refresh token for a new pair. A refused refresh token
  // means the session is over: log in again once, and only when that fails
  // too is the session lost.
  const renew = once(async () => {
    const s = load();
    if (!s) return logIn().then(load).then((n) => n.access);
    const res = await send({ url: '/token/refresh', method: 'POST', data: { refresh_token: s.refresh } });
    if (ok(res)) return save(jsonOf(res)).access;
    if (res.statusCode !== 401) throw errorOf(res);
    clear();
    try {
      await logIn();
    } catch (err) {
      if (o.onSessionLost) o.onSessionLost(err);
      throw err;
    }
    return load().access;
  });

  // token returns an access token to send, logging in or refreshing first
  // when there is none or it is about to expire.
  async function token() {
    const s = load();
    if (!s) return logIn().then(load).then((n) => n.access);
    if (s.exp - now() < (s.ahead || 0)) return renew();
    return s.access;
  }

  async function request(r) {
    if (!r || typeof r.url !== 'string') throw new TypeError('miniback: request needs a url');
    const auth = r.auth !== false;
    if (auth && ABSOLUTE.test(r.url) && r.url.indexOf(base + '/') !== 0) {
      // The bearer token never leaves miniback's origin.
      throw new MinibackError('foreign_url', 'the access token is only sent under ' + base + '; pass auth: false');
    }
    if (!auth) {
      const res = await send(r);
      if (!ok(res)) throw errorOf(res);
      return res;
    }
    const sent = await token();
    let res = await send(r, sent);
    if (res.statusCode === 401) {
      // A token replaced meanwhile by another request's refresh is retried
      // as it is; only a 401 for the current token refreshes.
      const s = load();
      const next = s && s.access !== sent ? s.access : await renew();
      res = await send(r, next);
    }
    if (!ok(res)) throw errorOf(res);
    return res;
  }

  async function requestJSON(r) {
    return jsonOf(await request(r));
  }

  function requestPayment(params) {
    return new Promise((resolve, reject) => {
      wx.requestPayment(Object.assign({}, params, {
        success: resolve,
        fail: (err) => {
          const msg = (err && err.errMsg) || 'requestPayment:fail';
          reject(new MinibackError(/cancel/.test(msg) ? 'pay_cancelled' : 'pay_failed', msg));
        },
      }));
    });
  }

  // pay asks miniback for the order's wx.requestPayment arguments, lets the
  // user pay, then polls the order (miniback asks WeChat Pay) until it is
  // paid or the deadline passes: the payment's truth is the server's, never
  // requestPayment's success callback.
  async function pay(outTradeNo, opts) {
    const path = '/pay/orders/' + encodeURIComponent(outTradeNo);
    const params = await requestJSON({ url: path + '/pay', method: 'POST' });
    await requestPayment(params);
    const deadline = now() + ((opts && opts.timeout) || 15000);
    for (let wait = 500; ; wait = Math.min(wait * 2, 3000)) {
      const order = await requestJSON({ url: path + '?sync=true' });
      if (order.status === 'paid' || order.status === 'refunded') return order;
      if (order.status === 'closed') throw new MinibackError('order_closed', 'the order was closed', 409);
      if (now() + wait > deadline) throw new MinibackError('pay_pending', 'the payment is not confirmed yet; ask again later');
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  return {
    login: () => logIn(),
    request,
    me: () => requestJSON({ url: '/me' }),
    updateProfile: (p) => {
      const data = {};
      if (p && p.nickname !== undefined) data.nickname = p.nickname;
      if (p && p.avatarUrl !== undefined) data.avatar_url = p.avatarUrl;
      // wx.request has no PATCH; miniback takes the same body on POST.
      return requestJSON({ url: '/me', method: 'POST', data });
    },
    bindPhone: (code) => requestJSON({ url: '/me/phone', method: 'POST', data: { code } }),
    pay,
    // logout revokes the session on the server, refreshing first when the
    // access token was refused (so that an expired token still revokes),
    // and forgets the tokens even when the server cannot be reached.
    logout: async () => {
      const s = load();
      if (!s) return;
      try {
        let res = await send({ url: '/logout', method: 'POST' }, s.access);
        if (res.statusCode === 401) {
          const r = await send({ url: '/token/refresh', method: 'POST', data: { refresh_token: s.refresh } });
          if (ok(r)) res = await send({ url: '/logout', method: 'POST' }, jsonOf(r).access_token);
        }
        if (!ok(res) && res.statusCode !== 401) throw errorOf(res);
      } finally {
        clear();
      }
    },
    get user() {
      const s = load();
      return s ? s.user : null;
    },
  };
}

module.exports = { createClient, MinibackError };
