// The WebSocket half of the contract: one connection at a time, hello
// first, reconnect with exponential backoff and jitter, and failover to the
// next server when one is unreachable or says goodbye.

const BACKOFF_MIN = 500;
const BACKOFF_MAX = 15000;

export class ChatSocket extends EventTarget {
  constructor(servers, token) {
    super();
    this.servers = servers;
    this.token = token;
    this.index = 0;
    this.attempt = 0;
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.base = servers[0].url;
    this.timer = null;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  start() { this.connect(); }

  connect() {
    const server = this.servers[this.index % this.servers.length];
    this.emit('status', { state: 'connecting', server: server.url });
    let ws;
    try {
      ws = new WebSocket(server.url.replace(/^http/, 'ws') + '/ws');
    } catch (e) {
      this.retry(true);
      return;
    }
    this.ws = ws;
    let welcomed = false;
    let moveOn = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token: this.token }));
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.type === 'welcome') {
        welcomed = true;
        this.ready = true;
        this.attempt = 0;
        this.base = server.url;
        this.emit('status', { state: 'connected', server: server.url, name: f.server });
        this.emit('open', f);
      } else if (f.type === 'goodbye') {
        moveOn = true; // this server is going away: reconnect elsewhere at once
      } else {
        this.emit('frame', f);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      if (this.stopped) return;
      if (ev.code === 4401) {
        this.emit('unauthorized', {});
        return;
      }
      this.emit('status', { state: 'reconnecting', server: server.url, code: ev.code });
      this.retry(!welcomed || moveOn, moveOn);
    };
  }

  // retry schedules the next connection; nextServer moves on to another
  // server (this one failed or is draining).
  retry(nextServer, soon = false) {
    if (nextServer) this.index++;
    const cap = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** this.attempt);
    const delay = soon ? Math.random() * 300 : cap / 2 + Math.random() * cap / 2;
    this.attempt = Math.min(this.attempt + 1, 10);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Sends a frame if connected; returns whether it was sent. */
  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }
}
