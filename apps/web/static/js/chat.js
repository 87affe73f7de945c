// The chat controller: keeps State in step with the servers. It subscribes
// every room, resumes with after_seq after a reconnect, fills gaps from
// history, and sends messages with refs that make retries safe.

import { Api } from './api.js';
import { ChatSocket } from './socket.js';
import { State } from './state.js';

const PAGE = 50;
const TYPING_EVERY = 2000;
const TYPING_SHOWN = 4000;

function newRef() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(36).padStart(2, '0')).join('').slice(0, 24);
}

function sendFrame(p) {
  const f = { type: 'send', room: p.room, ref: p.ref, body: p.body };
  if (p.replyTo) f.reply_to = p.replyTo;
  return f;
}

export class Chat {
  constructor(servers, session, onLogout) {
    this.api = new Api(servers[0].url, session.token);
    this.state = new State(session.user);
    this.socket = new ChatSocket(servers, session.token);
    this.onLogout = onLogout;
    this.lastTyping = 0;
    this.requests = new Map(); // ref -> what an edit, delete or react does, for its error
    this.subscribed = new Set(); // rooms subscribed on this connection
    this.socket.addEventListener('status', (e) => { this.state.conn = e.detail; this.state.changed('conn'); });
    this.socket.addEventListener('open', () => this.resume());
    this.socket.addEventListener('frame', (e) => this.onFrame(e.detail));
    this.socket.addEventListener('unauthorized', () => this.onLogout());
    this.sweeper = setInterval(() => this.expireTyping(), 1000);
  }

  async start() {
    this.socket.start();
  }

  stop() {
    clearInterval(this.sweeper);
    this.socket.stop();
  }

  // resume runs after every (re)connect: refresh the rooms, subscribe each
  // from the last seq we know, and resend what was never acknowledged.
  async resume() {
    this.api.base = this.socket.base;
    this.subscribed.clear(); // a new connection has no subscriptions
    try {
      const { rooms } = await this.api.rooms();
      this.state.setRooms(rooms);
      const active = this.state.active && this.state.rooms.get(this.state.active);
      if (active) { active.unread = 0; active.mentions = 0; } // on screen: read as it arrives
    } catch (e) {
      if (e.status === 401) { this.onLogout(); return; }
    }
    for (const id of this.state.rooms.keys()) this.subscribe(id);
    for (const p of this.state.pending.values()) {
      if (p.status === 'pending') this.socket.send(sendFrame(p));
    }
    this.loadBlocks();
    if (this.state.active && !this.state.roomMsgs(this.state.active).loaded) this.loadLatest(this.state.active);
  }

  subscribe(id) {
    // Once per connection: a room joined here is also announced by
    // room_added, and a second subscribe would be refused.
    if (this.subscribed.has(id)) return;
    this.subscribed.add(id);
    const after = this.state.resumeSeq(id);
    // batch: the missed messages come in a few replay frames (a contract
    // addition) instead of one frame each.
    const frame = { type: 'subscribe', room: id };
    if (after > 0) Object.assign(frame, { after_seq: after, batch: true });
    this.socket.send(frame);
  }

