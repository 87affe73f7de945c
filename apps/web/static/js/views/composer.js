// The composer: Enter sends, Shift+Enter is a new line; the message being
// answered shows above it; "@" offers the room's members.

import { el } from '../text.js';

const $ = (id) => document.getElementById(id);
const memberCache = new Map(); // room id -> { users, until }
const MENTION_AT = /(^|[^A-Za-z0-9_.\-@])@([A-Za-z0-9_.\-]{0,32})$/;

export function renderReply(chat) {
  const s = chat.state;
  const r = s.replyTo;
  const orig = r && r.room === s.active && s.roomMsgs(r.room).byId.get(r.id);
  $('reply-bar').hidden = !orig;
  if (!orig) return;
  $('reply-text').textContent = `Replying to ${orig.sender.username}: ${(orig.body || '').split('\n')[0].slice(0, 80)}`;
}

export function wireComposer(chat) {
  const input = $('composer-input');
  const list = $('mention-list');
  let options = [];
  let selected = 0;
  let lookup = 0;

  const closeList = () => {
    list.hidden = true;
    options = [];
    input.removeAttribute('aria-activedescendant');
    input.setAttribute('aria-expanded', 'false');
  };
  const showList = () => {
    list.replaceChildren(...options.map((u, i) => el('li', {
      id: `mention-${i}`, role: 'option', 'aria-selected': i === selected ? 'true' : 'false',
      onmousedown: (ev) => { ev.preventDefault(); choose(i); }, text: u.username,
    })));
    list.hidden = options.length === 0;
    input.setAttribute('aria-expanded', options.length ? 'true' : 'false');
    if (options.length) input.setAttribute('aria-activedescendant', `mention-${selected}`);
  };
  const choose = (i) => {
    const u = options[i];
    if (!u) return;
    const before = input.value.slice(0, input.selectionStart);
    const after = input.value.slice(input.selectionStart);
    const m = before.match(MENTION_AT);
    const head = before.slice(0, before.length - m[2].length);
    input.value = `${head}${u.username} ${after}`;
    const pos = head.length + u.username.length + 1;
    input.setSelectionRange(pos, pos);
    closeList();
    input.focus();
  };
  // complete offers the members whose name starts with what follows "@":
  // a direct or private room lists its members; a public one is asked.
  const complete = async () => {
    const m = input.value.slice(0, input.selectionStart).match(MENTION_AT);
    const room = chat.state.active && chat.state.rooms.get(chat.state.active);
    if (!m || !room) { closeList(); return; }
    const prefix = m[2].toLowerCase();
    const mine = ++lookup;
    let members = room.members;
    if (!members) {
      // A public room's members are asked for, and kept a minute.
      const c = memberCache.get(room.id);
      if (c && c.until > Date.now()) members = c.users;
      else {
        try { members = (await chat.members(room.id)).users; } catch { members = []; }
        memberCache.set(room.id, { users: members, until: Date.now() + 60000 });
      }
    }
    if (mine !== lookup) return;
    options = members.filter((u) => u.id !== chat.state.user.id && u.username.startsWith(prefix)).slice(0, 8);
    selected = 0;
    showList();
  };

  const submit = () => {
    if (!chat.state.active || !input.value.trim()) return;
    chat.send(chat.state.active, input.value);
    input.value = '';
    input.style.height = '';
    closeList();
  };
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  input.addEventListener('keydown', (ev) => {
    if (!list.hidden && options.length) {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        selected = (selected + (ev.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
        showList();
        return;
      }
      if (ev.key === 'Enter' || ev.key === 'Tab') { ev.preventDefault(); choose(selected); return; }
      if (ev.key === 'Escape') { ev.preventDefault(); closeList(); return; }
    }
    if (ev.key === 'Escape' && chat.state.replyTo) { chat.setReply(null); return; }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    input.style.height = '';
    input.style.height = `${input.scrollHeight}px`;
    if (chat.state.active && input.value) chat.typing(chat.state.active);
    complete();
  });
  input.addEventListener('blur', () => setTimeout(closeList, 150));
  $('reply-cancel').addEventListener('click', () => chat.setReply(null));
  // A phone-width composer gets a placeholder that fits.
  const narrow = window.matchMedia('(max-width: 700px)');
  const fit = () => { input.placeholder = narrow.matches ? 'Message' : 'Message (Enter to send, Shift+Enter for a new line)'; };
  narrow.addEventListener('change', fit);
  fit();
}
