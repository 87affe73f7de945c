// One message: its reply quote, body (or "message deleted"), "(edited)",
// reaction chips, and the actions shown on hover, focus or long press.

import { el, renderText } from '../text.js';

/** Common reactions offered by the picker; any other text works too. */
export const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

const LONG_PRESS = 500;

function firstLine(text, max = 80) {
  const line = (text || '').split('\n')[0];
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Renders msg of room roomId; handlers come from the conversation view. */
export function messageNode(chat, roomId, msg, h) {
  const s = chat.state;
  const mine = msg.sender.id === s.user.id;
  const node = el('div', {
    class: `msg${msg.deleted ? ' deleted' : ''}${s.mentionsMe(msg) ? ' mention' : ''}`,
    'data-seq': String(msg.seq), 'data-id': msg.id, title: new Date(msg.ts).toLocaleString(),
  });
  if (msg.reply_to) {
    const orig = s.roomMsgs(roomId).byId.get(msg.reply_to);
    const label = orig
      ? `${orig.sender.username}: ${orig.deleted ? 'message deleted' : firstLine(orig.body)}`
      : 'an earlier message';
    node.append(el('button', {
      type: 'button', class: 'quote', 'aria-label': `In reply to ${label}. Show it.`,
      onclick: () => h.jump(msg.reply_to),
    }, el('span', { 'aria-hidden': 'true', text: '↪ ' }), el('span', { text: label })));
  }
  const body = el('p', { class: 'body' });
  if (msg.deleted) body.append(el('em', { class: 'muted', text: 'message deleted' }));
  else body.append(renderText(msg.body));
  if (msg.edited_at && !msg.deleted) {
    body.append(el('span', { class: 'edited muted small', title: new Date(msg.edited_at).toLocaleString(), text: ' (edited)' }));
  }
  node.append(body);
  if (!msg.deleted && (msg.reactions || []).length) {
    node.append(el('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
      ...msg.reactions.map((r) => el('button', {
        type: 'button', class: `chip${r.mine ? ' mine' : ''}`, 'aria-pressed': r.mine ? 'true' : 'false',
        'aria-label': `${r.emoji} ${r.count}${r.mine ? ', including you' : ''}`,
        onclick: () => chat.toggleReaction(roomId, msg, r.emoji),
      }, el('span', { text: r.emoji }), el('span', { class: 'count', text: String(r.count) })))));
  }
  if (!msg.deleted) {
    const acts = el('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Message actions' },
      el('button', { type: 'button', class: 'icon', title: 'Reply', 'aria-label': 'Reply', onclick: () => h.reply(msg), text: '↩' }),
      el('button', { type: 'button', class: 'icon', title: 'React', 'aria-label': 'React', onclick: (ev) => h.pick(msg, ev.currentTarget), text: '☺' }));
    if (mine) acts.append(el('button', { type: 'button', class: 'icon', title: 'Edit', 'aria-label': 'Edit', onclick: () => h.edit(msg), text: '✎' }));
    if (mine || s.isOwner(roomId)) acts.append(el('button', { type: 'button', class: 'icon', title: 'Delete', 'aria-label': 'Delete', onclick: () => h.remove(msg), text: '🗑' }));
    node.append(acts);
    // Touch: a long press shows the actions.
    let timer = 0;
    node.addEventListener('touchstart', () => { timer = setTimeout(() => node.classList.add('show-actions'), LONG_PRESS); }, { passive: true });
    for (const ev of ['touchend', 'touchmove', 'touchcancel']) node.addEventListener(ev, () => clearTimeout(timer), { passive: true });
  }
  return node;
}

/** A small popover of common emoji plus a free-text field, near anchor. */
export function emojiPicker(anchor, onPick) {
  closePicker();
  const input = el('input', { class: 'emoji-input', maxlength: '32', placeholder: 'Other…', 'aria-label': 'Other reaction', autocomplete: 'off' });
  const pick = (e) => { closePicker(); if (e) onPick(e); };
  const pop = el('div', { id: 'emoji-picker', class: 'picker', role: 'dialog', 'aria-label': 'Pick a reaction' },
    ...EMOJI.map((e) => el('button', { type: 'button', class: 'icon', 'aria-label': `React ${e}`, onclick: () => pick(e), text: e })),
    el('form', { onsubmit: (ev) => { ev.preventDefault(); pick(input.value.trim().replace(/\s+/g, '')); } }, input));
  document.body.append(pop);
  // The anchor is in the hover toolbar; a keyboard or script may open the
  // picker while the toolbar is hidden, so fall back to the message.
  let r = anchor.getBoundingClientRect();
  if (!r.width && anchor.closest('.msg')) r = anchor.closest('.msg').getBoundingClientRect();
  pop.style.top = `${Math.max(8, r.top - pop.offsetHeight - 6)}px`;
  pop.style.left = `${Math.min(window.innerWidth - pop.offsetWidth - 8, Math.max(8, r.right - pop.offsetWidth))}px`;
  pop.querySelector('button').focus();
  setTimeout(() => document.addEventListener('click', outside, true), 0);
  pop.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closePicker(); });
}

function outside(ev) {
  const pop = document.getElementById('emoji-picker');
  if (pop && !pop.contains(ev.target)) closePicker();
}

export function closePicker() {
  const pop = document.getElementById('emoji-picker');
  if (pop) pop.remove();
  document.removeEventListener('click', outside, true);
}