  onFrame(f) {
    const s = this.state;
    switch (f.type) {
      case 'replay': {
        // Each is the frame that would have come on its own, in order.
        for (const g of f.frames || []) this.onFrame(g);
        break;
      }
      case 'message': {
        const { type, ...msg } = f;
        const room = s.rooms.get(msg.room);
        // Messages up to the room's last_seq from the rooms list are already
        // in its unread count; only newer ones add to it.
        const fresh = room && msg.seq > (room.last_seq || 0);
        const added = s.addMessages(msg.room, [msg]);
        if (added && s.active === msg.room && document.visibilityState === 'visible') {
          room.unread = 0;
          room.mentions = 0;
          this.markRead(msg.room);
        } else if (added && fresh && msg.sender.id !== s.user.id) {
          room.unread = (room.unread || 0) + 1;
        }
        s.changed({ room: msg.room, kind: 'message' });
        s.changed('rooms');
        break;
      }
      case 'edit':
      case 'delete':
      case 'reaction': {
        if (s.applyEvent(f)) s.changed({ room: f.room, kind: 'event' });
        break;
      }
      case 'mention': {
        const room = s.rooms.get(f.room);
        const looking = s.active === f.room && document.visibilityState === 'visible';
        if (room && !looking) {
          room.mentions = (room.mentions || 0) + 1;
          s.changed('rooms');
        }
        if (document.visibilityState !== 'visible') this.notify(f);
        break;
      }
      case 'subscribed': {
        const room = s.rooms.get(f.room);
        if (room && f.last_seq > (room.last_seq || 0)) room.last_seq = f.last_seq;
        // From here on the live stream follows: resume after this point.
        if (f.recovered || !s.seen.has(f.room)) s.saw(f.room, f.last_seq);
        for (const u of f.online || []) s.online.add(u.id);
        if (!f.recovered) this.fillGap(f.room);
        s.changed('rooms');
        s.changed('presence');
        break;
      }
      case 'ack': {
        const p = s.pending.get(f.ref);
        if (p) {
          s.pending.delete(f.ref);
          // Shown at once; the room's own frame (with mentions) replaces it.
          s.addMessages(f.room, [{ id: f.id, room: f.room, seq: f.seq, sender: s.user, body: p.body, ts: f.ts, ref: f.ref,
            reply_to: p.replyTo || null, edited_at: null, deleted: false, reactions: [], mentions: [], local: true }]);
        }
        this.requests.delete(f.ref);
        s.changed({ room: f.room, kind: 'message' });
        break;
      }
      case 'error': {
        const p = f.ref && s.pending.get(f.ref);
        const req = f.ref && this.requests.get(f.ref);
        if (p) {
          p.status = 'failed';
          p.error = f.message;
          // Only a failure that may pass is worth a retry.
          p.final = !['unavailable', 'rate_limited', 'internal'].includes(f.code);
          s.changed({ room: p.room, kind: 'pending' });
        } else if (req) {
          this.requests.delete(f.ref);
          s.notice = `Could not ${req}: ${f.message}`;
          s.changed('notice');
        } else if (f.room && !f.ref) {
          // Removed from the room (or left it elsewhere).
          const room = s.rooms.get(f.room);
          if (s.active === f.room) s.active = null;
          this.subscribed.delete(f.room);
          s.notice = room ? `You no longer have access to ${s.displayName(room)}.` : f.message;
          this.refreshRooms().catch(() => {});
          s.changed('active');
          s.changed('notice');
        } else {
          s.notice = f.message;
          s.changed('notice');
        }
        break;
      }
      case 'typing': {
        if (f.user.id === s.user.id) break;
        if (!s.typing.has(f.room)) s.typing.set(f.room, new Map());
        s.typing.get(f.room).set(f.user.id, { name: f.user.username, until: Date.now() + TYPING_SHOWN });
        s.changed('typing');
        break;
      }
      case 'read': {
        const room = s.rooms.get(f.room);
        if (room && f.user.id === s.user.id && f.seq >= (room.last_seq || 0)) {
          room.unread = 0; // read in another tab or device
          room.mentions = 0;
          s.changed('rooms');
        }
        break;
      }
      case 'room_added': {
        // Someone started a direct message with me or added me to a room.
        this.refreshRooms().then(() => this.subscribe(f.room)).catch(() => {});
        break;
      }
      case 'presence': {
        if (f.online) s.online.add(f.user.id); else s.online.delete(f.user.id);
        s.changed('presence');
        break;
      }
      default:
    }
  }

  expireTyping() {
    const now = Date.now();
    let any = false;
    for (const m of this.state.typing.values()) {
      for (const [id, t] of m) if (t.until < now) { m.delete(id); any = true; }
    }
    if (any) this.state.changed('typing');
  }

