// The admin API client of the console: the public admin API with the key
// the operator typed, and nothing else (the console has no route of its own).

const KEY = 'miniback.adminKey';

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
};

// call sends one admin API request and resolves with its JSON (null for
// 204); error answers reject with an APIError of SPEC's error JSON.
export async function call(method, path, body, key) {
  const headers = { Authorization: 'Bearer ' + (key || session.key) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch('/admin/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new APIError(0, 'network_error', 'miniback could not be reached');
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = data && data.error;
    throw new APIError(res.status, err ? err.code : 'bad_response', err ? err.message : 'the server answered ' + res.status);
  }
  return data;
}

// app returns the admin API path prefix of an app.
export function app(appid) {
  return '/' + encodeURIComponent(appid);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}
