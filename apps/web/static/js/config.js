// Which chat servers exist, and which one this tab prefers.

/** Loads /config.json and orders the servers: ?server=N (1-based) first,
 *  else the one this tab used before, else a random one. The rest follow,
 *  as fallbacks when the preferred server is unreachable. */
export async function loadServers() {
  const resp = await fetch('/config.json', { cache: 'no-store' });
  if (!resp.ok) throw new Error(`config: ${resp.status}`);
  const { servers } = await resp.json();
  if (!Array.isArray(servers) || servers.length === 0) throw new Error('config: no chat servers');
  const forced = Number(new URLSearchParams(location.search).get('server'));
  let first;
  if (forced >= 1 && forced <= servers.length) {
    first = forced - 1;
  } else {
    const saved = Number(sessionStorage.getItem('rookery.server'));
    first = Number.isInteger(saved) && saved >= 0 && saved < servers.length ? saved : Math.floor(Math.random() * servers.length);
  }
  sessionStorage.setItem('rookery.server', String(first));
  return servers.map((url, i) => ({ url: url.replace(/\/$/, ''), index: i }))
    .sort((a, b) => (a.index === first ? -1 : b.index === first ? 1 : 0));
}
