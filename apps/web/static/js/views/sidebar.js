// The sidebar: who I am, the connection, my rooms and direct messages.

import { el } from '../text.js';

const $ = (id) => document.getElementById(id);

export function renderSidebar(chat) {
  const s = chat.state;
  $('me').textContent = s.user.username;
  const rooms = [...s.rooms.values()];
  const list = (items, target) => {
    target.replaceChildren(...items.map((r) => {
      const other = r.visibility === 'direct' ? s.otherMember(r) : null;
      const name = s.displayName(r);
      const label = `${name}${r.unread ? `, ${r.unread} unread` : ''}${r.mentions ? `, ${r.mentions} mentioning you` : ''}${other ? (s.online.has(other.id) ? ', online' : ', offline') : ''}`;
      const li = el('li', {
        tabindex: '0', role: 'button', 'aria-current': s.active === r.id ? 'true' : 'false',
        'aria-label': label, 'data-room': r.id,
        onclick: () => chat.open(r.id).then(() => document.getElementById('composer-input').focus()),
        onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); li.click(); } },
      });
      if (other) li.append(el('span', { class: s.online.has(other.id) ? 'dot on' : 'dot', 'aria-hidden': 'true' }));
      else li.append(el('span', { 'aria-hidden': 'true', text: r.visibility === 'private' ? '🔒' : '#' }));
      li.append(el('span', { class: 'name', text: name }));
      if (r.mentions) li.append(el('span', { class: 'badge mention', 'aria-hidden': 'true', title: 'Mentions', text: `@${r.mentions > 99 ? '99+' : r.mentions}` }));
      if (r.unread) li.append(el('span', { class: 'badge', 'aria-hidden': 'true', text: r.unread > 99 ? '99+' : String(r.unread) }));
      return li;
    }));
  };
  list(rooms.filter((r) => r.visibility !== 'direct'), $('room-list'));
  list(rooms.filter((r) => r.visibility === 'direct'), $('dm-list'));
}

export function renderStatus(chat) {
  const c = chat.state.conn;
  const st = $('status');
  if (c.state === 'connected') {
    st.textContent = `Connected to ${c.name || c.server}`;
    st.className = 'status ok';
  } else {
    st.textContent = c.state === 'connecting' ? `Connecting to ${c.server}…` : 'Reconnecting…';
    st.className = 'status bad';
  }
}
