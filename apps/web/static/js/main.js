// Boot: find the servers, restore the session (or ask for one), then run
// the chat until logout.

import { loadServers } from './config.js';
import { Chat } from './chat.js';
import { showAuth, tryServers } from './views/auth.js';
import { renderSidebar, renderStatus } from './views/sidebar.js';
import { renderHeader, renderMessages, renderTyping, wireConversation } from './views/conversation.js';
import { renderReply, wireComposer } from './views/composer.js';
import { addMemberDialog, browseDialog, dmDialog, newRoomDialog, searchDialog } from './views/dialogs.js';

const $ = (id) => document.getElementById(id);
const SESSION = 'rookery.session';
const ENDED = 'rookery.product-sign-in-ended';

function applyTheme() {
  const t = localStorage.getItem('rookery.theme');
  if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
}

function loadSession() {
  try { return JSON.parse(localStorage.getItem(SESSION)); } catch { return null; }
}

// tokenFromFragment takes a token an embedding product hands over in the
// page's fragment (#token=<JWT>), which browsers never send to a server,
// and removes it from the address bar and history.
function tokenFromFragment() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) history.replaceState(null, '', location.pathname + location.search);
  return token;
}

// A JWT (three dot-separated parts) comes from an embedding product;
// Rookery's own tokens have no dot.
const isJWT = (token) => typeof token === 'string' && token.split('.').length === 3;

async function main() {
  applyTheme();
  const servers = await loadServers();
  let session = loadSession();
  // A product's sign-in that ended (expired, or refused) cannot be renewed
  // here: its users have no password, so say where to go.
  let productSignInEnded = sessionStorage.getItem(ENDED) === '1';
  sessionStorage.removeItem(ENDED);
  const handed = tokenFromFragment();
  if (handed) {
    try {
      const res = await tryServers(servers, (api) => { api.token = handed; return api.me(); });
      session = { token: handed, user: res.user };
      localStorage.setItem(SESSION, JSON.stringify(session));
    } catch (e) {
      session = null; // refused: sign in by hand
      productSignInEnded = true;
    }
  } else if (session) {
    try {
      await tryServers(servers, (api) => { api.token = session.token; return api.me(); });
    } catch (e) {
      if (e.status === 401) { // expired or logged out elsewhere
        productSignInEnded = productSignInEnded || isJWT(session.token);
        session = null;
      }
    }
  }
  if (!session) {
    const signedIn = showAuth(servers);
    if (productSignInEnded) {
      $('auth-error').textContent = 'Your sign-in from the product you came from has ended: open the chat from it again, or sign in with a Rookery account.';
    }
    session = await signedIn;
    localStorage.setItem(SESSION, JSON.stringify(session));
  }
  run(servers, session);
}

function run(servers, session) {
  const logout = () => {
    chat.stop();
    if (isJWT(session.token)) sessionStorage.setItem(ENDED, '1');
    localStorage.removeItem(SESSION);
    location.reload();
  };
  const chat = new Chat(servers, session, logout);
  window.rookery = chat; // for debugging and the browser tests
  $('chat-view').hidden = false;
  $('auth-view').hidden = true;

  let noticeTimer = 0;
  chat.state.addEventListener('change', (ev) => {
    const what = ev.detail;
    if (what === 'rooms' || what === 'presence' || what === 'active') renderSidebar(chat);
    if (what === 'conn') renderStatus(chat);
    if (what === 'typing' || what === 'active') renderTyping(chat);
    if (what === 'active' || what === 'presence' || what === 'rooms') renderHeader(chat);
    if (what === 'active') renderMessages(chat, 'open');
    if (typeof what === 'object' && what.room === chat.state.active) renderMessages(chat, what.kind, what);
    if (what === 'reply' || what === 'active') renderReply(chat);
    if (what === 'notice') {
      $('notice').textContent = chat.state.notice;
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => { $('notice').textContent = ''; }, 8000);
    }
  });
  wireConversation(chat);
  wireComposer(chat);
  $('new-room-btn').onclick = () => newRoomDialog(chat);
  $('browse-btn').onclick = () => browseDialog(chat);
  $('new-dm-btn').onclick = () => dmDialog(chat);
  $('empty-new-room').onclick = () => newRoomDialog(chat);
  $('empty-browse').onclick = () => browseDialog(chat);
  $('empty-dm').onclick = () => dmDialog(chat);
  $('search-form').onsubmit = (ev) => {
    ev.preventDefault();
    const q = $('search-input').value.trim();
    if (q) searchDialog(chat, q);
  };
  $('add-member-btn').onclick = () => addMemberDialog(chat);
  $('leave-btn').onclick = () => chat.leave(chat.state.active);
  $('logout-btn').onclick = () => chat.logout();
  $('theme-btn').onclick = () => {
    const dark = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim() !== '#ffffff';
    localStorage.setItem('rookery.theme', dark ? 'light' : 'dark');
    applyTheme();
  };
  $('menu-btn').onclick = () => $('chat-view').classList.toggle('show-sidebar');
  $('room-list').addEventListener('click', () => $('chat-view').classList.remove('show-sidebar'));
  $('dm-list').addEventListener('click', () => $('chat-view').classList.remove('show-sidebar'));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && chat.state.active) chat.markRead(chat.state.active);
  });
  renderSidebar(chat);
  renderHeader(chat);
  chat.start();
}

main().catch((e) => {
  document.body.textContent = `Rookery could not start: ${e.message}`;
});
