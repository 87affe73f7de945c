// Client state: rooms, the messages loaded per room, sends in flight,
// presence and typing. Views listen for 'change' events.

export class State extends EventTarget {
  constructor(user) {
    super();
    this.user = user;
    this.rooms = new Map();   // id -> Room from the API, kept current
    this.msgs = new Map();    // room id -> { list, bySeq, byId, loaded, hasMore }
    this.pending = new Map(); // ref -> { ref, room, body, replyTo, status, error }
    this.online = new Set();  // user ids
    this.typing = new Map();  // room id -> Map(user id -> { name, until })
    this.seen = new Map();    // room id -> highest seq this client received
    this.blocked = new Set(); // ids of the users I block
    this.replyTo = null;      // { room, id } the composer answers
    this.active = null;
    this.conn = { state: 'connecting', server: '' };
  }

  changed(what) { this.dispatchEvent(new CustomEvent('change', { detail: what })); }

  setRooms(rooms) {
    const next = new Map();
    for (const r of rooms) next.set(r.id, { ...this.rooms.get(r.id), ...r });
    this.rooms = next;
    this.changed('rooms');
  }

  roomMsgs(id) {
    let m = this.msgs.get(id);
    if (!m) {
      m = { list: [], bySeq: new Map(), byId: new Map(), loaded: false, hasMore: true };
      this.msgs.set(id, m);
    }
    return m;
  }

  /** Adds messages (any order, duplicates ignored); returns how many were new. */
  addMessages(roomId, messages) {
    const m = this.roomMsgs(roomId);
    let added = 0;
    for (const msg of messages) {
      const had = m.bySeq.get(msg.seq);
      if (had && had.local && !msg.local) {
        // The server's copy of a message shown from its ack.
        m.bySeq.set(msg.seq, msg);
        m.byId.set(msg.id, msg);
        added++;
        continue;
      }
      if (had) continue;
      m.bySeq.set(msg.seq, msg);
      m.byId.set(msg.id, msg);
      added++;
    }
    if (added) {
      m.list = [...m.bySeq.values()].sort((a, b) => a.seq - b.seq);
      const room = this.rooms.get(roomId);
      const last = m.list[m.list.length - 1].seq;
      if (room && last > (room.last_seq || 0)) room.last_seq = last;
      this.saw(roomId, last);
    }
    return added;
  }

  /** Applies an edit, delete or reaction frame to the message it names, by
   *  the server's rules: an older edit never overwrites a newer one, a
   *  deletion is final, a reaction event decides its (user, emoji). A
   *  message not loaded yet will come from history in its current state. */
  applyEvent(f) {
    this.saw(f.room, f.seq);
    const msg = this.roomMsgs(f.room).byId.get(f.id);
    if (!msg || msg.deleted) return false;
    switch (f.type) {
      case 'edit':
        if (f.seq <= (msg.editSeq || 0)) return false;
        msg.body = f.body;
        msg.edited_at = f.edited_at;
        msg.editSeq = f.seq;
        return true;
      case 'delete':
        msg.deleted = true;
        msg.body = '';
        msg.reactions = [];
        return true;
      case 'reaction': {
        const users = reactors(msg);
        if (!users.has(f.emoji)) users.set(f.emoji, new Set());
        const set = users.get(f.emoji);
        if (f.on === set.has(f.user.id)) return false; // changes nothing visible
        if (f.on) set.add(f.user.id); else set.delete(f.user.id);
        msg.reactions = tally(msg, this.user.id);
        return true;
      }
      default:
        return false;
    }
  }

  saw(roomId, seq) {
    if (seq > (this.seen.get(roomId) || 0)) this.seen.set(roomId, seq);
  }

  /** Where to resume a room: the newest seq this client received, or, for
   *  a room it never followed, the room's last seq (older messages count
   *  as unread on the server and load on demand). */
  resumeSeq(roomId) {
    if (this.seen.has(roomId)) return this.seen.get(roomId);
    const room = this.rooms.get(roomId);
    return room ? room.last_seq || 0 : 0;
  }

  /** The newest message this client has, for read markers. */
  lastSeq(roomId) {
    return this.seen.get(roomId) || 0;
  }

  otherMember(room) {
    return (room.members || []).find((u) => u.id !== this.user.id) || null;
  }

  displayName(room) {
    if (room.visibility === 'direct') {
      const other = this.otherMember(room);
      return other ? other.username : room.name;
    }
    return room.name;
  }

  /** Whether msg mentions me. */
  mentionsMe(msg) {
    return (msg.mentions || []).some((u) => u.id === this.user.id) && msg.sender.id !== this.user.id;
  }

  isOwner(roomId) {
    const room = this.rooms.get(roomId);
    return !!(room && room.owner && room.owner.id === this.user.id);
  }
}

// reactors is a message's emoji -> Set(user ids), built from history's
// reactions (their users lists) the first time a live event touches it.
function reactors(msg) {
  if (!msg.reactors) {
    msg.reactors = new Map();
    msg.order = [];
    for (const r of msg.reactions || []) {
      msg.reactors.set(r.emoji, new Set(r.users || []));
      msg.order.push(r.emoji);
      msg.counts = msg.counts || new Map();
      // Counts past the users list (a capped list) stay as the server said.
      msg.counts.set(r.emoji, Math.max(0, r.count - (r.users || []).length));
    }
  }
  return msg.reactors;
}

// tally turns reactors into the contract's reactions, in order of first use.
function tally(msg, me) {
  for (const emoji of msg.reactors.keys()) if (!msg.order.includes(emoji)) msg.order.push(emoji);
  const out = [];
  for (const emoji of msg.order) {
    const set = msg.reactors.get(emoji);
    const count = set.size + ((msg.counts && msg.counts.get(emoji)) || 0);
    if (count > 0) out.push({ emoji, count, mine: set.has(me), users: [...set] });
  }
  return out;
}