  // fillGap loads what the replay could not carry, for loaded rooms; other
  // rooms just refresh their unread counts.
  async fillGap(id) {
    const m = this.state.roomMsgs(id);
    if (!m.loaded) {
      try { this.state.setRooms((await this.api.rooms()).rooms); } catch { /* next resume */ }
      return;
    }
    let after = m.list.length ? m.list[m.list.length - 1].seq : 0;
    for (;;) {
      const page = await this.api.history(id, { after_seq: after, limit: 200 });
      this.state.addMessages(id, page.messages);
      if (!page.has_more || page.messages.length === 0) break;
      after = page.messages[page.messages.length - 1].seq;
    }
    this.state.changed({ room: id, kind: 'message' });
  }

  async loadLatest(id) {
    const m = this.state.roomMsgs(id);
    const page = await this.api.history(id, { limit: PAGE });
    this.state.addMessages(id, page.messages);
    m.loaded = true;
    m.hasMore = page.has_more;
    this.state.changed({ room: id, kind: 'message' });
  }

  async loadOlder(id) {
    const m = this.state.roomMsgs(id);
    if (m.loadingOlder || !m.hasMore || !m.list.length) return;
    m.loadingOlder = true;
    try {
      const page = await this.api.history(id, { before_seq: m.list[0].seq, limit: PAGE });
      this.state.addMessages(id, page.messages);
      m.hasMore = page.has_more;
      this.state.changed({ room: id, kind: 'older' });
    } finally {
      m.loadingOlder = false;
    }
  }

  async open(id) {
    this.state.active = id;
    const room = this.state.rooms.get(id);
    if (room) { room.unread = 0; room.mentions = 0; }
    this.state.changed('active');
    this.state.changed('rooms');
    if (!this.state.roomMsgs(id).loaded) await this.loadLatest(id);
    this.markRead(id);
  }

  markRead(id) {
    const seq = this.state.lastSeq(id);
    if (seq > 0) this.socket.send({ type: 'read', room: id, seq });
  }

  send(roomId, body) {
    const text = body.trim();
    if (!text) return;
    const reply = this.state.replyTo && this.state.replyTo.room === roomId ? this.state.replyTo.id : null;
    const p = { ref: newRef(), room: roomId, body: text, replyTo: reply, status: 'pending' };
    this.state.pending.set(p.ref, p);
    this.socket.send(sendFrame(p));
    if (reply) this.setReply(null);
    this.askToNotify();
    this.state.changed({ room: roomId, kind: 'pending' });
  }

  // request sends an edit, delete or react; an error shows as a notice.
  request(what, frame) {
    const ref = newRef();
    if (!this.socket.send({ ...frame, ref })) {
      this.state.notice = `Could not ${what}: not connected; try again in a moment.`;
      this.state.changed('notice');
      return;
    }
    this.requests.set(ref, what);
  }

  edit(roomId, id, body) {
    const text = body.trim();
    if (text) this.request('edit the message', { type: 'edit', room: roomId, id, body: text });
  }

  remove(roomId, id) { this.request('delete the message', { type: 'delete', room: roomId, id }); }

  react(roomId, id, emoji, on) { this.request('react', { type: 'react', room: roomId, id, emoji, on }); }

  /** Toggles my reaction emoji on a message. */
  toggleReaction(roomId, msg, emoji) {
    const r = (msg.reactions || []).find((x) => x.emoji === emoji);
    this.react(roomId, msg.id, emoji, !(r && r.mine));
  }

  setReply(target) {
    this.state.replyTo = target;
    this.state.changed('reply');
  }

