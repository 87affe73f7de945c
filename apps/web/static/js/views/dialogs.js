// Small dialogs: new room, browse public rooms, new direct message, add a
// member. One <dialog> element serves them all.

import { el } from '../text.js';

const $ = (id) => document.getElementById(id);

/** Opens the dialog; onOk(form) may throw to show an error and stay open. */
function open(title, body, onOk, okLabel = 'OK') {
  const dlg = $('dialog');
  $('dialog-title').textContent = title;
  $('dialog-body').replaceChildren(...body);
  $('dialog-error').textContent = '';
  $('dialog-ok').textContent = okLabel;
  $('dialog-ok').hidden = !onOk;
  $('dialog-cancel').textContent = onOk ? 'Cancel' : 'Close';
  $('dialog-form').onsubmit = async (ev) => {
    if (ev.submitter && ev.submitter.value === 'cancel') return;
    ev.preventDefault();
    if (!onOk) return; // a list to pick from: Enter does nothing more
    try {
      await onOk();
      dlg.close();
    } catch (e) {
      $('dialog-error').textContent = e.message;
    }
  };
  dlg.showModal();
  const first = dlg.querySelector('input, select, textarea');
  if (first) first.focus();
}

export function newRoomDialog(chat) {
  const name = el('input', { id: 'dlg-room-name', maxlength: '64', required: true, autocomplete: 'off' });
  const vis = el('select', { id: 'dlg-room-vis' },
    el('option', { value: 'public', text: 'Public: anyone can find and join' }),
    el('option', { value: 'private', text: 'Private: members add members' }));
  open('New room', [el('label', { for: 'dlg-room-name', text: 'Name' }), name,
    el('label', { for: 'dlg-room-vis', text: 'Who can join' }), vis],
  () => chat.createRoom(name.value, vis.value), 'Create');
}

function searchList(placeholder, label, search, action, actionLabel) {
  const input = el('input', { id: 'dlg-search', placeholder, autocomplete: 'off', 'aria-label': label });
  const list = el('ul', { class: 'pick-list', 'aria-live': 'polite' });
  let seq = 0;
  const refresh = async () => {
    const mine = ++seq;
    let items = [];
    try { items = await search(input.value.trim()); } catch (e) { $('dialog-error').textContent = e.message; }
    if (mine !== seq) return;
    list.replaceChildren(...items.map((it) => el('li', {},
      el('span', { text: it.label }),
      el('button', { type: 'button', class: 'secondary small', 'aria-label': `${actionLabel} ${it.label}`,
        onclick: async () => {
          try { await action(it); $('dialog').close(); } catch (e) { $('dialog-error').textContent = e.message; }
        },
        text: actionLabel }))));
  };
  input.addEventListener('input', refresh);
  refresh();
  return [input, list];
}

export function browseDialog(chat) {
  open('Public rooms', searchList('Search rooms', 'Search public rooms', async (q) => {
    const { rooms } = await chat.api.publicRooms(q);
    return rooms.filter((r) => !chat.state.rooms.has(r.id)).map((r) => ({ label: r.name, id: r.id }));
  }, (it) => chat.join(it.id), 'Join'));
}

export function dmDialog(chat) {
  open('Direct message', searchList('Search people', 'Search people by name', async (q) => {
    const { users } = await chat.api.users(q);
    return users.filter((u) => u.id !== chat.state.user.id).map((u) => ({ label: u.username }));
  }, (it) => chat.dm(it.label), 'Message'));
}

export function addMemberDialog(chat) {
  const roomId = chat.state.active;
  open('Add member', searchList('Search people', 'Search people to add', async (q) => {
    const { users } = await chat.api.users(q);
    const room = chat.state.rooms.get(roomId);
    const members = new Set((room.members || []).map((u) => u.id));
    return users.filter((u) => !members.has(u.id)).map((u) => ({ label: u.username }));
  }, (it) => chat.addMember(roomId, it.label), 'Add'));
}

/** Asks to confirm; onOk runs on OK (its error keeps the dialog open). */
export function confirmDialog(text, okLabel, onOk) {
  return new Promise((resolve) => {
    open(text, [], async () => { await onOk(); resolve(true); }, okLabel);
  });
}

export function editDialog(body, onSave) {
  const area = el('textarea', { id: 'dlg-edit', rows: '4', maxlength: '4000', 'aria-label': 'Message' });
  area.value = body;
  open('Edit message', [area], () => {
    if (!area.value.trim()) throw new Error('A message cannot be empty; delete it instead.');
    onSave(area.value);
  }, 'Save');
  area.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $('dialog-ok').click(); }
  });
}

/** The room's members; its owner can remove them. */
export function membersDialog(chat, roomId) {
  const list = el('ul', { class: 'pick-list', 'aria-live': 'polite' });
  const owner = chat.state.isOwner(roomId);
  const refresh = async () => {
    let users = [];
    try { users = (await chat.members(roomId)).users; } catch (e) { $('dialog-error').textContent = e.message; }
    const room = chat.state.rooms.get(roomId);
    list.replaceChildren(...users.map((u) => {
      const isOwner = room && room.owner && room.owner.id === u.id;
      const li = el('li', {}, el('span', { class: 'who-line' },
        el('span', { class: chat.state.online.has(u.id) ? 'dot on' : 'dot', 'aria-hidden': 'true' }),
        el('span', { text: `${u.username}${isOwner ? ' (owner)' : ''}` })));
      if (owner && !isOwner) {
        li.append(el('button', { type: 'button', class: 'secondary small', 'aria-label': `Remove ${u.username}`, text: 'Remove',
          onclick: async () => {
            try { await chat.removeMember(roomId, u.id); await refresh(); } catch (e) { $('dialog-error').textContent = e.message; }
          } }));
      }
      return li;
    }));
  };
  open('Members', [list], null);
  refresh();
}

/** Search over all my rooms; a result opens its room at the message. */
export function searchDialog(chat, query) {
  const input = el('input', { id: 'dlg-search', type: 'search', autocomplete: 'off', 'aria-label': 'Search messages' });
  input.value = query;
  const list = el('ul', { class: 'results', 'aria-live': 'polite' });
  let seq = 0;
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) { list.replaceChildren(); return; }
    let msgs = [];
    try { msgs = (await chat.search(q)).messages; } catch (e) { $('dialog-error').textContent = e.message; return; }
    if (mine !== seq) return;
    $('dialog-error').textContent = '';
    if (!msgs.length) { list.replaceChildren(el('li', { class: 'muted', text: 'No messages match.' })); return; }
    list.replaceChildren(...msgs.map((m) => {
      const room = chat.state.rooms.get(m.room);
      return el('li', {}, el('button', {
        type: 'button', class: 'result',
        onclick: () => { $('dialog').close(); chat.openAt(m.room, m.seq); },
      },
      el('span', { class: 'result-head' },
        el('span', { class: 'who', text: room ? chat.state.displayName(room) : 'a room' }),
        el('span', { class: 'muted small', text: ` · ${m.sender.username} · ${new Date(m.ts).toLocaleString()}` })),
      el('span', { class: 'result-body', text: m.body.length > 200 ? `${m.body.slice(0, 200)}…` : m.body })));
    }));
  };
  let timer = 0;
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 250); });
  open('Search messages', [input, list], null);
  run();
}
