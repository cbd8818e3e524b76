// The console's shell: sign in, pick an app, route between pages by hash.
import { call, session, APIError } from './api.js';
import { fill, h } from './dom.js';
import { pages } from './pages.js';
import { stopLive } from './metrics.js';

const $ = (id) => document.getElementById(id);
const state = { apps: [], appid: '' };

function show(signedIn) {
  $('signin').hidden = signedIn;
  $('page').hidden = !signedIn;
  $('nav').hidden = !signedIn;
  $('app-picker').hidden = !signedIn;
  $('signout').hidden = !signedIn;
}

function signinError(err) {
  const msg = err.status === 401 ? 'That admin key was refused. Check it against admin.api_keys and try again.'
    : err.status === 403 ? 'The admin API is disabled on this server: set admin.api_keys.'
      : 'Could not sign in: ' + err.message;
  fill($('signin-error'), msg);
  $('signin-error').hidden = false;
}

// signIn checks the key with GET /admin/v1/apps, and only with it: a
// wrong key calls nothing else.
async function signIn(key) {
  const { apps } = await call('GET', '/apps', undefined, key);
  session.key = key;
  state.apps = apps;
  const remembered = sessionStorage.getItem('miniback.appid');
  state.appid = apps.some((a) => a.appid === remembered) ? remembered : (apps[0] && apps[0].appid) || '';
  fill($('app'), apps.map((a) => h('option', { value: a.appid, selected: a.appid === state.appid }, a.appid)));
  show(true);
  route();
}

function signOut() {
  stopLive();
  session.key = null;
  state.apps = [];
  fill($('page'));
  $('key').value = '';
  $('signin-error').hidden = true;
  show(false);
  location.hash = '';
}

async function route() {
  stopLive();
  if (!session.key) return;
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'overview';
  const page = pages[name] || pages.overview;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === name);
  const root = fill($('page'), h('p', { class: 'muted' }, 'Loading…'));
  try {
    await page(root, state);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) return signOut();
    fill(root, h('p', { class: 'error' }, 'Failed: ' + err.message));
  }
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('signin-error').hidden = true;
  const key = $('key').value.trim();
  try {
    await signIn(key);
  } catch (err) {
    session.key = null;
    signinError(err);
  }
});
$('signout').addEventListener('click', signOut);
$('app').addEventListener('change', () => {
  state.appid = $('app').value;
  sessionStorage.setItem('miniback.appid', state.appid);
  route();
});
window.addEventListener('hashchange', route);

if (session.key) {
  signIn(session.key).catch(() => signOut());
} else {
  show(false);
}
