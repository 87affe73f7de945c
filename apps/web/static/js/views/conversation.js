// The open conversation: messages grouped by sender under day separators,
// older history on scrolling up, sticking to the bottom unless the reader
// scrolled away; replies, reactions, edits and deletions.

import { el, renderText, timeOf, dayOf } from '../text.js';
import { closePicker, emojiPicker, messageNode } from './message.js';
import { confirmDialog, editDialog, membersDialog } from './dialogs.js';

const $ = (id) => document.getElementById(id);
const GROUP_GAP = 5 * 60 * 1000;

function atBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; }

export function renderHeader(chat) {
  const s = chat.state;
  const room = s.active && s.rooms.get(s.active);
  $('composer').hidden = !room;
  $('empty').hidden = !!room;
  $('messages').hidden = !room;
  $('add-member-btn').hidden = !room || room.visibility !== 'private';
  $('leave-btn').hidden = !room || room.visibility === 'direct';
  $('members-btn').hidden = !room || room.visibility === 'direct';
  $('block-btn').hidden = !room || room.visibility !== 'direct';
  if (!room) {
    $('room-title').textContent = 'No room open';
    $('room-members').replaceChildren();
    $('messages').replaceChildren();
    return;
  }
  $('room-title').textContent = s.displayName(room);
  const members = room.members || [];
  if (room.visibility === 'direct') {
    const other = s.otherMember(room);
    const on = other && s.online.has(other.id);
    $('room-members').replaceChildren(el('span', { class: on ? 'dot on' : 'dot', 'aria-hidden': 'true' }),
      el('span', { text: on ? 'online' : 'offline' }));
    const blocked = other && s.blocked.has(other.id);
    $('block-btn').textContent = blocked ? 'Unblock' : 'Block';
    $('block-btn').setAttribute('aria-label', `${blocked ? 'Unblock' : 'Block'} ${other ? other.username : ''}`);
  } else if (members.length) {
    $('room-members').replaceChildren(...members.flatMap((u, i) => [
      ...(i ? [el('span', { text: ', ' })] : []),
      el('span', { class: s.online.has(u.id) ? 'dot on' : 'dot', 'aria-hidden': 'true' }),
      el('span', { text: ` ${u.username}` })]));
  } else {
    $('room-members').textContent = room.visibility;
  }
}

/** Renders the messages of the active room. kind: 'older' keeps the view
 *  where it was, 'focus' scrolls to detail.seq; anything else sticks to the
 *  bottom if it was there. */
export function renderMessages(chat, kind, detail = {}) {
  const s = chat.state;
  const box = $('messages');
  const id = s.active;
  if (!id) return;
  const m = s.roomMsgs(id);
  const wasAtBottom = atBottom(box);
  const prevHeight = box.scrollHeight;
  const prevTop = box.scrollTop;
  const prevCount = box.dataset.count ? Number(box.dataset.count) : 0;
  closePicker();

  const handlers = {
    reply: (msg) => { chat.setReply({ room: id, id: msg.id }); $('composer-input').focus(); },
    pick: (msg, anchor) => emojiPicker(anchor, (emoji) => {
      const r = (msg.reactions || []).find((x) => x.emoji === emoji);
      if (!(r && r.mine)) chat.react(id, msg.id, emoji, true);
    }),
    edit: (msg) => editDialog(msg.body, (body) => chat.edit(id, msg.id, body)),
    remove: (msg) => confirmDialog('Delete this message for everyone?', 'Delete', () => chat.remove(id, msg.id)),
    jump: async (target) => {
      if (await chat.reveal(id, { id: target })) focusMessage(`[data-id="${CSS.escape(target)}"]`);
    },
  };

  const nodes = [];
  if (m.hasMore && m.loaded) nodes.push(el('p', { class: 'loading-older', text: m.loadingOlder ? 'Loading…' : 'Scroll up for older messages' }));
  let group = null;
  let lastSender = null;
  let lastTime = 0;
  let lastDay = '';
  const add = (sender, ts, node) => {
    const t = ts ? new Date(ts).getTime() : Date.now();
    const day = dayOf(ts || new Date().toISOString());
    if (day !== lastDay) {
      nodes.push(el('div', { class: 'day', role: 'separator', text: day }));
      lastDay = day;
      group = null;
    }
    if (!group || sender.id !== lastSender || t - lastTime > GROUP_GAP) {
      group = el('article', { class: 'group', 'aria-label': `Messages from ${sender.username}${sender.bot ? ' (bot)' : ''}` },
        el('header', { class: 'group-head' },
          el('span', { class: 'who', text: sender.username }),
          sender.bot ? el('span', { class: 'bot-badge', title: 'a bot of the server API', text: 'BOT' }) : null,
          el('time', { class: 'muted small', datetime: ts || '', text: ts ? timeOf(ts) : '' })));
      nodes.push(group);
    }
    lastSender = sender.id;
    lastTime = t;
    group.append(node);
  };
  for (const msg of m.list) add(msg.sender, msg.ts, messageNode(chat, id, msg, handlers));
  for (const pend of s.pending.values()) {
    if (pend.room !== id) continue;
    const p = el('div', { class: `msg ${pend.status}`, 'data-ref': pend.ref });
    p.append(el('p', { class: 'body' }, renderText(pend.body)));
    if (pend.status === 'failed') {
      p.append(el('span', { class: 'state', text: `Not sent: ${pend.error || 'error'} ` }), pend.final
        ? el('button', { type: 'button', class: 'secondary small', onclick: () => chat.dismiss(pend.ref), text: 'Dismiss' })
        : el('button', { type: 'button', class: 'secondary small', onclick: () => chat.retry(pend.ref), text: 'Retry' }));
    } else {
      p.append(el('span', { class: 'state', text: 'sending…' }));
    }
    add(s.user, null, p);
  }
  box.replaceChildren(...nodes);
  box.dataset.count = String(m.list.length);

  if (kind === 'older' || kind === 'event') {
    box.scrollTop = box.scrollHeight - prevHeight + prevTop;
  } else if (kind === 'focus') {
    focusMessage(`[data-seq="${detail.seq}"]`);
  } else if (wasAtBottom || kind === 'open' || kind === 'pending') {
    box.scrollTop = box.scrollHeight;
    $('new-marker').hidden = true;
  } else if (m.list.length > prevCount) {
    $('new-marker').hidden = false;
  }
}

// focusMessage scrolls a message into view and flashes it.
function focusMessage(selector) {
  const node = $('messages').querySelector(`.msg${selector}`);
  if (!node) return;
  node.scrollIntoView({ block: 'center' });
  node.classList.remove('flash');
  void node.offsetWidth; // restart the animation
  node.classList.add('flash');
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
  // A tap elsewhere hides the actions a long press showed.
  box.addEventListener('click', (ev) => {
    for (const n of box.querySelectorAll('.msg.show-actions')) if (!n.contains(ev.target)) n.classList.remove('show-actions');
  });
  $('new-marker').addEventListener('click', () => {
    box.scrollTop = box.scrollHeight;
    $('new-marker').hidden = true;
  });
  $('members-btn').addEventListener('click', () => membersDialog(chat, chat.state.active));
  $('block-btn').addEventListener('click', async () => {
    const s = chat.state;
    const room = s.rooms.get(s.active);
    const other = room && s.otherMember(room);
    if (!other) return;
    try {
      if (s.blocked.has(other.id)) await chat.unblock(other);
      else await confirmDialog(`Block ${other.username}? They will not be able to message you.`, 'Block', () => chat.block(other));
    } catch (e) {
      s.notice = e.message;
      s.changed('notice');
    }
  });
}
