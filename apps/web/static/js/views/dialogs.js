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
  $('dialog-form').onsubmit = async (ev) => {
    if (ev.submitter && ev.submitter.value === 'cancel') return;
    ev.preventDefault();
    try {
      await onOk();
      dlg.close();
    } catch (e) {
      $('dialog-error').textContent = e.message;
    }
  };
  dlg.showModal();
  const first = dlg.querySelector('input, select');
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
