// The open conversation: messages grouped by sender, older history on
// scrolling up, sticking to the bottom unless the reader scrolled away.

import { el, renderText, timeOf } from '../text.js';

const $ = (id) => document.getElementById(id);
const GROUP_GAP = 5 * 60 * 1000;

function atBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; }

export function renderHeader(chat) {
  const s = chat.state;
  const room = s.active && s.rooms.get(s.active);
  $('composer').hidden = !room;
  $('add-member-btn').hidden = !room || room.visibility !== 'private';
  $('leave-btn').hidden = !room || room.visibility === 'direct';
  if (!room) {
    $('room-title').textContent = 'Pick a room';
    $('room-members').textContent = '';
    $('messages').replaceChildren();
    return;
  }
  $('room-title').textContent = s.displayName(room);
  const members = room.members || [];
  $('room-members').textContent = members.length
    ? members.map((u) => `${u.username}${s.online.has(u.id) ? ' ●' : ''}`).join(', ')
    : room.visibility;
}

/** Renders the messages of the active room. kind: 'older' keeps the view
 *  where it was; anything else sticks to the bottom if it was there. */
export function renderMessages(chat, kind) {
  const s = chat.state;
  const box = $('messages');
  const id = s.active;
  if (!id) return;
  const m = s.roomMsgs(id);
  const wasAtBottom = atBottom(box);
  const prevHeight = box.scrollHeight;
  const prevTop = box.scrollTop;
  const prevCount = box.dataset.count ? Number(box.dataset.count) : 0;

  const nodes = [];
  if (m.hasMore && m.loaded) nodes.push(el('p', { class: 'loading-older', text: m.loadingOlder ? 'Loading…' : 'Scroll up for older messages' }));
  let group = null;
  let lastSender = null;
  let lastTime = 0;
  const add = (sender, ts, node) => {
    const t = ts ? new Date(ts).getTime() : Date.now();
    if (!group || sender.id !== lastSender || t - lastTime > GROUP_GAP) {
      group = el('article', { class: 'group', 'aria-label': `Messages from ${sender.username}` },
        el('header', { class: 'group-head' },
          el('span', { class: 'who', text: sender.username }),
          el('time', { class: 'muted small', datetime: ts || '', text: ts ? timeOf(ts) : '' })));
      nodes.push(group);
    }
    lastSender = sender.id;
    lastTime = t;
    group.append(node);
  };
  for (const msg of m.list) {
    const p = el('p', { class: 'msg', 'data-seq': String(msg.seq), title: new Date(msg.ts).toLocaleString() });
    p.append(renderText(msg.body));
    add(msg.sender, msg.ts, p);
  }
  for (const pend of s.pending.values()) {
    if (pend.room !== id) continue;
    const p = el('p', { class: `msg ${pend.status}`, 'data-ref': pend.ref });
    p.append(renderText(pend.body));
    if (pend.status === 'failed') {
      p.append(el('span', { class: 'state', text: `Not sent: ${pend.error || 'error'} ` }),
        el('button', { type: 'button', class: 'secondary small', onclick: () => chat.retry(pend.ref), text: 'Retry' }));
    } else {
      p.append(el('span', { class: 'state', text: 'sending…' }));
    }
    add(s.user, null, p);
  }
  box.replaceChildren(...nodes);
  box.dataset.count = String(m.list.length);

  if (kind === 'older') {
    box.scrollTop = box.scrollHeight - prevHeight + prevTop;
  } else if (wasAtBottom || kind === 'open' || kind === 'pending') {
    box.scrollTop = box.scrollHeight;
    $('new-marker').hidden = true;
  } else if (m.list.length > prevCount) {
    $('new-marker').hidden = false;
  }
}

export function renderTyping(chat) {
  const s = chat.state;
  const t = s.active && s.typing.get(s.active);
  const names = t ? [...t.values()].map((x) => x.name) : [];
  $('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
}

export function wireConversation(chat) {
  const box = $('messages');
  box.addEventListener('scroll', () => {
    const id = chat.state.active;
    if (!id) return;
    if (box.scrollTop < 60) chat.loadOlder(id);
    if (atBottom(box)) {
      $('new-marker').hidden = true;
      chat.markRead(id);
    }
  });
  $('new-marker').addEventListener('click', () => {
    box.scrollTop = box.scrollHeight;
    $('new-marker').hidden = true;
  });
  const input = $('composer-input');
  const submit = () => {
    if (!chat.state.active || !input.value.trim()) return;
    chat.send(chat.state.active, input.value);
    input.value = '';
    input.style.height = '';
  };
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    input.style.height = '';
    input.style.height = `${input.scrollHeight}px`;
    if (chat.state.active && input.value) chat.typing(chat.state.active);
  });
}
