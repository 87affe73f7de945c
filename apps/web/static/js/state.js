// Client state: rooms, the messages loaded per room, sends in flight,
// presence and typing. Views listen for 'change' events.

export class State extends EventTarget {
  constructor(user) {
    super();
    this.user = user;
    this.rooms = new Map();   // id -> Room from the API, kept current
    this.msgs = new Map();    // room id -> { list, bySeq, loaded, hasMore }
    this.pending = new Map(); // ref -> { ref, room, body, status, error }
    this.online = new Set();  // user ids
    this.typing = new Map();  // room id -> Map(user id -> { name, until })
    this.seen = new Map();    // room id -> highest seq this client received
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
      m = { list: [], bySeq: new Map(), loaded: false, hasMore: true };
      this.msgs.set(id, m);
    }
    return m;
  }

  /** Adds messages (any order, duplicates ignored); returns how many were new. */
  addMessages(roomId, messages) {
    const m = this.roomMsgs(roomId);
    let added = 0;
    for (const msg of messages) {
      if (m.bySeq.has(msg.seq)) continue;
      m.bySeq.set(msg.seq, msg);
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
}
