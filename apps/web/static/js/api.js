// The HTTP half of the contract.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  async request(method, path, body) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(this.base + '/api/v1' + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'unavailable', 'Cannot reach the chat server.');
    }
    if (resp.status === 204) return null;
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = data.error || {};
      throw new ApiError(resp.status, err.code || 'internal', err.message || `HTTP ${resp.status}`);
    }
    return data;
  }

  signup(username, password) { return this.request('POST', '/auth/signup', { username, password }); }
  login(username, password) { return this.request('POST', '/auth/login', { username, password }); }
  logout() { return this.request('POST', '/auth/logout'); }
  me() { return this.request('GET', '/me'); }
  rooms() { return this.request('GET', '/rooms'); }
  publicRooms(q) { return this.request('GET', `/rooms/public?q=${encodeURIComponent(q || '')}`); }
  createRoom(name, visibility) { return this.request('POST', '/rooms', { name, visibility }); }
  join(id) { return this.request('POST', `/rooms/${encodeURIComponent(id)}/join`); }
  leave(id) { return this.request('POST', `/rooms/${encodeURIComponent(id)}/leave`); }
  addMember(id, username) { return this.request('POST', `/rooms/${encodeURIComponent(id)}/members`, { username }); }
  dm(username) { return this.request('POST', '/dm', { username }); }
  users(q) { return this.request('GET', `/users?q=${encodeURIComponent(q || '')}`); }
  members(id) { return this.request('GET', `/rooms/${encodeURIComponent(id)}/members`); }
  removeMember(id, userId) { return this.request('DELETE', `/rooms/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`); }
  blocks() { return this.request('GET', '/blocks'); }
  block(username) { return this.request('POST', '/blocks', { username }); }
  unblock(userId) { return this.request('DELETE', `/blocks/${encodeURIComponent(userId)}`); }
  search(q, room) {
    const p = new URLSearchParams({ q, limit: '50' });
    if (room) p.set('room', room);
    return this.request('GET', `/search?${p}`);
  }
  history(id, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) q.set(k, String(v));
    return this.request('GET', `/rooms/${encodeURIComponent(id)}/messages?${q}`);
  }
}
