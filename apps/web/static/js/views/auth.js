// The sign-up / log-in form.

import { Api } from '../api.js';

const $ = (id) => document.getElementById(id);

/** Shows the form and resolves with a session once the user is in. */
export function showAuth(servers) {
  $('auth-view').hidden = false;
  $('chat-view').hidden = true;
  $('auth-username').focus();
  return new Promise((resolve) => {
    const form = $('auth-form');
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const mode = ev.submitter ? ev.submitter.value : 'login';
      const username = $('auth-username').value.trim();
      const password = $('auth-password').value;
      $('auth-error').textContent = '';
      form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      try {
        const res = await tryServers(servers, (api) => (mode === 'signup' ? api.signup(username, password) : api.login(username, password)));
        $('auth-password').value = '';
        $('auth-view').hidden = true;
        resolve({ token: res.token, user: res.user });
      } catch (e) {
        $('auth-error').textContent = e.message;
      } finally {
        form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      }
    };
  });
}

/** Calls fn against each server until one answers (an answer may be an error). */
export async function tryServers(servers, fn) {
  let last;
  for (const s of servers) {
    try {
      return await fn(new Api(s.url, ''));
    } catch (e) {
      last = e;
      if (e.code !== 'unavailable') throw e;
    }
  }
  throw last;
}