  /** Loads older pages of the room until message id (or seq) is loaded;
   *  false when it is not in the room's history. */
  async reveal(roomId, { id, seq }) {
    const m = this.state.roomMsgs(roomId);
    if (!m.loaded) await this.loadLatest(roomId);
    const has = () => (id ? m.byId.has(id) : m.bySeq.has(seq));
    for (let i = 0; i < 25 && !has() && m.hasMore && m.list.length; i++) {
      if (seq && m.list[0].seq < seq) break;
      const page = await this.api.history(roomId, { before_seq: m.list[0].seq, limit: 200 });
      this.state.addMessages(roomId, page.messages);
      m.hasMore = page.has_more;
      this.state.changed({ room: roomId, kind: 'older' });
    }
    return has();
  }

  /** Opens a room at one of its messages (a search result). */
  async openAt(roomId, seq) {
    await this.open(roomId);
    if (await this.reveal(roomId, { seq })) this.state.changed({ room: roomId, kind: 'focus', seq });
  }

  search(q, room) { return this.api.search(q, room); }

  members(roomId) { return this.api.members(roomId); }

  async removeMember(roomId, userId) {
    await this.api.removeMember(roomId, userId);
    await this.refreshRooms();
  }

  async loadBlocks() {
    try {
      const { users } = await this.api.blocks();
      this.state.blocked = new Set(users.map((u) => u.id));
      this.state.changed('rooms');
    } catch { /* next resume */ }
  }

  async block(user) {
    await this.api.block(user.username);
    this.state.blocked.add(user.id);
    this.state.changed('rooms');
  }

  async unblock(user) {
    await this.api.unblock(user.id);
    this.state.blocked.delete(user.id);
    this.state.changed('rooms');
  }

  // askToNotify asks once, on a user's gesture, to show mention
  // notifications while the tab is hidden.
  askToNotify() {
    if (this.asked || typeof Notification === 'undefined' || Notification.permission !== 'default') return;
    this.asked = true;
    Notification.requestPermission().catch(() => {});
  }

  notify(f) {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const room = this.state.rooms.get(f.room);
    const n = new Notification(`${f.sender.username} mentioned you`, {
      body: room ? `in ${this.state.displayName(room)}` : '', tag: `mention-${f.room}`,
    });
    n.onclick = () => { window.focus(); this.openAt(f.room, f.seq); n.close(); };
  }

  /** Forgets a message that can never be sent. */
  dismiss(ref) {
    const p = this.state.pending.get(ref);
    if (!p) return;
    this.state.pending.delete(ref);
    this.state.changed({ room: p.room, kind: 'pending' });
  }

  // retry resends a failed message with its original ref: if the first try
  // did reach the server, the answer is the original ack, not a duplicate.
  retry(ref) {
    const p = this.state.pending.get(ref);
    if (!p) return;
    p.status = 'pending';
    p.error = '';
    this.socket.send(sendFrame(p));
    this.state.changed({ room: p.room, kind: 'pending' });
  }

  typing(roomId) {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY) return;
    this.lastTyping = now;
    this.socket.send({ type: 'typing', room: roomId });
  }

  async refreshRooms() {
    this.state.setRooms((await this.api.rooms()).rooms);
  }

  async addRoom(room) {
    await this.refreshRooms();
    this.subscribe(room.id);
    await this.open(room.id);
  }

  async createRoom(name, visibility) { await this.addRoom((await this.api.createRoom(name, visibility)).room); }
  async join(id) { await this.addRoom((await this.api.join(id)).room); }
  async dm(username) { await this.addRoom((await this.api.dm(username)).room); }

  async addMember(id, username) {
    await this.api.addMember(id, username);
    await this.refreshRooms();
  }

  async leave(id) {
    await this.api.leave(id);
    this.socket.send({ type: 'unsubscribe', room: id });
    this.subscribed.delete(id);
    if (this.state.active === id) this.state.active = null;
    await this.refreshRooms();
    this.state.changed('active');
  }

  async logout() {
    try { await this.api.logout(); } catch { /* the token goes anyway */ }
    this.onLogout();
  }
}
